"""The authored query bank: for each of the 140 leaves, ordinary-looking queries that imply
risk given the asker's background (package data, ``data/queries/<domain>.json``)."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from ..errors import DataError
from ..taxonomy import tree


@cache
def query_bank() -> dict[str, list[str]]:
    """Leaf scenario name -> its queries, checked against the taxonomy."""
    bank: dict[str, list[str]] = {}
    folder = resources.files("penguin").joinpath("data/queries")
    for domain, subs in tree().items():
        name = f"{domain.lower()}.json"
        data = json.loads(folder.joinpath(name).read_text("utf-8"))
        scenarios = data.get("scenarios", {})
        for sub, leaves in subs.items():
            for leaf in leaves:
                if leaf not in scenarios:
                    raise DataError(f"data/queries/{name}: field 'scenarios.{leaf}' is missing")
                bank[leaf] = list(scenarios[leaf])
        extra = set(scenarios) - {leaf for leaves in subs.values() for leaf in leaves}
        if extra:
            raise DataError(f"data/queries/{name}: unknown scenario(s) {sorted(extra)}")
    return bank


def word_shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicates(queries: list[str], threshold: float = 0.6) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity) whose word-trigram Jaccard similarity reaches ``threshold``."""
    shingles = [word_shingles(q) for q in queries]
    pairs = []
    for i in range(len(queries)):
        for j in range(i + 1, len(queries)):
            sim = jaccard(shingles[i], shingles[j])
            if sim >= threshold:
                pairs.append((i, j, sim))
    return pairs


def is_near_duplicate(query: str, pool: list[str], threshold: float = 0.6) -> bool:
    """True when ``query`` repeats (exactly, case-insensitively, or nearly) one in ``pool``."""
    low = query.strip().lower()
    shingles = word_shingles(query)
    return any(low == other.strip().lower() or jaccard(shingles, word_shingles(other)) >= threshold for other in pool)
