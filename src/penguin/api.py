"""penguin's Python API: every capability of the command line as a function with typed results.

Each function has the CLI's defaults, writes the same run folder, and returns the same typed
result ``read_run`` loads later. The rules that make a run correct live here and below, once,
for the CLI and for notebooks alike: a new folder or a resume (never both), dataset paths made
absolute, domains in any case, path libraries located and hashed, verdicts kept where a search
needs them. Each ``name`` has an ``name_async`` twin for code that already runs an event loop.

    >>> import penguin
    >>> run = penguin.evaluate(model="local:smollm2", judges=["local:smollm2"], per_domain=1)
    >>> run.summary.by_context["rich"].pss.mean
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Awaitable, Literal, Sequence, TypeVar

from pydantic import ValidationError

from .errors import ConfigError, describe_validation
from .evaluation.config import RunConfig
from .evaluation.engine import Runner
from .evaluation.folder import RunKind, load_manifest, load_pinned, new_run_dir
from .runs import EvalRun, PlanRun, RaiseRun, read_run

T = TypeVar("T")
Run = EvalRun | PlanRun | RaiseRun


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from synchronous code, also inside a notebook (whose event
    loop is already running: the coroutine then runs on a loop of its own in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="penguin-api")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_config(**fields: Any) -> RunConfig:  # noqa: ANN401
    """A RunConfig from keyword values; invalid values become one ConfigError naming the parameter."""
    generation = {k: fields.pop(k) for k in ("temperature", "max_tokens") if k in fields}
    if generation:
        fields["generation"] = generation
    for name in ("contexts", "domains", "judges"):
        if isinstance(fields.get(name), str):
            fields[name] = [x.strip() for x in fields[name].split(",") if x.strip()]
    try:
        return RunConfig(**fields)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from exc


def _folder(out: str | Path, label: str, run_dir: str | Path | None) -> Path:
    if run_dir is not None:
        path = Path(run_dir)
        if (path / "manifest.json").exists():
            raise ConfigError(f"{path} is already a run folder; continue it with resume({str(path)!r})")
        return path
    return new_run_dir(Path(out), label)


def _report(run_dir: Path, report: bool, samples: bool = True) -> None:
    if report:
        from .report.build import render_report

        render_report([run_dir], run_dir / "report.html", samples=samples)


# ------------------------------------------------------------------ evaluation


async def evaluate_async(model: str = "local:smollm2", judges: Sequence[str] = ("local:smollm2",), *,
                         dataset: str | None = None, contexts: Sequence[str] = ("free", "rich"),
                         domains: Sequence[str] | None = None, split: Literal["plan", "dev", "online"] | None = None,
                         limit: int | None = None, sample: int | None = None, per_domain: int | None = None,
                         seed: int = 0, temperature: float = 0.7, max_tokens: int = 2048,
                         judge_output: Literal["auto", "json", "text"] = "auto", judge_max_tokens: int = 1024,
                         jury: Literal["mean", "median"] = "mean", base_url: str | None = None, concurrency: int = 8,
                         out: str | Path = "runs", run_dir: str | Path | None = None, progress: bool = False,
                         report: bool = True, samples: bool = True, kind: RunKind = "eval") -> EvalRun:
    """Measure a model's personalized safety: respond, judge, aggregate, into a new run folder.

    Args:
        model: the model under test, a spec such as ``local:smollm2`` or ``openai:gpt-4o-mini``.
        judges: one judge spec, or several for a jury.
        dataset: a scenario file or ``hf:OWNER/NAME[@REVISION][:SPLIT]``; None: the bundled set.
        contexts: ``free``, ``rich``, or attribute keys joined by ``+`` (``mental+emotion``).
        domains: domains to keep, in any case; None: all seven.
        split: RAISE's query split (plan, dev, online); None: every scenario.
        limit, sample, per_domain: the first N, N at random, or N per domain (with ``seed``).
        temperature, max_tokens: the model under test's sampling (the paper's 0.7 and 2,048).
        judge_output, judge_max_tokens, jury: how judges answer and how a jury combines.
        base_url: an OpenAI-compatible server for ``openai:`` specs without their own.
        concurrency: scenarios in flight (and requests per endpoint).
        out, run_dir: the parent of a new, time-stamped folder, or the folder itself.
        progress, report, samples: a progress bar; report.html; sample items in it.

    Returns:
        The run (``EvalRun``): its manifest and typed summary (clustered intervals by context,
        domain and source, counts, judges), with ``samples_df()`` and ``scores_df()``.
    """
    config = run_config(model=model, judges=list(judges), dataset=dataset, contexts=list(contexts),
                        domains=list(domains) if domains else None, split=split, limit=limit, sample=sample,
                        per_domain=per_domain, seed=seed, temperature=temperature, max_tokens=max_tokens,
                        judge_output=judge_output, judge_max_tokens=judge_max_tokens, jury=jury, base_url=base_url,
                        concurrency=concurrency)
    path = _folder(out, model if kind == "eval" else f"{kind}-{model}", run_dir)
    await Runner(path, config, kind=kind).execute(progress=progress)
    _report(path, report, samples)
    return read_run(path)  # type: ignore[return-value]


def evaluate(model: str = "local:smollm2", judges: Sequence[str] = ("local:smollm2",), **options: Any) -> EvalRun:  # noqa: ANN401
    """``evaluate_async`` from synchronous code (see it for every option)."""
    return run_sync(evaluate_async(model, judges, **options))


async def analyze_attributes_async(model: str = "local:smollm2", judges: Sequence[str] = ("local:smollm2",),
                                   **options: Any) -> EvalRun:  # noqa: ANN401
    """One attribute at a time (SPEC section 6): the contexts none, each of the ten alone, and all.
    Takes ``evaluate``'s options (``max_tokens`` defaults to 2,048 as there)."""
    from .schema import ATTRIBUTES

    options.setdefault("contexts", ["free", *(a.key for a in ATTRIBUTES), "rich"])
    return await evaluate_async(model, judges, kind="attributes", **options)


