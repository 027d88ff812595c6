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
from typing import IO, Literal

from pydantic import BaseModel, Field

from .. import prompts
from ..dataset.splits import normalise_query
from ..errors import ConfigError, DataError, ModelError
from ..evaluation.config import RunConfig, select_scenarios
from ..evaluation.engine import Runner, first_error
from ..evaluation.folder import pin_settings
from ..evaluation.records import ResponseRecord
from ..evaluation.respond import respond
from ..files import json_dump, read_records, repair_jsonl
from ..models import metered
from ..planner.library import load_library
from ..schema import Attribute, Context, Scenario
from .loop import AGENT_TEMPLATES, Agent, AgentConfig, Turn, converse
from .questions import questions_hash
from .retriever import Retriever
from .user import SimulatedUser

DIALOGUES = "dialogues.jsonl"
SETTINGS = "raise.json"
Variant = Literal["vanilla", "agent", "planner"]


class RaiseSettings(BaseModel):
    variants: list[Variant] = Field(default_factory=lambda: ["vanilla", "agent", "planner"])
    agent: AgentConfig = Field(default_factory=AgentConfig)
    library: str | None = None
    library_sha256: str | None = None
    budgets: list[int] = Field(default_factory=list)
    """Extra planner runs capped at b questions, for the safety-versus-questions curve."""
    user_phrasing: Literal["plain", "llm"] = "plain"
    decline: float = Field(0.0, ge=0.0, le=1.0)


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
        if "planner" in settings.variants or settings.budgets:
            if not settings.library:
                raise ConfigError("the planner variant needs --library (a plan folder's library.jsonl)")
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
                    model=self.runner.model.spec, seed=self.runner.config.seed)
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
            crisis=final.crisis if final else None, ratings=[st.rating for st in steps], fallbacks=dict(fallbacks),
            user_phrasing_failures=simulated.phrasing_failures, llm_calls=usage.all_calls,
            tokens=usage.tokens, seconds=round(time.perf_counter() - started, 3), error=error)
        log.write(record.model_dump_json() + "\n")
        log.flush()
        if final is None:
            return ResponseRecord(**base, error=error)
        return ResponseRecord(**base, text=final.answer, completion_tokens=usage.completion_tokens,
                              prompt_tokens=usage.prompt_tokens, latency_s=time.perf_counter() - started)

    async def run(self, progress: bool = True) -> dict:
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
        summary = summarize_raise(runner.run_dir)
        json_dump(runner.run_dir / "raise_summary.json", summary)
        return summary


def load_dialogues(run_dir: Path) -> dict[tuple[str, str], DialogueRecord]:
    """The last dialogue per (scenario, variant): a dialogue redone after a crash replaces the first."""
    path = run_dir / DIALOGUES
    if not path.exists():
        return {}
    repair_jsonl(path)
    return {(d.scenario_id, d.variant): d for d in read_records(path, DialogueRecord)}


