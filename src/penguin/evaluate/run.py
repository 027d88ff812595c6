"""Evaluation runs: respond, judge, append, resume.

A run folder holds ``manifest.json`` (everything needed to reproduce or resume it),
``responses.jsonl`` and ``judgements.jsonl`` (appended as items finish) and
``summary.json``. Scenarios are streamed through a bounded queue, so memory stays flat
whatever the dataset size; finished keys are all that a resume keeps in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator, Literal

from pydantic import BaseModel, Field

from .. import __version__, prompts
from ..dataset.io import bundled_path, load_scenarios
from ..errors import ConfigError, DataError
from ..models import ChatModel, load_model
from ..schema import DOMAINS, Context, Scenario
from .judge import Judge
from .records import JudgementRecord, ResponseRecord
from .respond import RESPOND_TEMPLATES, GenerationParams, respond

JUDGE_TEMPLATES = ("judge_system", "judge_user")


class RunConfig(BaseModel):
    """Everything that defines a run; stored in the manifest and reused by ``--resume``."""

    model: str = "local:smollm2"
    judges: list[str] = Field(default_factory=lambda: ["local:smollm2"])
    dataset: str | None = None
    contexts: list[str] = Field(default_factory=lambda: ["free", "rich"])
    domains: list[str] | None = None
    limit: int | None = None
    sample: int | None = None
    per_domain: int | None = None
    seed: int = 0
    generation: GenerationParams = Field(default_factory=GenerationParams)
    judge_output: Literal["auto", "json", "text"] = "auto"
    judge_max_tokens: int = 1024
    jury: Literal["mean", "median"] = "mean"
    base_url: str | None = None
    concurrency: int = 8

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
    stream = (s for s in load_scenarios(config.dataset) if s.domain in domains)
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


def repair_jsonl(path: Path) -> None:
    """Drop a torn last line left by a crash mid-write, so appending stays valid JSONL."""
    if not path.exists():
        return
    with path.open("rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)


@dataclass
class RunState:
    """What a resume needs: finished keys, and responses still waiting for a judge."""

    judged: set[tuple[str, str, str]] = field(default_factory=set)
    responses: dict[tuple[str, str], ResponseRecord] = field(default_factory=dict)
    done: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def load(cls, run_dir: Path, judges: list[str]) -> "RunState":
        from ..dataset.io import read_records

        state = cls()
        for path in (run_dir / "responses.jsonl", run_dir / "judgements.jsonl"):
            repair_jsonl(path)
        if (run_dir / "judgements.jsonl").exists():
            for j in read_records(run_dir / "judgements.jsonl", JudgementRecord):
                state.judged.add(j.key)
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


class Runner:
    """Executes one run folder; safe to interrupt at any point and resume."""

    def __init__(self, run_dir: Path, config: RunConfig, *, model: ChatModel | None = None,
                 judges: list[ChatModel] | None = None):
        self.run_dir = run_dir
        self.config = config
        self.contexts = config.parsed_contexts()
        self._model = model
        self._judge_models = judges
        self.counters = Counters()

    def _write_manifest(self, model: ChatModel, judges: list[Judge], n_items: int) -> None:
        manifest_path = self.run_dir / "manifest.json"
        if manifest_path.exists():
            return
        manifest = Manifest(
            config=self.config,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            penguin_version=__version__,
            dataset_sha256=dataset_hash(self.config.dataset),
            prompt_hashes=prompts.hashes(*RESPOND_TEMPLATES, *JUDGE_TEMPLATES),
            model_identities={model.spec: model.identity, **{j.name: j.model.identity for j in judges}},
            n_items=n_items,
        )
        tmp = manifest_path.with_suffix(".part")
        tmp.write_text(manifest.model_dump_json(indent=2))
        tmp.replace(manifest_path)

    async def execute(self, progress: bool = True) -> Counters:
        cfg = self.config
        n_scenarios = sum(1 for _ in select_scenarios(cfg))  # also validates the selection
        if n_scenarios == 0:
            raise DataError("the selection is empty: no scenarios match the given domains/limits")
        total = n_scenarios * len(self.contexts)
        model = self._model or load_model(cfg.model, base_url=cfg.base_url, concurrency=cfg.concurrency)
        judge_models = self._judge_models or [
            load_model(j, base_url=cfg.base_url, concurrency=cfg.concurrency) for j in cfg.judges
        ]
        output = None if cfg.judge_output == "auto" else cfg.judge_output
        judges = [Judge(m, output=output, max_tokens=cfg.judge_max_tokens) for m in judge_models]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_manifest(model, judges, total)
        state = RunState.load(self.run_dir, cfg.judges)
        started = time.perf_counter()
        try:
            with (self.run_dir / "responses.jsonl").open("a", encoding="utf-8") as resp_fh, \
                 (self.run_dir / "judgements.jsonl").open("a", encoding="utf-8") as judge_fh:
                await self._loop(model, judges, state, resp_fh, judge_fh, total, progress)
        finally:
            if self._model is None:
                await model.aclose()
            if self._judge_models is None:
                for m in judge_models:
                    if m is not model:
                        await m.aclose()
        from .metrics import write_summary

        write_summary(self.run_dir, elapsed_s=time.perf_counter() - started, counters=self.counters.__dict__)
        return self.counters

    async def _loop(self, model: ChatModel, judges: list[Judge], state: RunState, resp_fh: IO[str],
                    judge_fh: IO[str], total: int, progress: bool) -> None:
        from .progress import RunProgress

        queue: asyncio.Queue[tuple[Scenario, list[Context]] | None] = asyncio.Queue(maxsize=2 * self.config.concurrency)
        c = self.counters
        bar = RunProgress(total, enabled=progress)

        def emit(fh: IO[str], record: BaseModel) -> None:
            fh.write(record.model_dump_json(exclude_none=True) + "\n")
            fh.flush()

        async def respond_one(scenario: Scenario, context: Context) -> ResponseRecord:
            resp = state.responses.pop((scenario.id, context.name), None)
            if resp is None:
                resp = await respond(model, scenario, context, self.config.generation)
                emit(resp_fh, resp)
                c.responses += 1
                c.cached += resp.cached
                c.tokens += resp.prompt_tokens + resp.completion_tokens
            return resp

        async def judge_one(scenario: Scenario, resp: ResponseRecord) -> None:
            todo = [j for j in judges if (*resp.key, j.name) not in state.judged]
            verdicts = await asyncio.gather(*(j.score(scenario.profile, scenario.query, resp.text or "") for j in todo))
            for v in verdicts:
                emit(judge_fh, JudgementRecord(scenario_id=scenario.id, context=resp.context, judge=v.judge,
                                               scores=v.scores, error=v.error, attempts=v.attempts, raw=v.raw,
                                               prompt_tokens=v.prompt_tokens, completion_tokens=v.completion_tokens))
                c.judgements += 1
                c.judge_errors += not v.ok
                c.tokens += v.prompt_tokens + v.completion_tokens

        async def handle(scenario: Scenario, contexts: list[Context]) -> None:
            # All responses of a scenario first, then their judgements: consecutive judge
            # prompts share the rubric, profile and query, which servers and llama.cpp reuse.
            responses = await asyncio.gather(*(respond_one(scenario, ctx) for ctx in contexts))
            c.response_errors += sum(r.error is not None for r in responses)
            await asyncio.gather(*(judge_one(scenario, r) for r in responses if r.error is None))
            c.items += len(contexts)
            bar.update(c.items, c.describe())

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                await handle(*item)

        with bar:
            workers = [asyncio.create_task(worker()) for _ in range(max(1, self.config.concurrency))]
            try:
                for scenario in select_scenarios(self.config):
                    todo = [ctx for ctx in self.contexts if (scenario.id, ctx.name) not in state.done]
                    c.items += len(self.contexts) - len(todo)
                    if todo:
                        await queue.put((scenario, todo))
                    else:
                        bar.update(c.items, c.describe())
                for _ in workers:
                    await queue.put(None)
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()


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


def json_dump(path: Path, data: object) -> None:
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    tmp.replace(path)
