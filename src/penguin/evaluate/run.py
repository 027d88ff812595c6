"""Evaluation runs: respond, judge, append, resume.

A run folder holds ``manifest.json`` (everything needed to reproduce or resume it),
``responses.jsonl`` and ``judgements.jsonl`` (appended as items finish) and
``summary.json``. Scenarios are streamed through a bounded queue, so memory stays flat
whatever the dataset size; finished keys are all that a resume keeps in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, AsyncIterator, Awaitable, Callable, Iterator, Literal, TypeVar

from pydantic import BaseModel, Field, field_validator, model_validator

from .. import __version__, prompts
from ..dataset.io import atomic_writer, bundled_path, load_scenarios, read_records, repair_jsonl
from ..dataset.splits import split_of
from ..errors import ConfigError, DataError
from ..models import ChatModel, load_model
from ..schema import DOMAINS, Context, Scenario
from .judge import Judge
from .records import JudgementRecord, ResponseRecord
from .respond import RESPOND_TEMPLATES, GenerationParams, respond

JUDGE_TEMPLATES = ("judge_system", "judge_user")
Producer = Callable[[], Awaitable[ResponseRecord]]
BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


class RunConfig(BaseModel):
    """Everything that defines a run; stored in the manifest and reused by ``--resume``."""

    model: str = "local:smollm2"
    judges: list[str] = Field(default_factory=lambda: ["local:smollm2"])
    dataset: str | None = None
    contexts: list[str] = Field(default_factory=lambda: ["free", "rich"])
    domains: list[str] | None = None
    split: Literal["plan", "dev", "online"] | None = None
    """RAISE's query-level split (dataset/splits.py); None = every scenario."""
    limit: int | None = None
    sample: int | None = None
    per_domain: int | None = None
    seed: int = 0
    generation: GenerationParams = Field(default_factory=GenerationParams)
    judge_output: Literal["auto", "json", "text"] = "auto"
    judge_max_tokens: int = Field(1024, ge=16)
    jury: Literal["mean", "median"] = "mean"
    base_url: str | None = None
    concurrency: int = Field(8, ge=1)

    @field_validator("judges")
    @classmethod
    def _distinct_judges(cls, judges: list[str]) -> list[str]:
        if not judges:
            raise ValueError("at least one judge is needed")
        if len(set(judges)) != len(judges):
            raise ValueError("the same judge is given twice; a jury needs different judges")
        return judges

    @model_validator(mode="after")
    def _one_selection(self) -> "RunConfig":
        if self.sample is not None and self.per_domain is not None:
            raise ValueError("give --sample or --per-domain, not both")
        for name in ("limit", "sample", "per_domain"):
            if (v := getattr(self, name)) is not None and v < 1:
                raise ValueError(f"{name} must be at least 1")
        return self

    def parsed_contexts(self) -> list[Context]:
        try:
            return [Context.parse(c) for c in self.contexts]
        except ValueError as exc:
            raise ConfigError(f"--contexts: {exc}") from exc


class Manifest(BaseModel):
    config: RunConfig
    created: str
    penguin_version: str
    dataset_sha256: str
    prompt_hashes: dict[str, str]
    model_identities: dict[str, str] = Field(default_factory=dict)
    n_items: int = 0
    """Planned (scenario, context) items; for subset analyses, the number of scenarios."""


def dataset_hash(source: str | None) -> str:
    path = bundled_path() if source in (None, "penguin-synthetic") else Path(source)
    try:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    return digest.hexdigest()


