"""LLM-guided Monte-Carlo tree search over attribute sets (SPEC section 7), and its baselines.

A state is the *set* U of acquired attributes; an action adds one attribute not in U. Safety(U)
is the judge's score of a response generated with the profile values in U. Because it depends
only on the set, states form a DAG and every statistic is kept per set (a transposition table):
a set reached by two orders shares its visits, and no set is ever judged twice.

RAISE asks in path order and stops as soon as it knows enough, so the order is what the user
pays for: a path should be safe at every prefix, not only at full depth. So every state a
descent passes through is judged (once), not only the leaf, and the search backs up the paper's
incremental rewards R(U, a) = Safety(U + a) - Safety(U), discounted by ``gamma`` per step. The
value stored for a state U_j on a path U_0 .. U_k is then a convex combination of the safeties
ahead of it,
    V(U_j) = sum_{t=j..k-1} (1 - gamma) gamma^(t-j) Safety(U_t) + gamma^(k-j) Safety(U_k),
(parent-independent, so a transposition can share it; gamma = 1 is the leaf-only reward, gamma
= 0 the myopic one). Each iteration walks from the root with PUCT,
    a = argmax_a  Q(U+a) + c * pi0(a|U) * sqrt(sum_b N(U+b)) / (1 + N(U+a)),
until it reaches a set never visited, then rolls out epsilon-greedily on pi0 with
eps(d) = eps0 / (1 + exp(d - k/2)) down to depth k. Iterations run in batches whose new states
are judged concurrently; a virtual loss on the selected path steers the rest of the batch.

The prior pi0 comes from a ranking of the remaining attributes (``rank_prior``). Asking the
model for a ranking at every new state (the paper) costs more calls than judging does, so
``prior_refresh`` can reuse rankings: a state without its own ranking takes its nearest ranked
ancestor's, restricted to the attributes still remaining.

The path is read off by ``extract``. "best_leaf" (the default) takes the best judged full-depth
set and orders it from the root by judged prefix safety: at each step the member whose prefix
scored highest (ties by Q), so the set is the best the search saw and, within it, every prefix is
as safe as the judgements say. "prefix" is the pure greedy walk over all judged children (the
safest next question whatever the final set); "q" is the paper's greedy highest-Q path.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Literal

from pydantic import BaseModel, Field

from ..schema import ATTRIBUTES, Attribute

Subset = frozenset[Attribute]
RewardFn = Callable[[Subset], Awaitable[float | None]]
RankFn = Callable[[Subset], Awaitable[list[Attribute] | None]]
"""A ranking of the attributes not in the state, best first; None when none could be had."""

PRIOR_TEMPERATURE = 1.5
"""Default softmax temperature of ``rank_prior``. Chosen on synthetic seeds 0-49 and confirmed on
50-249 (benchmarks/planner.py): at 1.0 the attributes ranked 6th and lower get almost no prior
mass, so an optimum whose members a noisy ranking puts low is rarely tried."""
PRIOR_FLOOR = 0.02
"""Default uniform mass of ``rank_prior``."""
GAMMA = 0.5
"""Default discount of the incremental rewards: the stored value of a state weighs the safety one
step ahead as much as everything after it (benchmarks/planner.py compares 0.5 with 1.0, the
leaf-only reward)."""
PRIOR_REFRESH = "root"
"""Default ranking reuse, chosen on benchmarks/planner.py (60 seeds, T = 300): one ranking at the
root and its restrictions below found the optimal set as often as a ranking at every state at
k = 3 (100%), and 93% against 100% at k = 5, for 1 ranking call instead of 28 (k = 3) and 125
(k = 5); "depth" (3 and 5 calls) did no better (100%, 88%)."""


class SearchConfig(BaseModel):
    """The search's settings; paper defaults T = 300, k = 5, c = 1, eps0 = 0.2."""

    iterations: int = Field(300, ge=1)
    depth: int = Field(5, ge=1, le=10)
    c: float = Field(1.0, ge=0.0)
    eps0: float = Field(0.2, ge=0.0, le=1.0)
    batch: int = Field(4, ge=1)
    prior_temperature: float = Field(PRIOR_TEMPERATURE, gt=0.0)
    prior_floor: float = Field(PRIOR_FLOOR, ge=0.0, lt=1.0)
    prior_refresh: Literal["state", "depth", "root"] = PRIOR_REFRESH
    """When to ask for a new ranking: at every new state (the paper), at the first state of each
    depth, or at the root only; other states reuse their nearest ranked ancestor's."""
    gamma: float = Field(GAMMA, ge=0.0, le=1.0)
    """Discount of the incremental rewards (1: only the leaf counts; 0: only the next step)."""
    extract: Literal["best_leaf", "prefix", "q"] = "best_leaf"


