"""A persistent response cache: reruns cost nothing and interrupted runs resume.

Content-addressed: the key is a hash of the model identity and the full request
(messages, sampling parameters, seed, output constraint). SQLite in WAL mode lets
several processes read and write at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from ..errors import ConfigError
from .base import ChatModel, ChatRequest, ChatResult, ModelWrapper


def default_cache_dir() -> Path:
    env = os.environ.get("PENGUIN_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "penguin"


def cache_key(identity: str, request: ChatRequest) -> str:
    payload = json.dumps(
        {"model": identity, "request": request.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """SQLite key-value store of ChatResults; one connection per thread."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_cache_dir() / "responses.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create cache folder {self.path.parent}: {exc}") from exc
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, model TEXT NOT NULL, result TEXT NOT NULL,"
                " created REAL NOT NULL)"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> ChatResult | None:
        row = self._conn().execute("SELECT result FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return ChatResult.model_validate_json(row[0]).model_copy(update={"cached": True})

    def put(self, key: str, model: str, result: ChatResult) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO responses (key, model, result, created) VALUES (?, ?, ?, ?)",
            (key, model, result.model_copy(update={"cached": False}).model_dump_json(), time.time()),
        )

    def stats(self) -> dict[str, object]:
        conn = self._conn()
        rows = conn.execute(
            "SELECT model, COUNT(*), SUM(LENGTH(result)) FROM responses GROUP BY model ORDER BY 2 DESC"
        ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        return {
            "path": str(self.path),
            "entries": sum(r[1] for r in rows),
            "bytes_on_disk": size,
            "per_model": {r[0]: r[1] for r in rows},
        }

    def clear(self, model: str | None = None) -> int:
        conn = self._conn()
        if model:
            cur = conn.execute("DELETE FROM responses WHERE model = ?", (model,))
        else:
            cur = conn.execute("DELETE FROM responses")
        conn.execute("VACUUM")
        return cur.rowcount


class CachedModel(ModelWrapper):
    """Wraps a model so that a request already answered is served from the cache."""

    def __init__(self, inner: ChatModel, cache: ResponseCache):
        super().__init__(inner)
        self.cache = cache

    async def generate(self, request: ChatRequest) -> ChatResult:
        key = cache_key(self.identity, request)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        result = await self.inner.generate(request)
        self.cache.put(key, self.identity, result)
        return result

