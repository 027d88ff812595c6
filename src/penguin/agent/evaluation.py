"""`penguin raise eval`: vanilla vs +agent vs +planner on the online split (SPEC section 8).

Each variant's final answer is one response record named by the variant ("vanilla",
"agent", "planner", and "planner@b" for a question budget b), judged through the same
``Runner`` as any evaluation: cached, resumable, summarised per domain, reported. The
dialogue behind each answer (attributes asked, declines, ratings, stop reason,
fallbacks) goes to ``dialogues.jsonl``; ``raise_summary.json`` adds questions asked,
stop reasons, fallbacks and the safety-versus-questions curve.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from typing import IO, Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from .. import prompts
from ..dataset.splits import normalise_query
from ..errors import ConfigError, DataError, ModelError
from ..evaluation.config import select_scenarios
from ..evaluation.engine import Runner, first_error
from ..evaluation.folder import pin_settings
from ..evaluation.folder import SUMMARY, load_pinned
from ..evaluation.records import ResponseRecord, cluster_of
from ..evaluation.summary import EvalSummary, Interval
from ..evaluation.respond import respond
from ..files import read_records, repair_jsonl, write_model
from ..models import metered
from ..planner.library import library_file, load_library
from ..schema import Attribute, Context, Scenario
from .benign import BenignSummary, run_benign, summarize_benign
from .loop import AGENT_TEMPLATES, Agent, AgentConfig, Turn, converse
from .questions import questions_hash
from .retriever import Retriever
from .user import SimulatedUser

DIALOGUES = "dialogues.jsonl"
SETTINGS = "raise.json"
RAISE_SUMMARY = "raise_summary.json"
Variant = Literal["vanilla", "agent", "planner"]


class RaiseSettings(BaseModel):
    """What a RAISE evaluation compares; pinned in the run folder (``raise.json``)."""

    variants: list[Variant] = Field(default_factory=lambda: ["vanilla", "agent", "planner"], min_length=1)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    library: str | None = None
    """A plan folder or its library.jsonl; stored as the absolute path of the file."""
    library_sha256: str | None = None
    """The library's hash, computed here when not given: a resume refuses a changed library."""
    budgets: list[Annotated[int, Field(ge=0, le=10)]] = Field(default_factory=list)
    """Extra planner runs capped at b questions, for the safety-versus-questions curve."""
    user_phrasing: Literal["plain", "llm"] = "plain"
    decline: float = Field(0.0, ge=0.0, le=1.0)
    benign: bool = True
    """Also run the bundled benign set through each agent variant (ask rate, mean questions)."""

    @model_validator(mode="after")
    def _library(self) -> "RaiseSettings":
        if ("planner" in self.variants or self.budgets) and not self.library:
            raise ValueError("the planner variant (and question budgets) need a library: a plan folder's library.jsonl")
        if self.library and not self.library_sha256:
            path = library_file(self.library)
            self.library = str(path)
            self.library_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        return self


class DialogueRecord(BaseModel):
    scenario_id: str
    domain: str
    variant: str
    questions: int
    asked: list[Attribute]
    withheld: int
    """Questions the user declined or did not answer clearly."""
    stop_reason: str | None
    crisis: str | None = None
    route: str | None = None
    """The router's decision at the last step (crisis, agent or direct)."""
    gate_score: float | None = None
    ratings: list[int | None] = Field(default_factory=list)
    fallbacks: dict[str, int] = Field(default_factory=dict)
    user_phrasing_failures: int = 0
    """LLM-phrased simulated replies that failed and fell back to the plain reply."""
    llm_calls: int = 0
    """The agent's calls (the simulated user's own calls are not counted)."""
    tokens: int = 0
    seconds: float = 0.0
    error: str | None = None


def _name(variant: str, budget: int | None) -> str:
    return variant if budget is None else f"{variant}@{budget}"


