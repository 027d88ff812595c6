"""A synthetic planning problem with a known answer, for tests and benchmarks.

Safety(S) is defined for every set, prefixes included: a base score, plus a weight per attribute
(the designed optimum's members weigh most, in a known order), plus a bonus once the whole
optimum is acquired (an interaction), plus fixed per-set noise. One *decoy* attribute looks good
alone (its weight sits between the optimum's best and second-best) but only substitutes for the
best one: it adds nothing once that one is known, the trap of "correlated, hence useless". The
ranking the prior comes from orders attributes by weight plus noise: informative, imperfect.

So a problem knows its optimal set, the best single attribute (the optimum's first), and the
order of the optimum that maximises the area under the prefix-safety curve.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from ..schema import ATTRIBUTES, Attribute
from .mcts import Subset

BASE, BONUS = 1.5, 0.4


@dataclass
class SyntheticProblem:
    seed: int = 0
    k: int = 3
    noise: float = 0.05
    prior_noise: float = 0.15

    def __post_init__(self) -> None:
        rng = random.Random(f"problem:{self.seed}")
        attrs = list(ATTRIBUTES)
        rng.shuffle(attrs)
        self.order: list[Attribute] = attrs[: self.k]
        """The optimum in its best order (decreasing weight)."""
        self.optimum: Subset = frozenset(self.order)
        best = [rng.uniform(0.5, 0.6)]
        for _ in range(self.k - 1):  # a clear order: each member 0.12-0.2 below the one before
            best.append(max(best[-1] - rng.uniform(0.12, 0.2), 0.22))
        self.weights = {a: w for a, w in zip(self.order, best)}
        for a in attrs[self.k:]:
            self.weights[a] = rng.uniform(0.0, 0.15)
        self.decoy: Attribute | None = attrs[self.k] if self.k < len(attrs) else None
        if self.decoy is not None:  # good alone, useless beside the optimum's best
            second = best[1] if self.k > 1 else best[0] * 0.8
            self.weights[self.decoy] = (best[0] + second) / 2
        self._noise = random.Random(f"noise:{self.seed}")
        self._noise_of: dict[Subset, float] = {}
        self.evaluations: list[Subset] = []
        self.rankings = 0

    @property
    def best_single(self) -> Attribute:
        return max(ATTRIBUTES, key=lambda a: self.value(frozenset({a})))

    def value(self, s: Subset) -> float:
        """The noise-free safety of a set."""
        total = BASE + sum(w for a, w in self.weights.items() if a in s and a != self.decoy)
        if self.decoy in s and self.order[0] not in s:
            total += self.weights[self.decoy]  # type: ignore[index]
        if self.optimum <= s:
            total += BONUS
        return min(total, 5.0)

    def area(self, path: list[Attribute]) -> float:
        """Sum of the noise-free safety of each prefix (depth 1..k): the anytime objective."""
        return sum(self.value(frozenset(path[: i + 1])) for i in range(len(path)))

    def optimal_area(self) -> float:
        return max(self.area(list(p)) for p in itertools.permutations(self.order))

    async def reward(self, s: Subset) -> float:
        self.evaluations.append(s)
        if s not in self._noise_of:
            self._noise_of[s] = self._noise.gauss(0, self.noise)
        return self.value(s) + self._noise_of[s]

    async def rank(self, state: Subset) -> list[Attribute]:
        """The remaining attributes by weight plus noise (seeded per state)."""
        self.rankings += 1
        rng = random.Random(f"prior:{self.seed}:{sorted(a.key for a in state)}")
        remaining = [a for a in ATTRIBUTES if a not in state]
        noisy = {a: self.weights[a] + rng.gauss(0, self.prior_noise) for a in remaining}
        return sorted(remaining, key=lambda a: -noisy[a])
