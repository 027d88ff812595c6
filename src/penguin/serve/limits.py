"""Who may call the proxy, how often, and how much: API keys, a token bucket per key, body size.

Keys come from ``PENGUIN_API_KEYS`` (comma-separated) and/or a file (one per line, ``#``
comments). A refused request learns nothing about why a key is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from ..errors import ConfigError

KEYS_ENV = "PENGUIN_API_KEYS"


class Limits(BaseModel):
    max_body_bytes: int = Field(256_000, ge=1_000)
    max_messages: int = Field(64, ge=1)
    rate_per_minute: float = Field(60.0, gt=0)
    """Requests per minute per key (per client address without keys), refilled continuously."""
    burst: int = Field(20, ge=1)
    """Requests a key may make at once after a quiet spell."""


def load_keys(key_file: Path | None = None, environ: dict[str, str] | None = None) -> frozenset[str]:
    env = (os.environ if environ is None else environ).get(KEYS_ENV, "")
    keys = {k.strip() for k in env.split(",") if k.strip()}
    if key_file is not None:
        try:
            lines = key_file.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the API key file {key_file}: {exc.strerror}") from exc
        keys |= {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
    short = [k for k in keys if len(k) < 16]
    if short:
        raise ConfigError(f"{len(short)} API key(s) shorter than 16 characters; use long random keys "
                          "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return frozenset(keys)


class KeyCheck:
    """Bearer-token check in constant time per key; returns a bucket name, never the key itself."""

    def __init__(self, keys: frozenset[str]):
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def identify(self, authorization: str | None) -> str | None:
        """The caller's bucket ("key:<hash prefix>") or None when the header is missing or wrong."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hashlib.sha256(token.strip().encode()).digest()
        ok = False
        for known in self._digests:  # compare with every key: timing says nothing about which matched
            ok |= hmac.compare_digest(digest, known)
        return f"key:{digest.hex()[:12]}" if ok else None


class RateLimiter:
    """A token bucket per caller; ``take`` returns 0 when allowed, else seconds until a token is back."""

    def __init__(self, per_minute: float, burst: int, max_callers: int = 10_000):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_callers = max_callers
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, caller: str) -> float:
        now = time.monotonic()
        tokens, then = self._buckets.get(caller, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) >= self.max_callers and caller not in self._buckets:
            self._forget_full(now)
        self._buckets[caller] = (tokens - 1.0, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop callers whose bucket has refilled (they lose nothing): bounds memory without keys."""
        full = [c for c, (t, then) in self._buckets.items() if t + (now - then) * self.rate >= self.burst]
        for c in full:
            del self._buckets[c]
