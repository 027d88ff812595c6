"""Which attributes matter (SPEC section 6): one at a time, subsets of a budget k, Shapley values.

A *value function* v(scenario, S) is the Personalized Safety Score of a response generated
with the attributes in S and judged against the full profile. Strategies only see v, so the
same code runs on the LLM-backed value (``LLMValue``, through a run folder: cached, resumable)
and on any other function of subsets.

Strategies for a budget k:
- ``random``: a seeded random k-subset per scenario;
- ``static``: the same k attributes for everyone, in the paper's one-at-a-time order
  (top-3 = Emotion, Mental, Self-Harm);
- ``greedy``: forward selection, adding the attribute that raises v most at each step;
- ``oracle``: the best of all C(10, k) subsets for each scenario.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections import defaultdict
from statistics import mean
from typing import Awaitable, Callable, Iterable

from pydantic import BaseModel, Field

from ..errors import ConfigError
from ..files import write_model
from ..schema import ATTRIBUTES, STATIC_ORDER, Attribute, Context, Scenario
from .engine import Runner
from .folder import pin_settings
from .metrics import jury_pss

A = Attribute
Subset = frozenset[Attribute]
ValueFn = Callable[[Scenario, Subset], Awaitable[float | None]]

STRATEGIES = ("random", "static", "greedy", "oracle")
ANALYSIS = "analysis.json"
SUBSET_SETTINGS = "subsets.json"


class SubsetSettings(BaseModel):
    """What ``analyze subsets`` was asked for; pinned in the folder so a resume needs nothing else."""

    k: int = 3
    strategies: list[str] = Field(default_factory=lambda: list(STRATEGIES))
    shapley_permutations: int | None = None
    exact_shapley: bool = False


class LLMValue:
    """v(scenario, S) from a run folder: respond with S, judge with the full profile.

    Each subset is evaluated once per scenario (memoised, and recorded so a resumed
    analysis reuses it); a subset whose every judge failed has no value (None)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.judged: set[tuple[str, Subset]] = set()

    @property
    def evaluations(self) -> int:
        """Distinct (scenario, subset) pairs evaluated: each costs one response and its judgements."""
        return len(self.judged)

    async def __call__(self, scenario: Scenario, subset: Subset) -> float | None:
        return (await self.many(scenario, [subset]))[subset]

    async def many(self, scenario: Scenario, subsets: Iterable[Subset]) -> dict[Subset, float | None]:
        subsets = list(dict.fromkeys(subsets))
        contexts = [Context.of(s) for s in subsets]
        verdicts = await self.runner.evaluate(scenario, contexts)
        self.judged.update((scenario.id, s) for s in subsets)
        return {subset: jury_pss(verdicts[ctx.name], self.runner.config.jury)
                for subset, ctx in zip(subsets, contexts)}


async def _values(value: ValueFn, scenario: Scenario, subsets: list[Subset]) -> dict[Subset, float | None]:
    many = getattr(value, "many", None)
    if many is not None:
        return await many(scenario, subsets)
    results = await asyncio.gather(*(value(scenario, s) for s in subsets))
    return dict(zip(subsets, results))


def _best(values: dict[Subset, float | None]) -> tuple[Subset, float] | None:
    scored = [(s, v) for s, v in values.items() if v is not None]
    if not scored:
        return None
    # ties go to the subset that comes first in the canonical attribute order (deterministic)
    return max(scored, key=lambda sv: (sv[1], [-ATTRIBUTES.index(a) for a in sorted(sv[0], key=ATTRIBUTES.index)]))


async def choose(strategy: str, value: ValueFn, scenario: Scenario, k: int, seed: int = 0) -> tuple[Subset, float | None]:
    """The subset a strategy picks for one scenario, and its value."""
    if strategy == "random":
        rng = random.Random(f"{seed}:{scenario.id}")
        subset = frozenset(rng.sample(list(ATTRIBUTES), k))
        return subset, (await _values(value, scenario, [subset]))[subset]
    if strategy == "static":
        subset = frozenset(STATIC_ORDER[:k])
        return subset, (await _values(value, scenario, [subset]))[subset]
    if strategy == "oracle":
        candidates = [frozenset(c) for c in itertools.combinations(ATTRIBUTES, k)]
        best = _best(await _values(value, scenario, candidates))
        return best if best else (frozenset(), None)
    if strategy == "greedy":
        chosen: Subset = frozenset()
        score: float | None = None
        for _ in range(k):
            options = [chosen | {a} for a in ATTRIBUTES if a not in chosen]
            best = _best(await _values(value, scenario, options))
            if best is None:
                return chosen, None
            chosen, score = best
        return chosen, score
    raise ValueError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")


async def shapley(value: ValueFn, scenario: Scenario, *, permutations: int | None = None,
                  seed: int = 0) -> dict[Attribute, float] | None:
    """Shapley value of each attribute for one scenario: exact over all 2^10 subsets when
    ``permutations`` is None, else the mean marginal contribution over sampled orders."""
    if permutations is None:
        subsets = [frozenset(c) for r in range(len(ATTRIBUTES) + 1) for c in itertools.combinations(ATTRIBUTES, r)]
        v = await _values(value, scenario, subsets)
        if any(x is None for x in v.values()):
            return None
        n = len(ATTRIBUTES)
        phi = {}
        for a in ATTRIBUTES:
            total = 0.0
            for s in subsets:
                if a in s:
                    continue
                weight = math.factorial(len(s)) * math.factorial(n - len(s) - 1) / math.factorial(n)
                total += weight * (v[s | {a}] - v[s])  # type: ignore[operator]
            phi[a] = total
        return phi
    rng = random.Random(f"{seed}:{scenario.id}:shapley")
    orders = [rng.sample(list(ATTRIBUTES), len(ATTRIBUTES)) for _ in range(permutations)]
    prefixes = {frozenset(order[:i]) for order in orders for i in range(len(ATTRIBUTES) + 1)}
    v = await _values(value, scenario, sorted(prefixes, key=lambda s: (len(s), sorted(a.key for a in s))))
    contributions: dict[Attribute, list[float]] = defaultdict(list)
    for order in orders:
        for i, a in enumerate(order):
            before, after = v[frozenset(order[:i])], v[frozenset(order[: i + 1])]
            if before is not None and after is not None:
                contributions[a].append(after - before)
    if len(contributions) < len(ATTRIBUTES):
        return None
    return {a: mean(contributions[a]) for a in ATTRIBUTES}


