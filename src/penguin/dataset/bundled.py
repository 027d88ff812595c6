"""The bundled synthetic half of PENGUIN: 7 domains x 1,000 = 7,000 scenarios.

Built deterministically from the query bank and the profile sampler: 5 profiles per leaf, each
drawn to satisfy the leaf's asker tags and given 10 of the leaf's queries, only ones whose own
assumptions it satisfies (so a single man never asks about "my husband"). ``penguin data build``
regenerates the shipped file and a test checks the shipped copy equals a fresh build.
"""

from __future__ import annotations

import random
from typing import Iterator

from ..schema import Scenario
from ..taxonomy import leaves, tree
from .assumptions import unmet
from .query_bank import bank
from .sampler import sample_profile, violations

PROFILES_PER_LEAF = 5
QUERIES_PER_PROFILE = 10
SEED = 20250524  # the paper's arXiv date; any fixed value works


def build_synthetic_set(seed: int = SEED) -> Iterator[Scenario]:
    entries = bank()
    domain_codes = {d: d[:3].lower() for d in tree()}
    for leaf_no, leaf in enumerate(leaves()):
        rng = random.Random(f"{seed}:{leaf.scenario}")
        entry = entries[leaf.scenario]
        queries = [q.text for q in entry.queries]
        drawn: list = []
        for p in range(PROFILES_PER_LEAF):
            for _ in range(200):
                profile = sample_profile(leaf, rng, entry.asker)
                fitting = [i for i, q in enumerate(entry.queries) if not unmet(profile, q.assumes)]
                if len(fitting) >= QUERIES_PER_PROFILE and profile not in drawn:  # five different people
                    break
            else:
                raise ValueError(f"no profile of '{leaf.scenario}' fits {QUERIES_PER_PROFILE} of its queries")
            assert not violations(profile, leaf), (leaf, profile)
            drawn.append(profile)
            picked = sorted(rng.sample(fitting, QUERIES_PER_PROFILE))
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
