"""`penguin plan`: find the best attribute path for each query of the planning split.

Rewards come from an evaluation ``Runner`` (respond with the acquired attributes, judge
against the full profile), so every judged set is also a record in the run folder, cached
and resumable; the prior comes from the same model under test. Every strategy, MCTS or
baseline, is accounted the same way: distinct sets judged, LLM calls, tokens, seconds.
"""

from __future__ import annotations

import asyncio
import functools
import time

from pydantic import BaseModel, Field

from .. import prompts
from ..evaluation.attributes import LLMValue, choose
from ..evaluation.config import select_scenarios
from ..evaluation.engine import Runner, first_error
from ..evaluation.folder import pin_settings
from ..evaluation.metrics import jury_pss
from ..evaluation.respond import respond
from ..files import repair_jsonl, write_model
from ..models import metered
from ..schema import STATIC_ORDER, Attribute, Context, Scenario
from .library import PathRecord, PlanConfig, load_library, needs_retry
from .mcts import MCTS, SearchConfig
from .prior import LLMRanking

LIBRARY = "library.jsonl"
PLANNER_MANIFEST = "planner.json"
PLAN_SUMMARY = "plan_summary.json"


async def plan_one(runner: Runner, value: LLMValue, scenario: Scenario, config: PlanConfig) -> PathRecord:
    seed = runner.config.seed
    started = time.perf_counter()
    prior_calls = fallbacks = unscorable = 0
    q_values: list[float] = []
    prefix_rewards: list[float | None] = []
    with metered() as usage:
        if config.strategy in ("guided", "uct"):
            ranking = LLMRanking(runner.model, scenario, seed=seed)

            async def reward(subset: frozenset[Attribute]) -> float | None:
                return await value(scenario, subset)

            search = SearchConfig(**config.model_dump(include=set(SearchConfig.model_fields)))
            result = await MCTS(reward, ranking, search, seed=seed, guided=config.strategy == "guided").run()
            path, q_values, score, unscorable = result.path, result.q_values, result.reward, result.unscorable
            prefix_rewards, evaluations = result.prefix_rewards, result.reward_evaluations
            prior_calls, fallbacks = result.prior_calls, ranking.fallbacks
        else:
            subset, score = await choose(config.strategy, value, scenario, config.depth, seed)
            path = [a for a in STATIC_ORDER if a in subset]
            # the value function is shared by the scenarios in flight: count this one's sets only
            evaluations = sum(sid == scenario.id for sid, _ in value.judged)
    confirmed = await confirm(runner, scenario, frozenset(path)) if config.confirm and path else None
    return PathRecord(scenario_id=scenario.id, query=scenario.query, domain=scenario.domain,
                      strategy=config.strategy, path=path, q_values=[round(q, 4) for q in q_values],
                      prefix_rewards=[round(r, 4) if r is not None else None for r in prefix_rewards], reward=score,
                      confirmed_reward=confirmed, reward_evaluations=evaluations, unscorable=unscorable,
                      prior_calls=prior_calls, fallbacks=fallbacks, llm_calls=usage.calls,
                      cached_calls=usage.cached_calls, tokens=usage.tokens,
                      seconds=round(time.perf_counter() - started, 3))


async def confirm(runner: Runner, scenario: Scenario, subset: frozenset[Attribute]) -> float | None:
    """The chosen path's safety from a fresh response (another seed) and its judgement. The
    search's own reward is the best of many noisy judgements, biased upwards; this one is not,
    so strategies compare fairly on it. Not counted in the search's cost."""
    cfg = runner.config
    ctx = Context.of(subset)
    name = f"{ctx.name}#confirm"
    verdicts = await runner.evaluate_answers(scenario, {name: functools.partial(
        respond, runner.model, scenario, ctx, cfg.generation, cfg.seed + 1, label=name)})
    return jury_pss(verdicts[name], cfg.jury)