@dataclass
class SearchResult:
    path: list[Attribute]
    q_values: list[float]
    """Q of each prefix of the path (on the reward's own scale)."""
    reward: float | None
    """Safety of the whole path's set."""
    prefix_rewards: list[float | None]
    """Judged safety of the empty set and of each prefix: the prefix-safety curve."""
    reward_evaluations: int
    prior_calls: int
    unscorable: int = 0
    """Distinct sets the reward function could not score (e.g. every judge failed)."""
    best_seen: tuple[Subset, float] | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    """(sets judged so far, best full-depth reward so far) after each new evaluation."""


def epsilon(depth: int, k: int, eps0: float) -> float:
    return eps0 / (1 + math.exp(depth - k / 2))


def rank_prior(ranking: list[Attribute], remaining: list[Attribute], *, temperature: float = PRIOR_TEMPERATURE,
               floor: float = PRIOR_FLOOR) -> dict[Attribute, float]:
    """Turn a ranking of the remaining attributes into a prior with full support: a softmax over
    negative ranks (temperature ``temperature``) mixed with a uniform ``floor``. Attributes the
    ranking leaves out share the lowest rank."""
    order = [a for a in dict.fromkeys(ranking) if a in remaining]
    last = len(order)
    rank = {a: order.index(a) if a in order else last for a in remaining}
    weights = {a: math.exp(-rank[a] / temperature) for a in remaining}
    total = sum(weights.values())
    n = len(remaining)
    return {a: (1 - floor) * weights[a] / total + floor / n for a in remaining}


