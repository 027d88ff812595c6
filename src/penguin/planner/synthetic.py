"""A synthetic planning problem with a known optimum, for tests and benchmarks.

Reward(S) for |S| = k: a base score, the sum of per-attribute weights, a bonus when S is the
designed optimum (so interactions matter), and fixed per-set noise. The prior ranks the
attributes by their weight plus noise: informative, but imperfect; ``rank_prior`` turns that
ranking into a prior (its temperature and floor are fields, for the benchmark's prior study).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..schema import ATTRIBUTES, Attribute
from .mcts import PRIOR_FLOOR, PRIOR_TEMPERATURE, Subset, rank_prior


@dataclass
class SyntheticProblem:
    seed: int = 0
    k: int = 3
    noise: float = 0.05
    prior_noise: float = 0.15
    prior_temperature: float = PRIOR_TEMPERATURE
    prior_floor: float = PRIOR_FLOOR

    def __post_init__(self) -> None:
        rng = random.Random(f"problem:{self.seed}")
        attrs = list(ATTRIBUTES)
        rng.shuffle(attrs)
        self.optimum: Subset = frozenset(attrs[: self.k])
        # the optimum's members are individually good, but not always the k best
        self.weights = {a: rng.uniform(0.25, 0.45) if a in self.optimum else rng.uniform(0.0, 0.4) for a in attrs}
        self._noise = random.Random(f"noise:{self.seed}")
        self._noise_of: dict[Subset, float] = {}
        self.evaluations: list[Subset] = []

    def value(self, s: Subset) -> float:
        bonus = 0.6 if s == self.optimum else 0.0
        return 2.0 + sum(self.weights[a] for a in s) + bonus

    async def reward(self, s: Subset) -> float:
        self.evaluations.append(s)
        if s not in self._noise_of:
            self._noise_of[s] = self._noise.gauss(0, self.noise)
        return self.value(s) + self._noise_of[s]

    async def prior(self, state: Subset) -> dict[Attribute, float]:
        rng = random.Random(f"prior:{self.seed}:{sorted(a.key for a in state)}")
        remaining = [a for a in ATTRIBUTES if a not in state]
        noisy = {a: self.weights[a] + rng.gauss(0, self.prior_noise) for a in remaining}
        ranking = sorted(remaining, key=lambda a: -noisy[a])
        return rank_prior(ranking, remaining, temperature=self.prior_temperature, floor=self.prior_floor)