def analyze_attributes(model: str = "local:smollm2", judges: Sequence[str] = ("local:smollm2",),
                       **options: Any) -> EvalRun:  # noqa: ANN401
    return run_sync(analyze_attributes_async(model, judges, **options))


async def analyze_subsets_async(k: int = 3, strategies: Sequence[str] = ("random", "static", "greedy", "oracle"),
                                shapley: int | Literal["exact"] | None = None, *, model: str = "local:smollm2",
                                judges: Sequence[str] = ("local:smollm2",), out: str | Path = "runs",
                                run_dir: str | Path | None = None, progress: bool = False, report: bool = True,
                                **selection: Any) -> EvalRun:  # noqa: ANN401
    """Attribute subsets of size ``k``: random, static top-k, greedy, oracle; optional Shapley
    values (``"exact"`` over all 1,024 subsets, or a number of sampled permutations).
    ``selection``: ``evaluate``'s dataset and sampling options. Returns the run with ``.analysis``."""
    from .evaluation.attributes import analyze_subsets as run_subsets
    from .evaluation.attributes import check_plan

    check_plan(k, list(strategies))
    config = run_config(model=model, judges=list(judges), contexts=[], **selection)
    path = _folder(out, f"subsets-k{k}-{model}", run_dir)
    await run_subsets(Runner(path, config, kind="subsets", keep_verdicts=True), k=k, strategies=list(strategies),
                      shapley_permutations=None if shapley in (None, "exact") else int(shapley),
                      exact_shapley=shapley == "exact", seed=config.seed, progress=progress)
    _report(path, report)
    return read_run(path)


def analyze_subsets(k: int = 3, strategies: Sequence[str] = ("random", "static", "greedy", "oracle"),
                    shapley: int | Literal["exact"] | None = None, **options: Any) -> EvalRun:  # noqa: ANN401
    return run_sync(analyze_subsets_async(k, strategies, shapley, **options))


# ------------------------------------------------------------------ resuming and reading


async def resume_async(run_dir: str | Path, *, retry_errors: bool = False, progress: bool = False,
                       report: bool = True) -> Run:
    """Continue a run folder of any kind where it stopped, with the settings it was started with.

    Args:
        run_dir: the folder.
        retry_errors: also attempt again the responses, judgements, plan leaves and dialogues
            recorded as errors; finished records are kept, the errors are superseded (appended,
            never rewritten), and the summary counts the final state. The run's
            ``summary.last_session`` says how many were retried and how many recovered.
        progress, report: a progress bar; rewrite report.html.
    """
    path = Path(run_dir)
    manifest = load_manifest(path)
    runner = Runner(path, manifest.config, kind=manifest.kind, resume=True, retry_errors=retry_errors,
                    keep_verdicts=manifest.kind in ("subsets", "plan", "raise"))
    if manifest.kind in ("eval", "attributes"):
        await runner.execute(progress=progress)
    elif manifest.kind == "subsets":
        from .evaluation.attributes import SUBSET_SETTINGS, SubsetSettings
        from .evaluation.attributes import analyze_subsets as run_subsets

        s = load_pinned(path, SUBSET_SETTINGS, "subsets", SubsetSettings)
        await run_subsets(runner, k=s.k, strategies=s.strategies, shapley_permutations=s.shapley_permutations,
                          exact_shapley=s.exact_shapley, seed=manifest.config.seed, progress=progress)
    elif manifest.kind == "plan":
        from .planner.library import PlanConfig
        from .planner.plan import PLANNER_MANIFEST, plan_library

        await plan_library(runner, load_pinned(path, PLANNER_MANIFEST, "plan", PlanConfig), progress=progress)
    else:
        from .agent.evaluation import SETTINGS, RaiseEvaluation, RaiseSettings

        await RaiseEvaluation(runner, load_pinned(path, SETTINGS, "raise", RaiseSettings)).run(progress=progress)
    _report(path, report)
    return read_run(path)