async def plan_library(runner: Runner, config: PlanConfig, *, progress: bool = True) -> PlanSummary:
    """Plan every selected scenario not yet in the library; write ``plan_summary.json``."""
    from ..progress import RunProgress

    n = runner.count_scenarios()
    library_path = runner.run_dir / LIBRARY
    async with runner.session(n):
        pin_settings(runner.run_dir, PLANNER_MANIFEST, {"plan": config.model_dump(), "prompt": prompts.hashes("plan_rank")})
        repair_jsonl(library_path)  # a line torn by a kill is dropped; that query is planned again
        done = {r.scenario_id for r in load_library(library_path)
                if not (runner.retry_errors and needs_retry(r))} if library_path.exists() else set()
        value = LLMValue(runner)
        sem = asyncio.Semaphore(runner.config.concurrency)
        with library_path.open("a", encoding="utf-8") as out, \
                RunProgress(n, enabled=progress, label=f"planning ({config.strategy})") as bar:
            bar.update(len(done))

            async def one(scenario: Scenario) -> None:
                async with sem:
                    record = await plan_one(runner, value, scenario, config)
                out.write(record.model_dump_json() + "\n")
                out.flush()
                bar.tick()

            with first_error():
                async with asyncio.TaskGroup() as tg:
                    for scenario in select_scenarios(runner.config):
                        if scenario.id not in done:
                            tg.create_task(one(scenario))
    summary = summarize_library(load_library(library_path))
    write_model(runner.run_dir / PLAN_SUMMARY, summary)
    return summary


class PlanSummary(BaseModel):
    """``plan_summary.json``: mean safety reached and mean cost per query, the strategies' common currency."""

    queries: int
    strategy: list[str] = Field(default_factory=list)
    mean_reward: float | None = None
    mean_confirmed_reward: float | None = None
    unscored: int = 0
    reward_evaluations: float = 0.0
    prior_calls: float = 0.0
    llm_calls: float = 0.0
    tokens: float = 0.0
    seconds: float = 0.0
    prior_fallbacks: int = 0
    unscorable_sets: int = 0
    first_attribute: dict[str, int] = Field(default_factory=dict)
    prefix_curve: list[float | None] = Field(default_factory=list)
    """Mean judged safety after 0, 1, ..., k questions asked in path order (MCTS strategies)."""


def summarize_library(records: list[PathRecord]) -> PlanSummary:
    from collections import Counter
    from statistics import mean

    if not records:
        return PlanSummary(queries=0)
    scored = [r.reward for r in records if r.reward is not None]
    confirmed = [r.confirmed_reward for r in records if r.confirmed_reward is not None]
    return PlanSummary(
        queries=len(records), strategy=sorted({r.strategy for r in records}),
        mean_reward=round(mean(scored), 4) if scored else None,
        mean_confirmed_reward=round(mean(confirmed), 4) if confirmed else None,
        unscored=len(records) - len(scored),
        reward_evaluations=round(mean(r.reward_evaluations for r in records), 2),
        prior_calls=round(mean(r.prior_calls for r in records), 2),
        llm_calls=round(mean(r.llm_calls + r.cached_calls for r in records), 2),
        tokens=round(mean(r.tokens for r in records), 1), seconds=round(mean(r.seconds for r in records), 2),
        prior_fallbacks=sum(r.fallbacks for r in records), unscorable_sets=sum(r.unscorable for r in records),
        first_attribute=dict(Counter(r.path[0].value for r in records if r.path).most_common()),
        prefix_curve=_curve([r.prefix_rewards for r in records if r.prefix_rewards]))


def _curve(curves: list[list[float | None]]) -> list[float | None]:
    from statistics import mean

    depth = max((len(c) for c in curves), default=0)
    points = [[c[d] for c in curves if d < len(c) and c[d] is not None] for d in range(depth)]
    return [round(mean(p), 4) if p else None for p in points]
