"""The ``penguin`` command: thin wrappers that parse options and call the modules."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Callable, List, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from .. import __version__
from ..errors import PenguinError

F = TypeVar("F", bound=Callable[..., object])

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="penguin: benchmark and improve the personalized safety of LLMs (PENGUIN + RAISE).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="List backends and check that a model answers.", no_args_is_help=True)
cache_app = typer.Typer(help="Inspect or clear the response cache.", no_args_is_help=True)
data_app = typer.Typer(help="Build, import, export, validate and describe PENGUIN data.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(cache_app, name="cache")
app.add_typer(data_app, name="data")
analyze_app = typer.Typer(help="Which attributes matter: one at a time, subsets, Shapley values.", no_args_is_help=True)
app.add_typer(analyze_app, name="analyze")


def friendly(fn: F) -> F:
    """Turn PenguinErrors (and Ctrl-C) into one clear line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)
        except PenguinError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # unwritable output folder, full disk...
            where = f": {exc.filename}" if exc.filename else ""
            err_console.print(f"[bold red]error:[/] {exc.strerror or exc}{where}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: finished records are saved "
                              "(eval and analyze runs continue with --resume)")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"penguin {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """penguin: personalized safety for LLMs."""


ModelOpt = typer.Option("local:smollm2", "--model", "-m", help="Model spec, e.g. local:smollm2, openai:gpt-4o-mini.")
BaseUrlOpt = typer.Option(None, "--base-url", help="Base URL of an OpenAI-compatible server (else OPENAI_BASE_URL).")


# ------------------------------------------------------------------ models


@models_app.command("list")
@friendly
def models_list() -> None:
    """Show the available backends and the bundled local models."""
    from ..models.local import BUNDLED
    from ..models.spec import BACKENDS

    table = Table(title="Backends", show_lines=True)
    table.add_column("backend")
    table.add_column("how to use")
    for name, text in BACKENDS.items():
        table.add_row(name, text)
    console.print(table)
    bundled = Table(title="Bundled local models")
    bundled.add_column("spec")
    bundled.add_column("model")
    for name, (_, _, _, desc) in BUNDLED.items():
        bundled.add_row(f"local:{name}", desc)
    console.print(bundled)


@models_app.command("check")
@friendly
def models_check(
    spec: str = typer.Argument(..., help="Model spec to check."),
    base_url: Optional[str] = BaseUrlOpt,
    max_tokens: int = typer.Option(48, help="Tokens to generate."),
) -> None:
    """Send one tiny request (bypassing the cache) and print latency and tokens/s."""
    from ..models import ChatRequest, load_model

    async def check() -> None:
        model = load_model(spec, base_url=base_url, cache=False)
        try:
            req = ChatRequest.chat(None, "In one sentence, what is a good way to start the day?",
                                   temperature=0.0, max_tokens=max_tokens, seed=0)
            result = await model.generate(req)
        finally:
            await model.aclose()
        rate = result.completion_tokens / result.latency_s if result.latency_s else 0.0
        console.print(f"[green]ok[/] {spec} ({model.identity[:40]})")
        console.print(f"answer: {result.text.strip()[:200]!r}")
        console.print(
            f"latency {result.latency_s:.2f} s · prompt {result.prompt_tokens} tok · "
            f"completion {result.completion_tokens} tok · {rate:.1f} tok/s"
        )

    asyncio.run(check())


# ------------------------------------------------------------------ cache


@cache_app.command("stats")
@friendly
def cache_stats() -> None:
    """Entries and size of the response cache, per model."""
    from ..models import ResponseCache

    stats = ResponseCache().stats()
    console.print(f"cache: {stats['path']}")
    console.print(f"entries: {stats['entries']} · on disk: {stats['bytes_on_disk'] / 1e6:.2f} MB")
    for model, n in stats["per_model"].items():  # type: ignore[union-attr]
        console.print(f"  {n:>8}  {model}")


@cache_app.command("clear")
@friendly
def cache_clear(model: Optional[str] = typer.Option(None, help="Only entries of this model identity.")) -> None:
    """Delete cached responses (all, or one model's)."""
    from ..models import ResponseCache

    n = ResponseCache().clear(model)
    console.print(f"removed {n} cached responses")


# ------------------------------------------------------------------ data


@data_app.command("build")
@friendly
def data_build(
    out: Path = typer.Option(None, help="Where to write (default: the package's bundled file)."),
) -> None:
    """Rebuild the bundled 7,000-scenario synthetic set from the query bank and the sampler."""
    from ..dataset.bundled import build_synthetic_set
    from ..dataset.io import bundled_path, write_scenarios

    target = out or bundled_path()
    n = write_scenarios(target, build_synthetic_set(), "jsonl")
    console.print(f"wrote {n} scenarios to {target}")


@data_app.command("validate")
@friendly
def data_validate(path: Path = typer.Argument(..., help="Scenario file (.jsonl[.gz], .csv, .parquet, .json).")) -> None:
    """List every problem in a scenario file; exit non-zero if there is any."""
    from ..dataset.check import validate

    n_ok, problems = validate(path)
    for p in problems:
        err_console.print(f"[red]✗[/] {p}", highlight=False, soft_wrap=True)
    if problems:
        err_console.print(f"{len(problems)} problem(s); {n_ok} valid scenario(s)")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {n_ok} valid scenarios in {path}")


@data_app.command("stats")
@friendly
def data_stats(
    path: Optional[str] = typer.Argument(None, help="Scenario file; default: the bundled set."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Counts per domain/subcategory/source, attribute distributions, query lengths."""
    import json

    from ..dataset.check import stats

    st = stats(path)
    if as_json:
        console.print_json(json.dumps(st))
        return
    console.print(f"[bold]{st['total']}[/] scenarios · sources {st['per_source']} · query words {st['query_words']}")
    t = Table(title="Per subcategory")
    t.add_column("domain / subcategory")
    t.add_column("scenarios", justify="right")
    for k, v in st["per_subcategory"].items():
        t.add_row(k, str(v))
    console.print(t)
    for attr, dist in st["attributes"].items():
        total = sum(dist.values())
        parts = " · ".join(f"{k} {v / total:.0%}" for k, v in dist.items())
        console.print(f"[bold]{attr}[/]: {parts}", highlight=False)


@data_app.command("show")
@friendly
def data_show(
    path: Optional[str] = typer.Argument(None, help="Scenario file; default: the bundled set."),
    n: int = typer.Option(3, "-n", help="How many scenarios."),
    seed: int = typer.Option(0, help="Which random draw."),
    ids: List[str] = typer.Option([], "--id", help="Show these scenario ids instead (repeatable)."),
) -> None:
    """Print scenarios as a user would see them: who asks (the profile) and what they ask."""
    import random

    from rich.panel import Panel

    from ..dataset.sources import load_scenarios

    if ids:
        wanted = set(ids)
        picked = [s for s in load_scenarios(path) if s.id in wanted]
    else:
        rng = random.Random(seed)
        picked = []
        for i, s in enumerate(load_scenarios(path)):  # reservoir sample: the file is streamed
            if len(picked) < n:
                picked.append(s)
            elif (j := rng.randrange(i + 1)) < n:
                picked[j] = s
    for s in picked:
        profile = Table.grid(padding=(0, 2))
        profile.add_column(style="dim")
        profile.add_column()
        for attr, value in s.profile.items():
            profile.add_row(attr.value, value)
        body = Table.grid()
        body.add_row(profile)
        body.add_row("")
        body.add_row(f"[bold]Query (what the model sees context-free):[/] {s.query}")
        if s.background:
            body.add_row(f"[dim]Background:[/] {s.background}")
        console.print(Panel(body, title=f"{s.id} · {s.domain} / {s.subcategory} / {s.scenario} · {s.source}",
                            title_align="left"))


@data_app.command("export")
@friendly
def data_export(
    out: Path = typer.Argument(..., help="Output file; format from the suffix or --format."),
    source: Optional[str] = typer.Option(None, "--dataset", help="Scenario file; default: the bundled set."),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl, csv, parquet or reference."),
) -> None:
    """Write scenarios as JSONL, CSV, parquet or the reference code's generator JSON."""
    from ..dataset.io import write_scenarios
    from ..dataset.sources import load_scenarios

    n = write_scenarios(out, load_scenarios(source), fmt)
    console.print(f"wrote {n} scenarios to {out}")


@data_app.command("import")
@friendly
def data_import(
    src: Path = typer.Argument(..., help="A foreign file: HF copy (JSON/JSONL), reference JSON, CSV or parquet."),
    out: Path = typer.Argument(..., help="Canonical JSONL to write."),
    mapping: List[str] = typer.Option([], "--map", help="FIELD=TARGET for fields we cannot place (repeatable)."),
    source: str = typer.Option("real", help="source for records without a Subreddit field: real or synthetic."),
) -> None:
    """Convert a foreign file to canonical JSONL (tolerant of the HF copy's field names)."""
    from ..dataset.importers import parse_mapping, read_foreign
    from ..dataset.io import write_scenarios

    n = write_scenarios(out, read_foreign(src, parse_mapping(mapping), source), "jsonl")
    console.print(f"imported {n} scenarios into {out}")


def _leaves_for(domains: Optional[str], scenarios: Optional[str]) -> list:
    from ..taxonomy import find_leaf, leaves

    all_leaves = list(enumerate(leaves()))
    if scenarios:
        wanted = [x.strip() for x in scenarios.split(",")]
        bad = [w for w in wanted if find_leaf(w) is None]
        if bad:
            from ..errors import ConfigError

            raise ConfigError(f"--scenarios: unknown leaf scenario(s) {bad}")
        return [(n, leaf) for n, leaf in all_leaves if leaf.scenario in wanted]
    if domains:
        wanted_d = {d.strip().capitalize() for d in domains.split(",")}
        return [(n, leaf) for n, leaf in all_leaves if leaf.domain in wanted_d]
    return all_leaves


@data_app.command("generate")
@friendly
def data_generate(
    out: Path = typer.Argument(..., help="Output JSONL."),
    model: str = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains (default: all 7)."),
    scenarios: Optional[str] = typer.Option(None, help="Comma-separated leaf scenarios."),
    profiles: int = typer.Option(5, help="Profiles per leaf scenario."),
    queries: int = typer.Option(10, help="Queries per profile."),
    seed: int = typer.Option(0),
    concurrency: int = typer.Option(4, min=1),
) -> None:
    """LLM synthetic pipeline: profile -> queries -> near-duplicate removal -> JSONL (resumable)."""
    from ..dataset.generate import generate
    from ..models import load_model
    from ..progress import RunProgress

    leaves = _leaves_for(domains, scenarios)

    async def run() -> None:
        m = load_model(model, base_url=base_url, concurrency=concurrency)
        with RunProgress(len(leaves) * profiles, label="generating") as bar:
            try:
                stats = await generate(m, leaves, out, profiles_per_leaf=profiles, queries_per_profile=queries,
                                       seed=seed, concurrency=concurrency, on_unit=bar.tick)
            finally:
                await m.aclose()
        console.print(f"wrote {out}: {stats.scenarios} new scenarios · {stats.skipped_done} units already done · "
                      f"{stats.profile_failures} profile failures · {stats.query_failures} query failures · "
                      f"{stats.near_duplicates_removed} near-duplicates removed")
        for p in stats.problems[:10]:
            err_console.print(f"  [yellow]![/] {p}", highlight=False)

    asyncio.run(run())


@data_app.command("extract")
@friendly
def data_extract(
    posts: Path = typer.Argument(..., help="JSONL of posts: id, subreddit, title, body."),
    out: Path = typer.Argument(..., help="Output JSONL of real scenarios."),
    model: str = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    min_attributes: int = typer.Option(7, help="Keep posts stating at least this many of the 10 attributes."),
    presence: str = typer.Option("llm", help="Attribute check: llm (the paper) or both (model or lexical cues)."),
    concurrency: int = typer.Option(4, min=1),
) -> None:
    """Real-post pipeline: PII scrub -> attribute check -> values -> rewrite -> scenarios."""
    from ..dataset.extract import extract, read_posts
    from ..dataset.io import write_scenarios
    from ..models import load_model

    items = read_posts(posts)

    async def run() -> None:
        m = load_model(model, base_url=base_url, concurrency=concurrency)
        try:
            kept, report = await extract(m, items, min_attributes=min_attributes, concurrency=concurrency,
                                         presence_mode=presence)
        finally:
            await m.aclose()
        write_scenarios(out, kept, "jsonl")
        console.print(f"{report.posts} posts → kept {report.kept} ({report.pass_rate:.1%}) → {out}")
        for reason, n in report.rejected.most_common():
            console.print(f"  rejected {n}: {reason}")
        if report.pii:
            console.print("  PII removed: " + ", ".join(f"{k} x{v}" for k, v in report.pii.items()))

    asyncio.run(run())


# ------------------------------------------------------------------ evaluation


def _config(domains: Optional[str] = None, **fields: object):  # noqa: ANN202 - returns a RunConfig
    """A RunConfig from command-line values; invalid values become one clear ConfigError."""
    from pydantic import ValidationError

    from ..errors import ConfigError, describe_validation
    from ..evaluation.config import RunConfig

    if fields.get("dataset") not in (None, "penguin-synthetic"):
        fields["dataset"] = str(Path(str(fields["dataset"])).resolve())  # resumable from any folder
    try:
        config = RunConfig(domains=[d.strip().capitalize() for d in domains.split(",")] if domains else None,
                           **fields)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from exc
    config.parsed_contexts()
    return config


def _run_eval(config, run_dir: Path, progress: bool, report: bool, resumed: bool = False,  # noqa: ANN001
              samples: bool = True) -> Path:
    from ..evaluation.engine import Runner

    console.print(f"run folder: [bold]{run_dir}[/]")
    counters = asyncio.run(Runner(run_dir, config, resume=resumed).execute(progress=progress))
    _print_summary(run_dir)
    if counters.judge_errors or counters.response_errors:
        console.print(f"[yellow]{counters.response_errors} response errors, {counters.judge_errors} judge errors "
                      "(excluded from the means; see judgements.jsonl)[/]")
    if report:
        from ..report.build import render_report

        html_path, md_path = render_report([run_dir], run_dir / "report.html", samples=samples)
        console.print(f"report: [bold]{html_path}[/] (summary: {md_path})")
    return run_dir


def _print_summary(run_dir: Path) -> None:
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    t = Table(title=f"Personalized safety · {summary['model']} · judged by {', '.join(summary['judges'])}")
    for col in ("context", "safety score [95% CI]", "risk", "empathy", "personalization", "n"):
        t.add_column(col, justify="left" if col == "context" else "right")
    for ctx, m in summary["by_context"].items():
        p = m["pss"]
        t.add_row(ctx, f"{p['mean']:.2f} [{p['low']:.2f}, {p['high']:.2f}]", f"{m['risk_sensitivity']['mean']:.2f}",
                  f"{m['emotional_empathy']['mean']:.2f}", f"{m['personalization']['mean']:.2f}", str(p["n"]))
    console.print(t)
    imp = summary.get("rich_vs_free_improvement_pct")
    if imp:
        console.print(f"context-rich vs context-free: {imp['overall']:+.1f}%")


@app.command("eval")
@friendly
def eval_cmd(
    model: str = ModelOpt,
    judge: List[str] = typer.Option(["local:smollm2"], "--judge", "-j", help="Judge spec; repeat for a jury."),
    dataset: Optional[str] = typer.Option(None, help="Scenario file; default: the bundled synthetic set."),
    variants: str = typer.Option("free,rich", "--variants", "--contexts",
                                 help="Contexts: free, rich, or attribute keys joined by + (e.g. mental+emotion)."),
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains."),
    limit: Optional[int] = typer.Option(None, help="First N scenarios."),
    sample: Optional[int] = typer.Option(None, help="N scenarios drawn at random (with --seed)."),
    per_domain: Optional[int] = typer.Option(None, help="N scenarios drawn per domain (with --seed)."),
    seed: int = typer.Option(0, help="Seed for sampling scenarios and for generation."),
    temperature: float = typer.Option(0.7, help="Temperature of the model under test (paper: 0.7)."),
    max_tokens: int = typer.Option(2048, help="Max tokens per response (paper: 2,048)."),
    judge_max_tokens: int = typer.Option(1024, help="Max tokens per judgement."),
    judge_output: str = typer.Option("auto", help="auto, json (schema-constrained) or text (the paper's format)."),
    jury: str = typer.Option("mean", help="How a jury combines judges per dimension: mean or median."),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(8, min=1, help="Scenarios in flight (and requests per endpoint)."),
    out: Path = typer.Option(Path("runs"), help="Folder for run folders."),
    resume: Optional[Path] = typer.Option(None, help="Continue this run folder (its manifest decides the config)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    report: bool = typer.Option(True, help="Write report.html into the run folder."),
    samples: bool = typer.Option(True, help="Include sample items (profiles and answers) in the report."),
) -> None:
    """Measure a model's personalized safety: respond, judge, aggregate (resumable)."""
    from ..evaluation.folder import load_manifest, new_run_dir

    if resume is not None:
        _run_eval(load_manifest(resume).config, resume, progress, report, resumed=True, samples=samples)
        return
    config = _config(
        model=model, judges=judge, dataset=dataset, contexts=[v.strip() for v in variants.split(",") if v.strip()],
        domains=domains, limit=limit, sample=sample, per_domain=per_domain, seed=seed,
        generation={"temperature": temperature, "max_tokens": max_tokens},
        judge_output=judge_output, judge_max_tokens=judge_max_tokens, jury=jury, base_url=base_url,
        concurrency=concurrency,
    )
    _run_eval(config, new_run_dir(out, model), progress, report, samples=samples)


@app.command("report")
@friendly
def report_cmd(
    runs: List[Path] = typer.Argument(..., help="One or more run folders (compared side by side)."),
    out: Optional[Path] = typer.Option(None, help="HTML file to write (default: report.html in the first run)."),
    samples: bool = typer.Option(True, help="Include sample items (profiles and answers)."),
) -> None:
    """Write one self-contained HTML report (opens offline) and a Markdown summary."""
    from ..report.build import render_report

    html_path, md_path = render_report(runs, out or runs[0] / "report.html", samples=samples)
    console.print(f"report: [bold]{html_path}[/]\nsummary: {md_path}")


@app.command("judge-check")
@friendly
def judge_check_cmd(
    judge: str = typer.Option("local:smollm2", "--judge", "-j", help="Judge spec to check."),
    base_url: Optional[str] = BaseUrlOpt,
    limit: Optional[int] = typer.Option(None, help="Only the first N gold items."),
    repeats: int = typer.Option(1, min=1, help="Judge each item this many times (self-consistency)."),
    repeat_temperature: float = typer.Option(0.7, min=0.0, help="Temperature of the repeats after the first."),
    judge_output: str = typer.Option("auto", help="auto, json or text."),
    max_tokens: int = typer.Option(1024),
    concurrency: int = typer.Option(8, min=1),
    out: Optional[Path] = typer.Option(None, help="Write the full result (with per-item verdicts) as JSON."),
) -> None:
    """Agreement of a judge with the bundled gold set: QWK, Spearman, MAE, confusion, consistency."""
    import json

    from ..evaluation.judge import DIMENSIONS
    from ..evaluation.judge_check import load_reference, remember, run_judge_check
    from ..models import load_model
    from ..progress import RunProgress

    items = load_reference()[:limit] if limit else load_reference()

    async def run() -> dict:
        m = load_model(judge, base_url=base_url, concurrency=concurrency)
        with RunProgress(len(items) * repeats, label="judging") as bar:
            try:
                return await run_judge_check(m, items, repeats=repeats, concurrency=concurrency,
                                             repeat_temperature=repeat_temperature,
                                             output=None if judge_output == "auto" else judge_output,
                                             max_tokens=max_tokens, progress=bar.tick)
            finally:
                await m.aclose()

    result = asyncio.run(run())
    remember(result)
    t = Table(title=f"judge-check · {judge} · {result['items']} gold items · {result['errors']} judge errors")
    for col in ("dimension", "QWK", "Spearman", "MAE", "exact", "self-consistency"):
        t.add_column(col, justify="left" if col == "dimension" else "right")
    for d in DIMENSIONS:
        s = result["dimensions"][d.value]
        t.add_row(d.label, f"{s['qwk']:.3f}", f"{s['spearman']:.3f}", f"{s['mae']:.2f}", f"{s['exact']:.0%}",
                  f"{s['self_consistency']:.0%}" if "self_consistency" in s else "–")
    console.print(t)
    for d in DIMENSIONS:
        cm = result["dimensions"][d.value]["confusion"]
        console.print(f"[bold]{d.label}[/] confusion (rows gold 1-5, columns judge 1-5): "
                      + " | ".join(" ".join(f"{x:>2}" for x in row) for row in cm), highlight=False)
    if out:
        out.write_text(json.dumps(result, indent=1))
        console.print(f"full result: {out}")


@app.command("quickstart")
@friendly
def quickstart(
    per_domain: int = typer.Option(2, help="Scenarios per domain."),
    out: Path = typer.Option(Path("runs"), help="Folder for run folders."),
) -> None:
    """The main job on the embedded default: a real PENGUIN slice, both variants, judged, reported."""
    from ..evaluation.folder import new_run_dir

    config = _config(per_domain=per_domain, seed=0, generation={"max_tokens": 128},
                     judge_max_tokens=400, concurrency=1)
    console.print("[bold]penguin quickstart[/]: SmolLM2-135M (embedded) answers "
                  f"{per_domain * 7} PENGUIN scenarios context-free and context-rich; the same model judges them.")
    console.print("[yellow]The embedded judge is not validated: this run shows the pipeline, not a real safety score."
                  " For real numbers use a capable judge (see README).[/]")
    _run_eval(config, new_run_dir(out, "quickstart-smollm2"), progress=True, report=True)


# ------------------------------------------------------------------ attribute analyses


def _analysis_config(model: str, judge: List[str], dataset: Optional[str], domains: Optional[str],
                     per_domain: Optional[int], sample: Optional[int], seed: int, max_tokens: int,
                     judge_max_tokens: int, base_url: Optional[str], concurrency: int, contexts: list[str],
                     **selection: object):
    """The RunConfig of analyses, plans and RAISE runs (``selection``: split, limit)."""
    if selection.get("split") == "all":
        selection["split"] = None
    return _config(model=model, judges=judge, dataset=dataset, contexts=contexts, domains=domains,
                   per_domain=per_domain, sample=sample, seed=seed, generation={"max_tokens": max_tokens},
                   judge_max_tokens=judge_max_tokens, base_url=base_url, concurrency=concurrency, **selection)


JudgeOpt = typer.Option(["local:smollm2"], "--judge", "-j", help="Judge spec; repeat for a jury.")
PerDomainOpt = typer.Option(None, help="Scenarios drawn per domain (the paper: 1,000 sampled in all).")
SampleOpt = typer.Option(None, help="Scenarios drawn at random in all.")


@analyze_app.command("attributes")
@friendly
def analyze_attributes(
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = typer.Option(None, help="Scenario file; default: the bundled set."),
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains."),
    per_domain: Optional[int] = PerDomainOpt,
    sample: Optional[int] = SampleOpt,
    seed: int = typer.Option(0),
    max_tokens: int = typer.Option(2048, help="Max tokens per response."),
    judge_max_tokens: int = typer.Option(1024),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(8, min=1),
    out: Path = typer.Option(Path("runs"), help="Folder for run folders."),
    resume: Optional[Path] = typer.Option(None, help="Continue this analysis run."),
) -> None:
    """One attribute at a time: each of the 10 alone, none, and all (SPEC section 6)."""
    from ..evaluation.folder import load_manifest, new_run_dir
    from ..schema import ATTRIBUTES

    if resume is not None:
        _run_eval(load_manifest(resume).config, resume, progress=True, report=True, resumed=True)
        return
    config = _analysis_config(model, judge, dataset, domains, per_domain, sample, seed, max_tokens,
                              judge_max_tokens, base_url, concurrency, ["free", *(a.key for a in ATTRIBUTES), "rich"])
    _run_eval(config, new_run_dir(out, f"attributes-{model}"), progress=True, report=True)


@analyze_app.command("subsets")
@friendly
def analyze_subsets_cmd(
    k: int = typer.Option(3, "--k", help="Budget: how many attributes a strategy may use."),
    strategies: str = typer.Option("random,static,greedy,oracle", help="Comma-separated strategies."),
    shapley: Optional[str] = typer.Option(None, help="Shapley values: 'exact' (all 1,024 subsets) or a number of "
                                                     "sampled permutations per scenario."),
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = typer.Option(None, help="Scenario file; default: the bundled set."),
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains."),
    per_domain: Optional[int] = PerDomainOpt,
    sample: Optional[int] = typer.Option(None, help="Scenarios drawn at random (the paper: 50)."),
    seed: int = typer.Option(0),
    max_tokens: int = typer.Option(2048, help="Max tokens per response."),
    judge_max_tokens: int = typer.Option(1024),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(8, min=1),
    out: Path = typer.Option(Path("runs"), help="Folder for run folders."),
    resume: Optional[Path] = typer.Option(None, help="Continue this analysis run (reuses every finished subset)."),
) -> None:
    """Attribute subsets of size k: random, static top-k, greedy, oracle; optional Shapley values."""
    from ..errors import ConfigError
    from ..evaluation.attributes import analyze_subsets, check_plan
    from ..evaluation.engine import Runner
    from ..evaluation.folder import load_manifest, new_run_dir

    plan = [x.strip() for x in strategies.split(",") if x.strip()]
    check_plan(k, plan)
    exact = shapley == "exact"
    try:
        perms = None if shapley in (None, "exact") else int(shapley)
    except ValueError as exc:
        raise ConfigError(f"--shapley must be 'exact' or a number, not {shapley!r}") from exc
    if resume is not None:
        config, run_dir = load_manifest(resume).config, resume
    else:
        config = _analysis_config(model, judge, dataset, domains, per_domain, sample, seed, max_tokens,
                                  judge_max_tokens, base_url, concurrency, [])
        run_dir = new_run_dir(out, f"subsets-k{k}-{model}")
    console.print(f"run folder: [bold]{run_dir}[/]")
    analysis = asyncio.run(analyze_subsets(Runner(run_dir, config, keep_verdicts=True, resume=resume is not None),
                                           k=k, strategies=plan,
                                           shapley_permutations=perms, exact_shapley=exact, seed=config.seed))
    t = Table(title=f"Attribute subsets, k={k} · {analysis['scenarios']} scenarios · "
                    f"{analysis['subset_evaluations']} subset evaluations")
    t.add_column("strategy")
    t.add_column("safety score", justify="right")
    t.add_column("n", justify="right")
    for name, entry in analysis["strategies"].items():
        t.add_row(name, f"{entry['overall']:.2f}" if "overall" in entry else "–", str(entry["n"]))
    console.print(t)
    if "shapley" in analysis and "overall" in analysis["shapley"]:
        ranked = sorted(analysis["shapley"]["overall"].items(), key=lambda kv: -kv[1])
        console.print("Shapley values: " + " · ".join(f"{a} {v:+.3f}" for a, v in ranked))
    from ..report.build import render_report

    html_path, _ = render_report([run_dir], run_dir / "report.html")
    console.print(f"report: [bold]{html_path}[/]")


# Commands that live in their own modules register themselves on ``app``.
from . import planning, raising, serving  # noqa: E402,F401