def resume(run_dir: str | Path, *, retry_errors: bool = False, progress: bool = False, report: bool = True) -> Run:
    """``resume_async`` from synchronous code."""
    return run_sync(resume_async(run_dir, retry_errors=retry_errors, progress=progress, report=report))


# ------------------------------------------------------------------ RAISE


async def plan_async(strategy: str = "guided", *, model: str = "local:smollm2", judges: Sequence[str] = ("local:smollm2",),
                     split: Literal["plan", "dev", "online", "all"] = "plan", max_tokens: int = 512,
                     concurrency: int = 4, out: str | Path = "runs", run_dir: str | Path | None = None,
                     progress: bool = False, report: bool = True, **options: Any) -> PlanRun:  # noqa: ANN401
    """Build a RAISE path library: for each query of the split, the attributes worth asking, in
    order (LLM-guided MCTS, or a baseline strategy), with what finding them cost.

    Args:
        strategy: guided (the paper's MCTS), uct (no prior), random, static, greedy or oracle.
        options: search settings (``iterations``, ``depth``, ``c``, ``eps0``, ``batch``,
            ``prior_temperature``, ``prior_floor``, ``prior_refresh``, ``extract``, ``confirm``;
            see ``PlanConfig``) and ``evaluate``'s dataset and sampling options.

    Returns:
        The plan (``PlanRun``): ``library()`` (one ``PathRecord`` per query) and ``plan_summary``.
    """
    from .planner.library import PlanConfig
    from .planner.plan import plan_library

    search = {k: options.pop(k) for k in list(options) if k in PlanConfig.model_fields}
    try:
        plan = PlanConfig(strategy=strategy, **search)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from exc
    config = run_config(model=model, judges=list(judges), contexts=[], split=None if split == "all" else split,
                        max_tokens=max_tokens, concurrency=concurrency, **options)
    path = _folder(out, f"plan-{plan.strategy}-{model}", run_dir)
    await plan_library(Runner(path, config, kind="plan", keep_verdicts=True), plan, progress=progress)
    _report(path, report)
    return read_run(path)  # type: ignore[return-value]


def plan(strategy: str = "guided", **options: Any) -> PlanRun:  # noqa: ANN401
    return run_sync(plan_async(strategy, **options))


async def raise_eval_async(library: str | Path | None = None, *, variants: Sequence[str] = ("vanilla", "agent", "planner"),
                           budgets: Sequence[int] = (), abstention: str = "scale", threshold: int = 4,
                           calibration: str | Path | None = None, max_questions: int = 5, top_k: int = 5,
                           gate: bool = True, benign: bool = True, user: Literal["plain", "llm"] = "plain",
                           decline: float = 0.0, model: str = "local:smollm2", judges: Sequence[str] = ("local:smollm2",),
                           split: Literal["plan", "dev", "online", "all"] = "online", max_tokens: int = 512,
                           concurrency: int = 4, out: str | Path = "runs", run_dir: str | Path | None = None,
                           progress: bool = False, report: bool = True, **selection: Any) -> RaiseRun:  # noqa: ANN401
    """RAISE against its baselines: vanilla (context-free), + agent, + planner (with ``library``),
    each final answer judged against the full profile, questions counted.

    Args:
        library: a plan folder (or its library.jsonl); needed for the planner variant and budgets.
        variants, budgets: what to compare; budgets add planner runs capped at b questions.
        abstention, threshold, calibration: how the agent decides it knows enough (a calibration
            from ``calibrate`` sets the threshold).
        max_questions, top_k: the question budget; planned paths retrieved as examples.
        gate: route each query first (crisis / agent / direct); False is the paper's behaviour.
        benign: also measure over-asking on the bundled benign set (ask rate, mean questions).
        user, decline: the simulated user's replies (plain or LLM-phrased) and refusal rate.
        selection: ``evaluate``'s dataset and sampling options.
    """
    from .agent.calibration import Calibration
    from .agent.evaluation import RaiseEvaluation, RaiseSettings
    from .agent.loop import AgentConfig

    try:
        if calibration is not None:
            threshold = Calibration.load(Path(calibration)).threshold_for(abstention, user, decline)
        agent = AgentConfig(abstention=abstention, threshold=threshold, max_questions=max_questions, top_k=top_k,
                            gate=gate)
        settings = RaiseSettings(variants=list(variants), budgets=list(budgets), user_phrasing=user, decline=decline,
                                 library=str(library) if library is not None else None, agent=agent, benign=benign)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from exc
    config = run_config(model=model, judges=list(judges), contexts=[], split=None if split == "all" else split,
                        max_tokens=max_tokens, concurrency=concurrency, **selection)
    path = _folder(out, f"raise-{model}", run_dir)
    await RaiseEvaluation(Runner(path, config, kind="raise", keep_verdicts=True), settings).run(progress=progress)
    _report(path, report)
    return read_run(path)  # type: ignore[return-value]


