"""LLM-guided Monte-Carlo tree search over attribute sets (SPEC section 7), and its baselines.

A state is the *set* U of acquired attributes; an action adds one attribute not in U. The
reward of a leaf (|U| = k) is Safety(q, U): the judge's score of a response generated with
the profile values in U. Because the reward depends only on the set, states form a DAG and
every statistic is kept per set (a transposition table): a set reached by two orders shares
its visits, and no set's reward is ever computed twice.

Each iteration walks from the root with PUCT,
    a = argmax_a  Q(U+a) + c * pi0(a|U) * sqrt(sum_b N(U+b)) / (1 + N(U+a)),
until it reaches a set never visited, then rolls out epsilon-greedily on pi0 with
eps(d) = eps0 / (1 + exp(d - k/2)) down to depth k, scores the leaf and backs the reward up
the path. Iterations run in batches whose leaves are scored concurrently; a virtual loss on
the selected path steers the rest of the batch elsewhere. The answer is the best-judged leaf,
ordered by Q (or, as in the paper, the greedy highest-Q path: see ``SearchConfig.extract``).
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Literal

from ..schema import ATTRIBUTES, Attribute

Subset = frozenset[Attribute]
RewardFn = Callable[[Subset], Awaitable[float | None]]
PriorFn = Callable[[Subset], Awaitable[dict[Attribute, float]]]


@dataclass
class SearchConfig:
    """Paper defaults: T = 300 iterations, depth k = 5, c = 1, eps0 = 0.2."""

    iterations: int = 300
    depth: int = 5
    c: float = 1.0
    eps0: float = 0.2
    batch: int = 4
    seed: int = 0
    guided: bool = True  # False: vanilla UCT (uniform prior, UCB1 exploration)
    reward_range: tuple[float, float] = (1.0, 5.0)
    """Rewards are mapped to [0, 1] inside the search so that c means the same for any scale."""
    extract: Literal["best_leaf", "q"] = "best_leaf"
    """How the answer is read off the tree. "q": the paper's greedy highest-Q child from the root.
    "best_leaf": the best-scored leaf actually judged (ties broken by the Q of its prefixes),
    its attributes ordered by Q. Q averages a subtree's rewards, so with a noisy reward the
    greedy path can miss the best leaf the search has already judged; a set's reward is
    cached, so a judged leaf is never re-scored and its score is the best evidence we have."""


@dataclass
class SearchResult:
    path: list[Attribute]
    q_values: list[float]
    reward: float | None
    reward_evaluations: int
    prior_calls: int
    unscorable: int = 0
    """Distinct sets the reward function could not score (e.g. every judge failed)."""
    best_seen: tuple[Subset, float] | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    """(reward evaluations so far, best reward seen so far) after each new evaluation."""


def epsilon(depth: int, k: int, eps0: float) -> float:
    return eps0 / (1 + math.exp(depth - k / 2))


class MCTS:
    def __init__(self, reward: RewardFn, prior: PriorFn | None, config: SearchConfig):
        if not 1 <= config.depth <= len(ATTRIBUTES):
            raise ValueError(f"depth must be between 1 and {len(ATTRIBUTES)}")
        if config.extract not in ("best_leaf", "q"):  # fail before spending any judge calls
            raise ValueError(f"unknown extraction rule {config.extract!r}")
        self.reward_fn = reward
        self.prior_fn = prior if config.guided else None
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.N: dict[Subset, float] = {}
        self.W: dict[Subset, float] = {}
        self.priors: dict[Subset, dict[Attribute, float]] = {}
        self.rewards: dict[Subset, float | None] = {}  # the transposition table
        self._pending: dict[Subset, asyncio.Future[float | None]] = {}
        self.prior_calls = 0
        self.history: list[tuple[int, float]] = []
        self._best: tuple[Subset, float] | None = None

    # ------------------------------------------------------------------ pieces

    async def prior(self, state: Subset) -> dict[Attribute, float]:
        if state not in self.priors:
            remaining = [a for a in ATTRIBUTES if a not in state]
            if self.prior_fn is None:
                self.priors[state] = {a: 1 / len(remaining) for a in remaining}
            else:
                self.prior_calls += 1
                p = await self.prior_fn(state)
                self.priors[state] = {a: p.get(a, 0.0) for a in remaining}
        return self.priors[state]

    async def reward(self, leaf: Subset) -> float | None:
        """Score a set once; concurrent requests for the same set share one evaluation."""
        if leaf in self.rewards:
            return self.rewards[leaf]
        if leaf not in self._pending:
            self._pending[leaf] = asyncio.ensure_future(self.reward_fn(leaf))
            value = await self._pending[leaf]
            self.rewards[leaf] = value
            if value is not None and (self._best is None or value > self._best[1]):
                self._best = (leaf, value)
            if self._best is not None:
                self.history.append((len(self.rewards), self._best[1]))
            return value
        return await self._pending[leaf]

    def q(self, state: Subset) -> float:
        """Mean normalised reward of a set; an unvisited set borrows its parent's value
        ("first-play urgency"), so a 0 never makes untried actions look hopeless."""
        n = self.N.get(state, 0)
        if n:
            return self.W.get(state, 0.0) / n
        parents = [state - {a} for a in state if self.N.get(state - {a}, 0)]
        return max((self.q(p) for p in parents), default=0.5)

    def _normalise(self, value: float) -> float:
        lo, hi = self.cfg.reward_range
        return (value - lo) / (hi - lo)

    def _score(self, state: Subset, a: Attribute, prior: dict[Attribute, float], total: float) -> float:
        child = state | {a}
        n = self.N.get(child, 0)
        if self.cfg.guided:
            return self.q(child) + self.cfg.c * prior[a] * math.sqrt(total) / (1 + n)
        if n == 0:
            return math.inf  # UCB1: every child once first
        return self.q(child) + self.cfg.c * math.sqrt(math.log(max(total, 1)) / n)

    async def select(self, state: Subset) -> Attribute:
        prior = await self.prior(state)
        total = sum(self.N.get(state | {a}, 0) for a in prior)
        scores = {a: self._score(state, a, prior, total) for a in prior}
        best = max(scores.values())
        ties = [a for a in prior if scores[a] == best]
        return ties[0] if len(ties) == 1 else self.rng.choice(ties)

    async def rollout_step(self, state: Subset) -> Attribute:
        prior = await self.prior(state)
        if self.rng.random() < epsilon(len(state), self.cfg.depth, self.cfg.eps0):
            return self.rng.choice(sorted(prior, key=ATTRIBUTES.index))
        best = max(prior.values())
        ties = [a for a in ATTRIBUTES if a in prior and prior[a] == best]
        return ties[0] if len(ties) == 1 else self.rng.choice(ties)  # a uniform prior: a random rollout

    # ------------------------------------------------------------------ search

    async def _descend(self) -> list[Subset]:
        """Select and roll out one path from the root to depth k (with virtual loss)."""
        state: Subset = frozenset()
        path = [state]
        expanded = False
        while len(state) < self.cfg.depth:
            if not expanded and self.N.get(state, 0) > 0:
                a = await self.select(state)
            else:
                expanded = True
                a = await self.rollout_step(state)
            state = state | {a}
            path.append(state)
        for s in path:  # virtual loss: a visit with reward 0 until the real one arrives
            self.N[s] = self.N.get(s, 0) + 1
        return path

    def _backup(self, path: list[Subset], value: float | None) -> None:
        """An unscorable leaf (every judge failed) keeps its visit with the lowest reward, so
        the search moves on instead of walking back to it; extraction never returns it."""
        gain = 0.0 if value is None else self._normalise(value)
        for s in path:
            self.W[s] = self.W.get(s, 0.0) + gain

    async def run(self) -> SearchResult:
        done = 0
        while done < self.cfg.iterations:
            size = min(self.cfg.batch, self.cfg.iterations - done)
            paths = [await self._descend() for _ in range(size)]
            values = await asyncio.gather(*(self.reward(p[-1]) for p in paths))
            for p, v in zip(paths, values):
                self._backup(p, v)
            done += size
        return self.result()

    def best_path(self) -> tuple[list[Attribute], list[float]]:
        """The extracted path and the Q of each prefix (on the reward's own scale); see
        ``SearchConfig.extract``."""
        if self.cfg.extract == "q":
            path = self._greedy()
        else:
            orders = {leaf: self._greedy(leaf) for leaf, v in self.rewards.items() if v is not None}
            if not orders:
                return [], []
            path = orders[max(orders, key=lambda leaf: (self.rewards[leaf], self._prefix_q(orders[leaf])))]
        lo, hi = self.cfg.reward_range
        return path, [lo + self.q(frozenset(path[: i + 1])) * (hi - lo) for i in range(len(path))]

    def _greedy(self, within: Subset | None = None) -> list[Attribute]:
        """From the root, follow the child with the highest Q, preferring visited children (ties go
        to the earlier attribute). Over the whole tree, stop where nothing was visited; within a
        judged leaf's attributes, always end at that leaf."""
        state: Subset = frozenset()
        path: list[Attribute] = []
        while len(state) < self.cfg.depth:
            children = [a for a in ATTRIBUTES if a not in state and (within is None or a in within)]
            a = max(children, key=lambda a: (self.N.get(state | {a}, 0) > 0, self.q(state | {a}), -ATTRIBUTES.index(a)))
            if within is None and not self.N.get(state | {a}, 0):
                break
            path.append(a)
            state = state | {a}
        return path

    def _prefix_q(self, path: list[Attribute]) -> float:
        """Mean Q of a path's prefixes: among equally scored leaves, prefer the safer way there."""
        return sum(self.q(frozenset(path[: i + 1])) for i in range(len(path))) / max(len(path), 1)

    def result(self) -> SearchResult:
        path, qs = self.best_path()
        leaf = frozenset(path)
        return SearchResult(path=path, q_values=qs, reward=self.rewards.get(leaf), reward_evaluations=len(self.rewards),
                            prior_calls=self.prior_calls, best_seen=self._best, history=list(self.history),
                            unscorable=sum(v is None for v in self.rewards.values()))


PRIOR_TEMPERATURE = 1.5
"""Default softmax temperature of ``rank_prior`` (keep PlanConfig.prior_temperature in step).
Chosen on synthetic seeds 0-49 and confirmed on 50-249 (benchmarks/planner.py): at 1.0 the
attributes ranked 6th and lower get almost no prior mass, so an optimum whose members a noisy
ranking puts low is rarely tried; 1.5 reaches 90% success at T = 150 instead of T = 600."""
PRIOR_FLOOR = 0.02
"""Default uniform mass of ``rank_prior`` (keep PlanConfig.prior_floor in step)."""


def rank_prior(ranking: list[Attribute], remaining: list[Attribute], *, temperature: float = PRIOR_TEMPERATURE,
               floor: float = PRIOR_FLOOR) -> dict[Attribute, float]:
    """Turn an LLM's ranking of the remaining attributes into a prior with full support:
    a softmax over negative ranks (temperature ``temperature``) mixed with a uniform ``floor``.
    Attributes the ranking leaves out share the lowest rank."""
    order = [a for a in dict.fromkeys(ranking) if a in remaining]
    last = len(order)
    rank = {a: order.index(a) if a in order else last for a in remaining}
    weights = {a: math.exp(-rank[a] / temperature) for a in remaining}
    total = sum(weights.values())
    n = len(remaining)
    return {a: (1 - floor) * weights[a] / total + floor / n for a in remaining}
