"""Retrieving planned paths for a new query: all-MiniLM-L6-v2 embeddings, cosine top-k.

Embeddings come from ``embeddings.py`` (no network). The library's query embeddings are saved next
to it (``<library>.index.npz``) with the library's SHA-256, and rebuilt only when the
library changes.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset.splits import normalise_query
from ..errors import ConfigError
from ..planner.library import PathRecord, load_library
from .embeddings import EMBEDDING_MODEL, embed, embed_cached, embed_cached_async

@dataclass
class Example:
    """A planned query similar to the user's, with its best path and the similarity."""

    record: PathRecord
    similarity: float


def _score(r: PathRecord) -> float:
    return r.confirmed_reward if r.confirmed_reward is not None else (r.reward or 0.0)


def _best_per_query(records: list[PathRecord]) -> list[PathRecord]:
    """One path per distinct query (the best, by confirmed score where there is one; ties to
    the first scenario id), in a stable order: several profiles share a query, and the same
    query five times would fill the top-k with one example; file order depends on which
    search finished first."""
    best: dict[str, PathRecord] = {}
    for r in sorted((r for r in records if r.path), key=lambda r: r.scenario_id):
        key = normalise_query(r.query)
        if key not in best or _score(r) > _score(best[key]):
            best[key] = r
    return sorted(best.values(), key=lambda r: r.scenario_id)


class Retriever:
    """Top-k planned queries by cosine similarity (dot product of unit vectors)."""

    def __init__(self, library: Path):
        self.library_path = library
        self.records = _best_per_query(load_library(library))
        if not self.records:
            raise ConfigError(f"{library}: the path library has no planned paths")
        self.index_path = library.with_name(library.name + ".index.npz")
        self.matrix = self._load_or_build()

    def _digest(self) -> str:
        return hashlib.sha256(self.library_path.read_bytes()).hexdigest()

    def _load_or_build(self) -> np.ndarray:
        digest = self._digest()
        try:
            with np.load(self.index_path) as saved:
                if str(saved["sha256"]) == digest and saved["vectors"].shape[0] == len(self.records):
                    return saved["vectors"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # missing or unreadable: rebuild it
            pass
        vectors = embed([r.query for r in self.records])
        tmp = self.index_path.with_name(f"{self.index_path.name}.{os.getpid()}.tmp.npz")  # processes may race
        np.savez(tmp, vectors=vectors, sha256=np.array(digest), model=np.array(EMBEDDING_MODEL))
        tmp.replace(self.index_path)
        return vectors

    def _top(self, vector: np.ndarray, k: int) -> list[Example]:
        scores = self.matrix @ vector
        top = np.argsort(-scores, kind="stable")[:k]
        return [Example(self.records[i], float(scores[i])) for i in top]

    def search(self, query: str, k: int = 5) -> list[Example]:
        return self._top(embed_cached([query])[0], k)

    async def asearch(self, query: str, k: int = 5) -> list[Example]:
        """``search`` off the event loop; the query's embedding is the router's, from the cache."""
        return self._top((await embed_cached_async([query]))[0], k)