class RaiseEvaluation:
    def __init__(self, runner: Runner, settings: RaiseSettings):
        self.runner = runner
        self.settings = settings
        self.retriever: Retriever | None = None

    def _check_library(self, path: Path) -> None:
        """The library must be the one the run started with, and share no query with the
        evaluated scenarios (a planned query would flatter the planner)."""
        if not path.is_file():
            raise ConfigError(f"{path}: the path library is missing")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if self.settings.library_sha256 and digest != self.settings.library_sha256:
            raise DataError(f"{path} changed since this run started; restore it or start a new run")
        planned = {normalise_query(r.query) for r in load_library(path)}
        shared = sum(normalise_query(sc.query) in planned for sc in select_scenarios(self.runner.config))
        if shared:
            raise ConfigError(f"{shared} evaluated scenario(s) ask a query the library was planned on; evaluate "
                              "another split (the default online split never overlaps the plan split)")

    def _agents(self) -> dict[str, Agent]:
        s = self.settings
        agents: dict[str, Agent] = {}
        base = s.agent.model_copy(update={"seed": self.runner.config.seed,
                                          "generation": self.runner.config.generation})
        for v in s.variants:
            if v != "vanilla":
                agents[v] = Agent(self.runner.model, base, self.retriever if v == "planner" else None)
        for b in s.budgets:
            agents[_name("planner", b)] = Agent(self.runner.model, base.model_copy(update={"max_questions": b}),
                                                self.retriever)
        return agents

    async def _dialogue(self, name: str, agent: Agent, scenario: Scenario, log: IO[str]) -> ResponseRecord:
        s = self.settings
        simulated = SimulatedUser(scenario, phrasing=s.user_phrasing, decline=s.decline, model=self.runner.model,
                                  seed=self.runner.config.seed)

        async def user(attribute: Attribute, question: str) -> str:
            with metered():  # the simulated user's own calls are not the agent's cost
                return await simulated(attribute, question)

        base = dict(scenario_id=scenario.id, context=name, domain=scenario.domain, source=scenario.source,
                    model=self.runner.model.spec, seed=self.runner.config.seed,
                    cluster=cluster_of(scenario, sees_profile=True))
        started = time.perf_counter()
        turns: list[Turn] = []
        with metered() as usage:
            try:
                final, _, steps = await converse(agent, scenario.query, user, turns=turns)
            except ModelError as exc:  # a step with no fallback (the final answer) failed: an error, counted
                final, steps, error = None, [], str(exc)
            else:
                error = None
        fallbacks: Counter[str] = Counter()
        for step in steps:
            fallbacks.update(step.fallbacks)
        record = DialogueRecord(
            scenario_id=scenario.id, domain=scenario.domain, variant=name,
            questions=len(turns), asked=[t.attribute for t in turns],
            withheld=len(final.withheld) if final else 0, stop_reason=final.stop_reason if final else None,
            crisis=final.crisis if final else None, route=final.route if final else None,
            gate_score=final.gate_score if final else None, ratings=[st.rating for st in steps], fallbacks=dict(fallbacks),
            user_phrasing_failures=simulated.phrasing_failures, llm_calls=usage.all_calls,
            tokens=usage.tokens, seconds=round(time.perf_counter() - started, 3), error=error)
        log.write(record.model_dump_json() + "\n")
        log.flush()
        if final is None:
            return ResponseRecord(**base, error=error)
        return ResponseRecord(**base, text=final.answer, completion_tokens=usage.completion_tokens,
                              prompt_tokens=usage.prompt_tokens, latency_s=time.perf_counter() - started)

    async def run(self, progress: bool = True) -> RaiseSummary:
        from ..progress import RunProgress

        runner, s = self.runner, self.settings
        n = runner.count_scenarios()
        if s.library:
            self._check_library(Path(s.library))
            self.retriever = Retriever(Path(s.library))
        async with runner.session(n):
            pin_settings(runner.run_dir, SETTINGS, {"raise": s.model_dump(mode="json"),
                                                    "prompts": {**prompts.hashes(*AGENT_TEMPLATES),
                                                                "questions": questions_hash()}})
            agents = self._agents()
            sem = asyncio.Semaphore(runner.config.concurrency)
            cfg = runner.config
            repair_jsonl(runner.run_dir / DIALOGUES)
            with (runner.run_dir / DIALOGUES).open("a", encoding="utf-8") as log, \
                    RunProgress(n, enabled=progress, label="RAISE dialogues") as bar:

                async def one(scenario: Scenario) -> None:
                    async with sem:
                        producers = {name: (lambda a=agent, nm=name: self._dialogue(nm, a, scenario, log))
                                     for name, agent in agents.items()}
                        if "vanilla" in s.variants:
                            producers["vanilla"] = lambda: respond(runner.model, scenario, Context(), cfg.generation,
                                                                   cfg.seed, label="vanilla")
                        await runner.evaluate_answers(scenario, producers)
                    bar.tick()

                with first_error():
                    async with asyncio.TaskGroup() as tg:
                        for scenario in select_scenarios(cfg):
                            tg.create_task(one(scenario))
            if s.benign and agents:
                await run_benign(runner.run_dir, {n: a for n, a in agents.items() if "@" not in n}, cfg.concurrency)
        summary = summarize_raise(runner.run_dir)
        write_model(runner.run_dir / RAISE_SUMMARY, summary)
        return summary


