"""The evaluation engine: respond, judge, append, resume.

Scenarios are streamed through a bounded queue, so memory stays flat whatever the dataset
size; finished keys are all that a resume keeps in memory. The run folder's format (manifest,
resume state, records) is ``folder.py``'s; the engine only opens one, fills it and closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

from .. import __version__, prompts
from ..dataset.sources import dataset_identity
from ..errors import DataError
from ..files import appender, atomic_writer
from ..models import ChatModel, load_model
from ..schema import Context, Scenario
from .config import RunConfig, count_scenarios, select_scenarios
from .folder import (
    JUDGEMENTS,
    MANIFEST,
    RESPONSES,
    Manifest,
    RunKind,
    RunState,
    load_manifest,
)
from .judge import Judge
from .summary import write_summary
from .records import JudgementRecord, ResponseRecord
from .respond import RESPOND_TEMPLATES, respond

JUDGE_TEMPLATES = ("judge_system", "judge_user")
Producer = Callable[[], Awaitable[ResponseRecord]]


@dataclass
class Counters:
    """What one session did (a resume counts only its own work)."""

    items: int = 0
    responses: int = 0
    response_errors: int = 0
    judgements: int = 0
    judge_errors: int = 0
    cached: int = 0
    tokens: int = 0
    retried: int = 0
    """Error records attempted again (``retry_errors``)."""
    recovered: int = 0
    """Of those, how many now succeeded."""

    def describe(self) -> str:
        return f"tok {self.tokens:,} · cached {self.cached} · errors {self.response_errors + self.judge_errors}"

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Runner:
    """One run folder: open it (models, manifest, resume state), evaluate (scenario, context)
    items, close it. Safe to interrupt at any point and resume.

    Args:
        run_dir: the folder (created if new).
        config: the run's settings; on resume, the manifest's.
        model, judges: already loaded models to use instead of loading ``config``'s specs.
        kind: what the folder holds (eval, attributes, subsets, plan, raise); the manifest says it.
        keep_verdicts: keep every judgement in memory (analyses and planners revisit them).
        resume: the folder must exist with a manifest that matches.
        retry_errors: on resume, attempt again the responses and judgements recorded as errors.

    ``execute`` is the plain evaluation over the configured contexts; attribute analyses,
    planners and RAISE call ``evaluate`` / ``evaluate_answers`` with what they need."""

    def __init__(self, run_dir: Path, config: RunConfig, *, model: ChatModel | None = None,
                 judges: list[ChatModel] | None = None, kind: RunKind = "eval", keep_verdicts: bool = False,
                 resume: bool = False, retry_errors: bool = False):
        self.run_dir = run_dir
        self.config = config
        self.kind = kind
        self.resume = resume
        self.retry_errors = retry_errors
        self.contexts = config.parsed_contexts()
        self._model = model
        self._judge_models = judges
        self.keep_verdicts = keep_verdicts
        self.counters = Counters()

    def _manifest(self, n_items: int) -> Manifest:
        sha, revision = dataset_identity(self.config.dataset)
        return Manifest(
            config=self.config, kind=self.kind,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            penguin_version=__version__, dataset_sha256=sha, dataset_revision=revision,
            prompt_hashes=prompts.hashes(*RESPOND_TEMPLATES, *JUDGE_TEMPLATES),
            model_identities={self.model.spec: self.model.identity, **{j.name: j.model.identity for j in self.judges}},
            n_items=n_items,
        )

    def _write_or_check_manifest(self, n_items: int) -> None:
        """A new run writes its manifest; a resumed run must match it, or records would mix."""
        path = self.run_dir / MANIFEST
        current = self._manifest(n_items)
        if not path.exists():
            if self.resume:
                raise DataError(f"{self.run_dir} is not a run folder (no manifest.json)")
            with atomic_writer(path) as fh:
                fh.write(current.model_dump_json(indent=2))
            return
        stored = load_manifest(self.run_dir)
        for what, old, new in (("dataset", stored.dataset_sha256, current.dataset_sha256),
                               ("dataset revision", stored.dataset_revision, current.dataset_revision),
                               ("prompt templates", stored.prompt_hashes, current.prompt_hashes),
                               ("models", stored.model_identities, current.model_identities)):
            if old != new:
                raise DataError(f"cannot resume {self.run_dir}: the {what} changed since the run started "
                                "(start a new run, or restore the original)")

    def count_scenarios(self) -> int:
        """Validate the selection (domains, files, unique ids) and count it."""
        return count_scenarios(self.config)

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
            self.state = RunState.load(self.run_dir, cfg.judges, self.keep_verdicts, self.retry_errors)
            with appender(self.run_dir / RESPONSES) as self._emit_response, \
                 appender(self.run_dir / JUDGEMENTS) as self._emit_judgement:
                yield self
        finally:
            for m in owned:
                await m.aclose()
        write_summary(self.run_dir, elapsed_s=time.perf_counter() - started, counters=self.counters.as_dict())

    def _count_retry(self, key: tuple, ok: bool) -> None:
        if key in self.state.retrying:
            self.state.retrying.discard(key)
            self.counters.retried += 1
            self.counters.recovered += ok

    async def _respond(self, scenario: Scenario, name: str, produce: Producer) -> ResponseRecord:
        c = self.counters
        resp = self.state.responses.pop((scenario.id, name), None)
        if resp is None:
            resp = await produce()
            self._emit_response(resp)
            c.responses += 1
            c.cached += resp.cached
            c.tokens += resp.prompt_tokens + resp.completion_tokens
            c.response_errors += resp.error is not None
            self._count_retry(resp.key, resp.error is None)
        return resp

    async def _judge(self, scenario: Scenario, resp: ResponseRecord) -> list[JudgementRecord]:
        c = self.counters
        todo = [j for j in self.judges if (*resp.key, j.name) not in self.state.judged]
        verdicts = await asyncio.gather(*(j.score(scenario.profile, scenario.query, resp.text or "", scenario.background)
                                            for j in todo))
        records = []
        for v in verdicts:
            rec = JudgementRecord(scenario_id=scenario.id, context=resp.context, **dict(v))
            self._emit_judgement(rec)
            self.state.judged.add(rec.key)
            records.append(rec)
            c.judgements += 1
            c.judge_errors += not v.ok
            c.tokens += v.prompt_tokens + v.completion_tokens
            self._count_retry(rec.key, v.ok)
        return records

    def pending(self, scenario_id: str, names: list[str]) -> list[str]:
        """The named answers of a scenario this session still has to produce or judge."""
        return [n for n in names if (scenario_id, n) not in self.state.done]

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
        todo = self.pending(scenario.id, list(producers))
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
        from ..progress import RunProgress

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
                            if not self.pending(scenario.id, [ctx.name for ctx in self.contexts]):
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