def select_scenarios(config: RunConfig) -> Iterator[Scenario]:
    """The run's scenarios, streamed. ``sample``/``per_domain`` keep only the drawn ones
    (reservoir sampling), so even they never hold the whole dataset."""
    domains = set(config.domains or DOMAINS)
    unknown = domains - set(DOMAINS)
    if unknown:
        raise ConfigError(f"unknown domain(s) {', '.join(sorted(unknown))} (choose from {', '.join(DOMAINS)})")
    stream = (s for s in load_scenarios(config.dataset)
              if s.domain in domains and (config.split is None or split_of(s.query) == config.split))
    if config.sample is not None or config.per_domain is not None:
        rng = random.Random(config.seed)
        reservoirs: dict[str, list[tuple[int, Scenario]]] = {}
        seen: dict[str, int] = {}
        for i, s in enumerate(stream):
            bucket = s.domain if config.per_domain is not None else "all"
            size = config.per_domain if config.per_domain is not None else config.sample
            n = seen[bucket] = seen.get(bucket, 0) + 1
            res = reservoirs.setdefault(bucket, [])
            if len(res) < size:  # type: ignore[operator]
                res.append((i, s))
            else:
                j = rng.randrange(n)
                if j < size:  # type: ignore[operator]
                    res[j] = (i, s)
        picked = sorted((p for res in reservoirs.values() for p in res), key=lambda p: p[0])
        stream = (s for _, s in picked)
    for n, s in enumerate(stream):
        if config.limit is not None and n >= config.limit:
            return
        yield s


@dataclass
class RunState:
    """What a resume needs: finished keys, and responses still waiting for a judge.

    With ``keep_verdicts`` (attribute analyses, which revisit subsets) the judgements of
    finished items are kept too; a plain evaluation keeps only keys, so memory stays flat."""

    judged: set[tuple[str, str, str]] = field(default_factory=set)
    responses: dict[tuple[str, str], ResponseRecord] = field(default_factory=dict)
    done: set[tuple[str, str]] = field(default_factory=set)
    verdicts: dict[tuple[str, str], list[JudgementRecord]] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: Path, judges: list[str], keep_verdicts: bool = False) -> "RunState":
        state = cls()
        for path in (run_dir / "responses.jsonl", run_dir / "judgements.jsonl"):
            repair_jsonl(path)
        if (run_dir / "judgements.jsonl").exists():
            for j in read_records(run_dir / "judgements.jsonl", JudgementRecord):
                state.judged.add(j.key)
                if keep_verdicts:
                    state.verdicts.setdefault((j.scenario_id, j.context), []).append(j)
        if (run_dir / "responses.jsonl").exists():
            for r in read_records(run_dir / "responses.jsonl", ResponseRecord):
                if r.error or all((*r.key, j) in state.judged for j in judges):
                    state.done.add(r.key)
                else:
                    state.responses[r.key] = r
        return state


@dataclass
class Counters:
    items: int = 0
    responses: int = 0
    response_errors: int = 0
    judgements: int = 0
    judge_errors: int = 0
    cached: int = 0
    tokens: int = 0

    def describe(self) -> str:
        return f"tok {self.tokens:,} · cached {self.cached} · errors {self.response_errors + self.judge_errors}"


def _emit(fh: IO[str], record: BaseModel) -> None:
    fh.write(record.model_dump_json(exclude_none=True) + "\n")
    fh.flush()  # a record is on disk (in the OS) the moment it is finished