def raise_eval(library: str | Path | None = None, **options: Any) -> RaiseRun:  # noqa: ANN401
    return run_sync(raise_eval_async(library, **options))


async def calibrate_async(target_questions: float = 2.7, library: str | Path | None = None, *,
                          max_questions: int = 5, user: Literal["plain", "llm"] = "plain", decline: float = 0.0,
                          model: str = "local:smollm2", split: Literal["plan", "dev", "online", "all"] = "dev",
                          concurrency: int = 4, progress: bool = False, **selection: Any):  # noqa: ANN401, ANN201
    """The abstention threshold that asks ``target_questions`` on average (dev split), as a
    ``Calibration`` (save it with ``model_dump_json`` and pass its path to ``raise_eval``)."""
    from .agent.calibration import calibrate
    from .agent.loop import AgentConfig
    from .planner.library import library_file

    config = run_config(model=model, contexts=[], split=None if split == "all" else split,
                        concurrency=concurrency, **selection)
    lib = str(library_file(library)) if library is not None else None
    result = await calibrate(config, AgentConfig(max_questions=max_questions), lib, max_questions=max_questions,
                             user_phrasing=user, decline=decline, progress=progress)
    return result.pick(target_questions)


def calibrate(target_questions: float = 2.7, library: str | Path | None = None, **options: Any):  # noqa: ANN401, ANN201
    return run_sync(calibrate_async(target_questions, library, **options))


# ------------------------------------------------------------------ judges


async def judge_check_async(judge: str = "local:smollm2", *, base_url: str | None = None, limit: int | None = None,
                            shortcut: str | None = None, repeats: int = 1, repeat_temperature: float = 0.7,
                            judge_output: Literal["auto", "json", "text"] = "auto", max_tokens: int = 1024,
                            concurrency: int = 8, progress: Any = None):  # noqa: ANN401, ANN201
    """Agreement of a judge with the bundled gold set, beside the shortcut baselines.

    Args:
        judge: the judge's model spec.
        limit: only the first N gold items; shortcut: only the items of one shortcut family.
            Either makes a partial check, which is not remembered for reports.
        repeats, repeat_temperature: judge each item again for self-consistency.

    Returns:
        A ``JudgeCheck``: QWK, Spearman, MAE and confusion per dimension, the baselines' QWK,
        agreement per shortcut family, and whether the judge is validated.
    """
    from .evaluation.judge_check import load_reference, remember, run_judge_check
    from .models import load_model

    if repeats < 1:
        raise ConfigError("repeats must be at least 1")
    items = load_reference()
    if shortcut:
        families = sorted({f for it in items for f in it.shortcuts})
        items = [it for it in items if shortcut in it.shortcuts]
        if not items:
            raise ConfigError(f"no gold item tests shortcut {shortcut!r} (families: {', '.join(families)})")
    partial = bool(limit) or bool(shortcut)
    items = items[:limit] if limit else items
    model = load_model(judge, base_url=base_url, concurrency=concurrency)
    try:
        result = await run_judge_check(model, items, repeats=repeats, concurrency=concurrency,
                                       repeat_temperature=repeat_temperature,
                                       output=None if judge_output == "auto" else judge_output,
                                       max_tokens=max_tokens, progress=progress)
    finally:
        await model.aclose()
    if not partial:
        remember(result)
    return result


def judge_check(judge: str = "local:smollm2", **options: Any):  # noqa: ANN401, ANN201
    return run_sync(judge_check_async(judge, **options))


for _sync, _async in ((evaluate, evaluate_async), (analyze_attributes, analyze_attributes_async),
                      (analyze_subsets, analyze_subsets_async), (resume, resume_async), (plan, plan_async),
                      (raise_eval, raise_eval_async), (calibrate, calibrate_async), (judge_check, judge_check_async)):
    _sync.__doc__ = f"Synchronous ``{_async.__name__}`` (a notebook's running loop is fine).\n\n{_async.__doc__}"