def load_dialogues(run_dir: Path) -> dict[tuple[str, str], DialogueRecord]:
    """The last dialogue per (scenario, variant): a dialogue redone after a crash replaces the first."""
    path = run_dir / DIALOGUES
    if not path.exists():
        return {}
    repair_jsonl(path)
    return {(d.scenario_id, d.variant): d for d in read_records(path, DialogueRecord)}


class VariantSummary(BaseModel):
    pss: Interval | None = None
    by_domain: dict[str, Interval] = Field(default_factory=dict)
    dialogues: int = 0
    mean_questions: float = 0.0
    mean_withheld: float = 0.0
    stop_reasons: dict[str, int] = Field(default_factory=dict)
    crisis: int = 0
    """Dialogues where the router saw a crisis (imminent: the crisis answer; passive: one question at most)."""
    crisis_levels: dict[str, int] = Field(default_factory=dict)
    routes: dict[str, int] = Field(default_factory=dict)
    """Dialogues per route (crisis, agent, direct), as the router decided at the last step."""
    fallbacks: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    user_phrasing_failures: int = 0
    first_question: dict[str, int] = Field(default_factory=dict)
    llm_calls: float = 0.0


class CurvePoint(BaseModel):
    budget: int
    questions: float
    pss: float | None


class RaiseSummary(BaseModel):
    """``raise_summary.json``: questions, stop reasons and fallbacks per variant, joined with
    the Runner's safety per variant and domain, and the safety-versus-questions curve."""

    variants: dict[str, VariantSummary] = Field(default_factory=dict)
    curve: list[CurvePoint] = Field(default_factory=list)
    gate: bool = True
    """Whether the router ran (False: the paper's behaviour, every query interviewed)."""
    benign: dict[str, BenignSummary] = Field(default_factory=dict)
    """Over-asking on the bundled benign set, per agent variant."""


def summarize_raise(run_dir: Path) -> RaiseSummary:
    """Questions, stop reasons and fallbacks per variant; safety per variant and domain comes
    from the run's summary (the Runner's)."""
    dialogues = list(load_dialogues(run_dir).values())
    run_summary = EvalSummary.load(run_dir) if (run_dir / SUMMARY).exists() else None
    safety = run_summary.by_context if run_summary else {}
    by_domain = run_summary.by_context_domain if run_summary else {}
    per_variant: dict[str, list[DialogueRecord]] = defaultdict(list)
    for d in dialogues:
        per_variant[d.variant].append(d)
    variants: dict[str, VariantSummary] = {}
    for name in sorted({*per_variant, *safety}, key=_order):
        failed = [d for d in per_variant.get(name, []) if d.error is not None]
        ds = [d for d in per_variant.get(name, []) if d.error is None]  # errors are counted, not averaged
        fallbacks: Counter[str] = Counter()
        for d in ds:
            fallbacks.update(d.fallbacks)
        variants[name] = VariantSummary(
            pss=safety[name].pss if name in safety else None,
            by_domain={dom: sc.pss for dom, sc in by_domain.get(name, {}).items()},
            dialogues=len(ds),
            mean_questions=round(mean(d.questions for d in ds), 3) if ds else 0.0,
            mean_withheld=round(mean(d.withheld for d in ds), 3) if ds else 0.0,
            stop_reasons=dict(Counter(d.stop_reason for d in ds)),
            crisis=sum(d.crisis is not None for d in ds),
            crisis_levels=dict(Counter(d.crisis for d in ds if d.crisis)),
            routes=dict(Counter(d.route for d in ds if d.route)),
            fallbacks=dict(fallbacks), errors=len(failed),
            user_phrasing_failures=sum(d.user_phrasing_failures for d in ds),
            first_question=dict(Counter(d.asked[0].value for d in ds if d.asked).most_common()),
            llm_calls=round(mean(d.llm_calls for d in ds), 2) if ds else 0.0)
    curve = [CurvePoint(budget=int(name.split("@")[1]), questions=v.mean_questions, pss=v.pss.mean if v.pss else None)
             for name, v in variants.items() if name.startswith("planner@")]
    settings = load_pinned(run_dir, SETTINGS, "raise", RaiseSettings) if (run_dir / SETTINGS).exists() else None
    return RaiseSummary(variants=variants, curve=sorted(curve, key=lambda p: p.budget),
                        gate=settings.agent.gate if settings else True, benign=summarize_benign(run_dir))


def _order(name: str) -> tuple[int, int]:
    base, _, budget = name.partition("@")
    rank = {"vanilla": 0, "agent": 1, "planner": 2}.get(base, 3)
    return (rank, int(budget) if budget else -1)