class Runner:
    """One run folder: open it (models, manifest, resume state), evaluate (scenario, context)
    items, close it. Safe to interrupt at any point and resume.

    ``execute`` is the plain evaluation over the configured contexts; attribute analyses
    call ``evaluate`` directly with the contexts their strategy needs."""

    def __init__(self, run_dir: Path, config: RunConfig, *, model: ChatModel | None = None,
                 judges: list[ChatModel] | None = None, keep_verdicts: bool = False, resume: bool = False):
        self.run_dir = run_dir
        self.config = config
        self.resume = resume
        self.contexts = config.parsed_contexts()
        self._model = model
        self._judge_models = judges
        self.keep_verdicts = keep_verdicts
        self.counters = Counters()

    def _manifest(self, n_items: int) -> Manifest:
        return Manifest(
            config=self.config,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            penguin_version=__version__,
            dataset_sha256=dataset_hash(self.config.dataset),
            prompt_hashes=prompts.hashes(*RESPOND_TEMPLATES, *JUDGE_TEMPLATES),
            model_identities={self.model.spec: self.model.identity, **{j.name: j.model.identity for j in self.judges}},
            n_items=n_items,
        )

    def _write_or_check_manifest(self, n_items: int) -> None:
        """A new run writes its manifest; a resumed run must match it, or records would mix."""
        path = self.run_dir / "manifest.json"
        current = self._manifest(n_items)
        if not path.exists():
            if self.resume:
                raise DataError(f"{self.run_dir} is not a run folder (no manifest.json)")
            with atomic_writer(path) as fh:
                fh.write(current.model_dump_json(indent=2))
            return
        stored = load_manifest(self.run_dir)
        for what, old, new in (("dataset", stored.dataset_sha256, current.dataset_sha256),
                               ("prompt templates", stored.prompt_hashes, current.prompt_hashes),
                               ("models", stored.model_identities, current.model_identities)):
            if old != new:
                raise DataError(f"cannot resume {self.run_dir}: the {what} changed since the run started "
                                "(start a new run, or restore the original)")

    def count_scenarios(self) -> int:
        """Validate the selection (domains, files, unique ids) and count it."""
        seen: set[str] = set()
        for s in select_scenarios(self.config):
            if s.id in seen:
                raise DataError(f"scenario id {s.id!r} occurs twice in {self.config.dataset or 'the dataset'}; "
                                "ids must be unique (penguin data validate lists all problems)")
            seen.add(s.id)
        if not seen:
            raise DataError("the selection is empty: no scenarios match the given domains/limits")
        return len(seen)

    @contextlib.asynccontextmanager
    async def session(self, n_items: int) -> AsyncIterator["Runner"]:
        """Load models, write the manifest, load the resume state, open the record files."""
        cfg = self.config
        owned: list[ChatModel] = []  # models this session loaded, closed whatever happens
        started = time.perf_counter()
        try:
            self.model = self._model or load_model(cfg.model, base_url=cfg.base_url, concurrency=cfg.concurrency)
            if self._model is None:
                owned.append(self.model)
            judge_models = self._judge_models or [
                load_model(j, base_url=cfg.base_url, concurrency=cfg.concurrency) for j in cfg.judges
            ]
            if self._judge_models is None:
                owned.extend(judge_models)
            output = None if cfg.judge_output == "auto" else cfg.judge_output
            self.judges = [Judge(m, output=output, max_tokens=cfg.judge_max_tokens) for m in judge_models]
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_or_check_manifest(n_items)
            self.state = RunState.load(self.run_dir, cfg.judges, self.keep_verdicts)
            with (self.run_dir / "responses.jsonl").open("a", encoding="utf-8") as self._resp_fh, \
                 (self.run_dir / "judgements.jsonl").open("a", encoding="utf-8") as self._judge_fh:
                yield self
        finally:
            for m in owned:
                await m.aclose()
        from .metrics import write_summary

        write_summary(self.run_dir, elapsed_s=time.perf_counter() - started, counters=self.counters.__dict__)

    async def _respond(self, scenario: Scenario, name: str, produce: Producer) -> ResponseRecord:
        c = self.counters
        resp = self.state.responses.pop((scenario.id, name), None)
        if resp is None:
            resp = await produce()
            _emit(self._resp_fh, resp)
            c.responses += 1
            c.cached += resp.cached
            c.tokens += resp.prompt_tokens + resp.completion_tokens
            c.response_errors += resp.error is not None
        return resp

    async def _judge(self, scenario: Scenario, resp: ResponseRecord) -> list[JudgementRecord]:
        c = self.counters
        todo = [j for j in self.judges if (*resp.key, j.name) not in self.state.judged]
        verdicts = await asyncio.gather(*(j.score(scenario.profile, scenario.query, resp.text or "") for j in todo))
        records = []
        for v in verdicts:
            rec = JudgementRecord(scenario_id=scenario.id, context=resp.context, **dict(v))
            _emit(self._judge_fh, rec)
            self.state.judged.add(rec.key)
            records.append(rec)
            c.judgements += 1
            c.judge_errors += not v.ok
            c.tokens += v.prompt_tokens + v.completion_tokens
        return records

    async def evaluate(self, scenario: Scenario, contexts: list[Context]) -> dict[str, list[JudgementRecord]]:
        """Respond with each context not yet done and judge; see ``evaluate_answers``."""
        cfg = self.config
        return await self.evaluate_answers(scenario, {
            ctx.name: functools.partial(respond, self.model, scenario, ctx, cfg.generation, cfg.seed)
            for ctx in contexts})

    async def evaluate_answers(self, scenario: Scenario, producers: dict[str, Producer]) -> dict[str, list[JudgementRecord]]:
        """Produce (with ``producers[name]``) and judge each named answer not yet done. With
        ``keep_verdicts`` returns every verdict per name (earlier ones too); otherwise the
        lists are empty. Names are a response's ``context``: an attribute subset for plain
        evaluations, a RAISE variant for agent runs.

        All responses of a scenario come first, then their judgements: consecutive judge
        prompts share rubric, profile and query, which servers and llama.cpp reuse."""
        todo = [name for name in producers if (scenario.id, name) not in self.state.done]
        responses = await asyncio.gather(*(self._respond(scenario, name, producers[name]) for name in todo))
        fresh = await asyncio.gather(*(self._judge(scenario, r) for r in responses if r.error is None))
        for r in responses:
            self.state.done.add(r.key)
        for recs in fresh:
            for rec in recs:
                if self.keep_verdicts:
                    self.state.verdicts.setdefault((rec.scenario_id, rec.context), []).append(rec)
        return {name: self.state.verdicts.get((scenario.id, name), []) for name in producers}

    async def execute(self, progress: bool = True) -> Counters:
        """The plain evaluation: every selected scenario in every configured context."""
        from .progress import RunProgress

        total = self.count_scenarios() * len(self.contexts)
        c = self.counters
        async with self.session(total):
            queue: asyncio.Queue[Scenario | None] = asyncio.Queue(maxsize=2 * self.config.concurrency)

            async def worker() -> None:
                while (scenario := await queue.get()) is not None:
                    await self.evaluate(scenario, self.contexts)
                    c.items += len(self.contexts)
                    bar.update(c.items, c.describe())

            with RunProgress(total, enabled=progress) as bar:
                # A TaskGroup: if a worker fails, the producer and the other workers stop too,
                # instead of the producer waiting for ever on a full queue.
                with first_error():
                    async with asyncio.TaskGroup() as tg:
                        for _ in range(self.config.concurrency):
                            tg.create_task(worker())
                        for scenario in select_scenarios(self.config):
                            if all((scenario.id, ctx.name) in self.state.done for ctx in self.contexts):
                                c.items += len(self.contexts)
                                bar.update(c.items, c.describe())
                            else:
                                await queue.put(scenario)
                        for _ in range(self.config.concurrency):
                            await queue.put(None)
        return c