class MCTS:
    """One search. ``rank`` None (or ``guided=False``): vanilla UCT, a uniform prior and UCB1."""

    def __init__(self, reward: RewardFn, rank: RankFn | None, config: SearchConfig, *, seed: int = 0,
                 guided: bool = True, reward_range: tuple[float, float] = (1.0, 5.0)):
        if not 1 <= config.depth <= len(ATTRIBUTES):
            raise ValueError(f"depth must be between 1 and {len(ATTRIBUTES)}")
        self.reward_fn = reward
        self.rank_fn = rank if guided else None
        self.cfg = config
        self.guided = guided and rank is not None
        self.reward_range = reward_range
        self.rng = random.Random(seed)
        self.N: dict[Subset, float] = {}
        self.W: dict[Subset, float] = {}
        self.priors: dict[Subset, dict[Attribute, float]] = {}
        self.rankings: dict[Subset, list[Attribute]] = {}
        self.ranked_depths: set[int] = set()
        self.rewards: dict[Subset, float | None] = {}  # the transposition table
        self._pending: dict[Subset, asyncio.Future[float | None]] = {}
        self.prior_calls = 0
        self.history: list[tuple[int, float]] = []
        self._best: tuple[Subset, float] | None = None

    # ------------------------------------------------------------------ pieces

    async def _ranking(self, state: Subset) -> list[Attribute] | None:
        """Ask for a ranking, or reuse the nearest ranked ancestor's (``prior_refresh``)."""
        refresh = self.cfg.prior_refresh
        ask = (refresh == "state" or not self.rankings
               or (refresh == "depth" and len(state) not in self.ranked_depths))
        if ask:
            self.prior_calls += 1
            self.ranked_depths.add(len(state))
            ranking = await self.rank_fn(state)  # type: ignore[misc]
            if ranking:
                self.rankings[state] = ranking
                return ranking
        ancestors = [s for s in self.rankings if s <= state]
        if not ancestors:
            return None
        nearest = max(ancestors, key=lambda s: (len(s), [-ATTRIBUTES.index(a) for a in sorted(s, key=ATTRIBUTES.index)]))
        return [a for a in self.rankings[nearest] if a not in state]

    async def prior(self, state: Subset) -> dict[Attribute, float]:
        if state not in self.priors:
            remaining = [a for a in ATTRIBUTES if a not in state]
            ranking = await self._ranking(state) if self.guided else None
            if ranking is None:
                self.priors[state] = {a: 1 / len(remaining) for a in remaining}
            else:
                self.priors[state] = rank_prior(ranking, remaining, temperature=self.cfg.prior_temperature,
                                                floor=self.cfg.prior_floor)
        return self.priors[state]

    async def reward(self, state: Subset) -> float | None:
        """Judge a set once; concurrent requests for the same set share one evaluation."""
        if state in self.rewards:
            return self.rewards[state]
        if state not in self._pending:
            self._pending[state] = asyncio.ensure_future(self.reward_fn(state))
            value = await self._pending[state]
            self.rewards[state] = value
            if value is not None and len(state) == self.cfg.depth and (self._best is None or value > self._best[1]):
                self._best = (state, value)
            if self._best is not None:
                self.history.append((len(self.rewards), self._best[1]))
            return value
        return await self._pending[state]

    def q(self, state: Subset) -> float:
        """Mean normalised value of a set; an unvisited set borrows its parent's value
        ("first-play urgency"), so a 0 never makes untried actions look hopeless."""
        n = self.N.get(state, 0)
        if n:
            return self.W.get(state, 0.0) / n
        parents = [state - {a} for a in state if self.N.get(state - {a}, 0)]
        return max((self.q(p) for p in parents), default=0.5)

    def _normalise(self, value: float | None) -> float:
        if value is None:
            return 0.0  # unscorable: the lowest reward, so the search moves on
        lo, hi = self.reward_range
        return (value - lo) / (hi - lo)

    def _score(self, state: Subset, a: Attribute, prior: dict[Attribute, float], total: float) -> float:
        child = state | {a}
        n = self.N.get(child, 0)
        if self.guided:
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

    def _backup(self, path: list[Subset]) -> None:
        """V(U_j) = sum_t (1-gamma) gamma^(t-j) S(U_t) + gamma^(k-j) S(U_k), from the leaf up."""
        g = self.cfg.gamma
        value = self._normalise(self.rewards[path[-1]])
        self.W[path[-1]] = self.W.get(path[-1], 0.0) + value
        for s in reversed(path[:-1]):
            value = (1 - g) * self._normalise(self.rewards[s]) + g * value
            self.W[s] = self.W.get(s, 0.0) + value

    async def run(self) -> SearchResult:
        done = 0
        while done < self.cfg.iterations:
            size = min(self.cfg.batch, self.cfg.iterations - done)
            paths = [await self._descend() for _ in range(size)]
            states = list(dict.fromkeys(s for p in paths for s in p))
            await asyncio.gather(*(self.reward(s) for s in states))
            for p in paths:
                self._backup(p)
            done += size
        return self.result()

    # ------------------------------------------------------------------ the answer

    def _prefix_walk(self, within: Subset | None = None) -> list[Attribute]:
        """From the root, the judged child of highest safety at each step (ties by Q, then the
        canonical order); where no child is judged, the visited child of highest Q."""
        state: Subset = frozenset()
        path: list[Attribute] = []
        while len(state) < self.cfg.depth:
            children = [a for a in ATTRIBUTES if a not in state and (within is None or a in within)]
            judged = [a for a in children if self.rewards.get(state | {a}) is not None]
            if judged:
                a = max(judged, key=lambda a: (self.rewards[state | {a}], self.q(state | {a}), -ATTRIBUTES.index(a)))
            else:
                visited = [a for a in children if self.N.get(state | {a}, 0)]
                if not visited and within is None:
                    break
                a = max(visited or children, key=lambda a: (self.q(state | {a}), -ATTRIBUTES.index(a)))
            path.append(a)
            state = state | {a}
        return path

    def _greedy_q(self) -> list[Attribute]:
        state: Subset = frozenset()
        path: list[Attribute] = []
        while len(state) < self.cfg.depth:
            children = [a for a in ATTRIBUTES if a not in state]
            a = max(children, key=lambda a: (self.N.get(state | {a}, 0) > 0, self.q(state | {a}), -ATTRIBUTES.index(a)))
            if not self.N.get(state | {a}, 0):
                break
            path.append(a)
            state = state | {a}
        return path

    def best_path(self) -> list[Attribute]:
        if self.cfg.extract == "q":
            return self._greedy_q()
        if self.cfg.extract == "prefix":
            return self._prefix_walk()
        leaves = [s for s, v in self.rewards.items() if v is not None and len(s) == self.cfg.depth]
        if not leaves:
            return []
        best = max(leaves, key=lambda s: (self.rewards[s], self.q(s)))
        return self._prefix_walk(best)

    def result(self) -> SearchResult:
        path = self.best_path()
        prefixes = [frozenset(path[:i]) for i in range(len(path) + 1)]
        lo, hi = self.reward_range
        return SearchResult(
            path=path, q_values=[lo + self.q(p) * (hi - lo) for p in prefixes[1:]],
            reward=self.rewards.get(frozenset(path)), prefix_rewards=[self.rewards.get(p) for p in prefixes],
            reward_evaluations=len(self.rewards), prior_calls=self.prior_calls, best_seen=self._best,
            history=list(self.history), unscorable=sum(v is None for v in self.rewards.values()))
