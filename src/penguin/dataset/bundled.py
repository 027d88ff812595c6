"""The bundled synthetic half of PENGUIN: 7 domains x 1,000 = 7,000 scenarios.

Built deterministically from the query bank and the profile sampler: 5 profiles per leaf,
each asking 10 of that leaf's queries. ``penguin data build`` regenerates the shipped file
and a test checks the shipped copy equals a fresh build.
"""

from __future__ import annotations

import random
from typing import Iterator

from ..schema import Scenario
from ..taxonomy import leaves, tree
from .query_bank import query_bank
from .sampler import sample_profile, violations

PROFILES_PER_LEAF = 5
QUERIES_PER_PROFILE = 10
SEED = 20250524  # the paper's arXiv date; any fixed value works


def build_synthetic_set(seed: int = SEED) -> Iterator[Scenario]:
    bank = query_bank()
    domain_codes = {d: d[:3].lower() for d in tree()}
    for leaf_no, leaf in enumerate(leaves()):
        rng = random.Random(f"{seed}:{leaf.scenario}")
        queries = bank[leaf.scenario]
        for p in range(PROFILES_PER_LEAF):
            profile = sample_profile(leaf, rng)
            assert not violations(profile, leaf), (leaf, profile)
            picked = sorted(rng.sample(range(len(queries)), QUERIES_PER_PROFILE))
            for q in picked:
                yield Scenario(
                    id=f"syn-{domain_codes[leaf.domain]}-{leaf_no % 20:02d}-p{p}-q{q:02d}",
                    domain=leaf.domain,
                    subcategory=leaf.subcategory,
                    scenario=leaf.scenario,
                    source="synthetic",
                    profile=profile,
                    query=queries[q],
                )