@contextlib.contextmanager
def first_error() -> Iterator[None]:
    """Around a TaskGroup: surface the first real error, not an ExceptionGroup of them."""
    try:
        yield
    except* Exception as group:
        raise group.exceptions[0] from None


def new_run_dir(root: Path, model: str) -> Path:
    slug = "".join(ch if ch.isalnum() else "-" for ch in model.split("?")[0]).strip("-")[:40]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{slug}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{slug}-{n}"
    return path


def load_manifest(run_dir: Path) -> Manifest:
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise DataError(f"{run_dir} is not a run folder (no manifest.json)")
    try:
        return Manifest.model_validate_json(path.read_text("utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: unreadable manifest ({exc})") from exc


def pin_settings(run_dir: Path, filename: str, settings: dict) -> None:
    """Record the settings of a run that builds on the Runner (planner, RAISE evaluation)
    next to its manifest; a resumed run must have the same, or its records would mix."""
    path = run_dir / filename
    if not path.exists():
        json_dump(path, settings)
        return
    try:
        stored = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"{path}: unreadable ({exc}); restore it or start a new run") from exc
    if stored != json.loads(json.dumps(settings)):
        changed = sorted(k for k in {*stored, *settings} if stored.get(k) != json.loads(json.dumps(settings.get(k))))
        raise DataError(f"cannot resume {run_dir}: {', '.join(changed)} changed since the run started "
                        f"(see {path}); start a new run")


def load_pinned(run_dir: Path, filename: str, key: str, model: type[BaseModelT]) -> BaseModelT:
    """The settings a run pinned with ``pin_settings``, for ``--resume``."""
    try:
        return model(**json.loads((run_dir / filename).read_text())[key])
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{run_dir}: no usable {filename} ({exc}); is this the right kind of run folder?") from exc


def json_dump(path: Path, data: object) -> None:
    with atomic_writer(path) as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
