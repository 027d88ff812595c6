"""Query-level splits for RAISE: plan (offline MCTS), dev (calibration), online (evaluation).

The split is a hash of the normalised query text, so every scenario that shares a query
lands in the same split: the online split never contains a query the planner has seen,
whatever the profile. Roughly 60% plan, 10% dev, 30% online.
"""

from __future__ import annotations

import hashlib
import re

SPLITS: dict[str, range] = {"plan": range(0, 6), "dev": range(6, 7), "online": range(7, 10)}


def normalise_query(query: str) -> str:
    return re.sub(r"\s+", " ", query.strip().lower())


def split_of(query: str) -> str:
    bucket = int(hashlib.sha256(normalise_query(query).encode()).hexdigest(), 16) % 10
    return next(name for name, buckets in SPLITS.items() if bucket in buckets)