class StrategyResult(BaseModel):
    n: int
    failed: int
    """Scenarios where the strategy's subset could not be scored (every judge failed)."""
    overall: float | None = None
    by_domain: dict[str, float] = Field(default_factory=dict)


class SubsetChoice(BaseModel):
    scenario_id: str
    domain: str
    strategy: str
    subset: str
    value: float | None


class ShapleyResult(BaseModel):
    method: str
    failed: int
    by_domain: dict[str, dict[str, float]] = Field(default_factory=dict)
    """"overall" and each domain -> attribute -> mean Shapley value."""


class SubsetAnalysis(BaseModel):
    """``analysis.json``: what ``penguin analyze subsets`` found."""

    k: int
    seed: int
    scenarios: int
    subset_evaluations: int
    strategies: dict[str, StrategyResult]
    choices: list[SubsetChoice]
    shapley: ShapleyResult | None = None


def summarize_choices(rows: list[SubsetChoice]) -> dict[str, StrategyResult]:
    """Mean value per strategy overall and per domain."""
    out: dict[str, StrategyResult] = {}
    for strategy in dict.fromkeys(r.strategy for r in rows):
        mine = [r for r in rows if r.strategy == strategy]
        vals = [r for r in mine if r.value is not None]
        out[strategy] = StrategyResult(
            n=len(vals), failed=len(mine) - len(vals), overall=mean(r.value for r in vals) if vals else None,
            by_domain={d: mean(r.value for r in vals if r.domain == d) for d in sorted({r.domain for r in vals})})
    return out


def check_plan(k: int, strategies: list[str]) -> None:
    """Refuse an impossible plan before any model is loaded."""
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ConfigError(f"unknown strategy {', '.join(unknown)} (choose from {', '.join(STRATEGIES)})")
    if not 1 <= k <= len(ATTRIBUTES):
        raise ConfigError(f"--k must be between 1 and {len(ATTRIBUTES)}, not {k}")


async def analyze_subsets(runner: Runner, *, k: int, strategies: list[str], shapley_permutations: int | None,
                          exact_shapley: bool = False, seed: int = 0, progress: bool = True) -> SubsetAnalysis:
    """Run the strategies (and Shapley values) on the runner's selection; write analysis.json."""
    from ..progress import RunProgress
    from .config import select_scenarios

    check_plan(k, strategies)
    n = runner.count_scenarios()
    rows: list[SubsetChoice] = []
    phis: list[tuple[str, dict[Attribute, float] | None]] = []
    async with runner.session(n):
        pin_settings(runner.run_dir, SUBSET_SETTINGS, {"subsets": SubsetSettings(
            k=k, strategies=strategies, shapley_permutations=shapley_permutations,
            exact_shapley=exact_shapley).model_dump()})
        value = LLMValue(runner)
        sem = asyncio.Semaphore(max(1, runner.config.concurrency))
        done = 0
        with RunProgress(n, enabled=progress, label=f"subsets k={k}") as bar:

            async def one(scenario: Scenario) -> None:
                nonlocal done
                async with sem:
                    for strategy in strategies:
                        subset, v = await choose(strategy, value, scenario, k, seed)
                        rows.append(SubsetChoice(scenario_id=scenario.id, domain=scenario.domain,
                                                 strategy=strategy, subset=Context.of(subset).name, value=v))
                    if exact_shapley or shapley_permutations:
                        phi = await shapley(value, scenario, permutations=None if exact_shapley else shapley_permutations,
                                            seed=seed)
                        phis.append((scenario.domain, phi))
                done += 1
                bar.update(done, f"subsets evaluated {value.evaluations}")

            await asyncio.gather(*(one(s) for s in select_scenarios(runner.config)))
    analysis = SubsetAnalysis(
        k=k, seed=seed, scenarios=n, subset_evaluations=value.evaluations, strategies=summarize_choices(rows),
        choices=sorted(rows, key=lambda r: (r.scenario_id, r.strategy)),
        shapley=ShapleyResult(method="exact" if exact_shapley else f"{shapley_permutations} sampled permutations",
                              failed=sum(p is None for _, p in phis), by_domain=shapley_by_domain(phis))
        if phis else None)
    write_model(runner.run_dir / ANALYSIS, analysis)
    return analysis


def shapley_by_domain(phis: list[tuple[str, dict[Attribute, float] | None]]) -> dict[str, dict[str, float]]:
    ok = [(d, p) for d, p in phis if p is not None]
    out: dict[str, dict[str, float]] = {}
    for dom in ["overall", *sorted({d for d, _ in ok})]:
        group = [p for d, p in ok if dom == "overall" or d == dom]
        if group:
            out[dom] = {a.value: mean(p[a] for p in group) for a in ATTRIBUTES}
    return out