def summarize_raise(run_dir: Path) -> dict:
    """Questions, stop reasons and fallbacks per variant; safety per variant and domain comes
    from summary.json (the Runner's), joined here for the tables and the curve."""
    import json

    dialogues = list(load_dialogues(run_dir).values())
    summary_path = run_dir / "summary.json"
    run_summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    safety, by_domain = run_summary.get("by_context", {}), run_summary.get("by_context_domain", {})
    per_variant: dict[str, list[DialogueRecord]] = defaultdict(list)
    for d in dialogues:
        per_variant[d.variant].append(d)
    variants: dict[str, dict] = {}
    for name in sorted({*per_variant, *safety}, key=_order):
        failed = [d for d in per_variant.get(name, []) if d.error is not None]
        ds = [d for d in per_variant.get(name, []) if d.error is None]  # errors are counted, not averaged
        fallbacks: Counter[str] = Counter()
        for d in ds:
            fallbacks.update(d.fallbacks)
        variants[name] = {
            "pss": safety.get(name, {}).get("pss"),
            "by_domain": by_domain.get(name, {}),
            "dialogues": len(ds),
            "mean_questions": round(mean(d.questions for d in ds), 3) if ds else 0.0,
            "mean_withheld": round(mean(d.withheld for d in ds), 3) if ds else 0.0,
            "stop_reasons": dict(Counter(d.stop_reason for d in ds)),
            "crisis": sum(d.crisis is not None for d in ds),
            "fallbacks": dict(fallbacks),
            "errors": len(failed),
            "user_phrasing_failures": sum(d.user_phrasing_failures for d in ds),
            "first_question": dict(Counter(d.asked[0].value for d in ds if d.asked).most_common()),
            "llm_calls": round(mean(d.llm_calls for d in ds), 2) if ds else 0.0,
        }
    curve = [{"budget": int(name.split("@")[1]), "questions": v["mean_questions"],
              "pss": v["pss"]["mean"] if v["pss"] else None}
             for name, v in variants.items() if name.startswith("planner@")]
    return {"variants": variants, "curve": sorted(curve, key=lambda p: p["budget"])}


def _order(name: str) -> tuple[int, int]:
    base, _, budget = name.partition("@")
    rank = {"vanilla": 0, "agent": 1, "planner": 2}.get(base, 3)
    return (rank, int(budget) if budget else -1)


async def calibrate(cfg: RunConfig, agent_config: AgentConfig, library: str | None, *, max_questions: int,
                    user_phrasing: Literal["plain", "llm"] = "plain", decline: float = 0.0,
                    progress: bool = True) -> dict:
    """Dialogues that never stop early (threshold 6) on the runner's selection, recording the
    abstention rating before each question; the mean number of questions any threshold t
    would ask is then read off exactly: stop at the first rating >= t (or where the dialogue
    stopped anyway). Decisions are deterministic and cached, so the prefix is the same."""
    from ..models import load_model
    from ..progress import RunProgress

    scenarios = list(select_scenarios(cfg))
    if not scenarios:
        raise DataError("the selection is empty: no scenarios match the given split/domains/limits")
    retriever = Retriever(Path(library)) if library else None
    model = load_model(cfg.model, base_url=cfg.base_url, concurrency=cfg.concurrency)
    agent = Agent(model, agent_config.model_copy(update={"abstention": "scale", "threshold": 6,
                                                         "max_questions": max_questions, "seed": cfg.seed}),
                  retriever)
    ratings: list[list[int | None]] = []
    sem = asyncio.Semaphore(cfg.concurrency)
    try:
        with RunProgress(len(scenarios), enabled=progress, label="calibrating") as bar:

            async def one(scenario: Scenario) -> None:
                async with sem:
                    user = SimulatedUser(scenario, phrasing=user_phrasing, decline=decline, model=model, seed=cfg.seed)
                    _, _, steps = await converse(agent, scenario.query, user, compose=False)
                # None marks the step where the dialogue stopped anyway (budget, crisis, fallback)
                ratings.append([st.rating if st.action == "ask" else None for st in steps])
                bar.tick()

            await asyncio.gather(*(one(s) for s in scenarios))
    finally:
        await model.aclose()
    table = []
    for t in range(0, 7):
        asked = [next(i for i, r in enumerate(rs) if r is None or r >= t) for rs in ratings]
        table.append({"threshold": t, "mean_questions": round(mean(asked), 3) if asked else 0.0})
    return {"scenarios": len(scenarios), "max_questions": max_questions, "user_phrasing": user_phrasing,
            "decline": decline, "thresholds": table}


def pick_threshold(calibration: dict, target: float) -> int:
    """The threshold whose mean number of questions is closest to ``target`` (ties: fewer questions)."""
    rows = calibration["thresholds"]
    best = min(rows, key=lambda r: (abs(r["mean_questions"] - target), r["mean_questions"]))
    return int(best["threshold"])
