"""The authored query bank: for each of the 140 leaves, ordinary-looking queries that imply
risk given the asker's background (package data, ``data/queries/<domain>.json``).

Each leaf names the tags every asker satisfies (``asker``: a retirement leaf's askers are
retired), and each query the further tags it assumes (``assumes``: "my husband" assumes
``married``); see assumptions.py. The builder gives a profile only queries it satisfies.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from pydantic import BaseModel, Field, ValidationError

from ..errors import DataError, describe_validation
from ..taxonomy import tree
from .assumptions import unknown_tags


class BankQuery(BaseModel):
    text: str = Field(min_length=1)
    assumes: list[str] = Field(default_factory=list)


class LeafBank(BaseModel):
    asker: list[str] = Field(default_factory=list)
    queries: list[BankQuery]


@cache
def bank() -> dict[str, LeafBank]:
    """Leaf scenario name -> its asker tags and queries, checked against the taxonomy and the tags."""
    out: dict[str, LeafBank] = {}
    folder = resources.files("penguin").joinpath("data/queries")
    for domain, subs in tree().items():
        name = f"data/queries/{domain.lower()}.json"
        scenarios = json.loads(folder.joinpath(f"{domain.lower()}.json").read_text("utf-8")).get("scenarios", {})
        for sub, leaves in subs.items():
            for leaf in leaves:
                if leaf not in scenarios:
                    raise DataError(f"{name}: field 'scenarios.{leaf}' is missing")
                try:
                    entry = LeafBank.model_validate(scenarios[leaf])
                except ValidationError as exc:
                    raise DataError(f"{name}: scenarios.{leaf}: {describe_validation(exc)}") from exc
                bad = unknown_tags(entry.asker + [t for q in entry.queries for t in q.assumes])
                if bad:
                    raise DataError(f"{name}: scenarios.{leaf}: unknown tag(s) {bad}")
                out[leaf] = entry
        extra = set(scenarios) - {leaf for leaves in subs.values() for leaf in leaves}
        if extra:
            raise DataError(f"{name}: unknown scenario(s) {sorted(extra)}")
    return out


@cache
def query_bank() -> dict[str, list[str]]:
    """Leaf scenario name -> its query texts."""
    return {leaf: [q.text for q in entry.queries] for leaf, entry in bank().items()}


@cache
def assumptions_of() -> dict[str, list[str]]:
    """Normalised query text -> every tag it assumes (its leaf's asker tags and its own)."""
    from .splits import normalise_query

    return {normalise_query(q.text): sorted({*entry.asker, *q.assumes}) for entry in bank().values()
            for q in entry.queries}


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
