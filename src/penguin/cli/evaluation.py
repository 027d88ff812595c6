"""`penguin eval`, `report`, `judge-check`, `quickstart` and `analyze`: measuring a model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import analyze_app, app
from .common import (BaseUrlOpt, ConcurrencyOpt, DatasetOpt, DomainsOpt, JudgeMaxTokensOpt, JudgeOpt, LimitOpt,
                     ModelOpt, OutOpt, PerDomainOpt, ProgressOpt, ReportOpt, ResumeOpt, RetryOpt, SampleOpt,
                     SamplesOpt, SeedOpt, console, err_console, friendly, split)


def show_run(run) -> None:  # noqa: ANN001 - an EvalRun
    """The summary table of any run, the errors, and the session's retries."""
    s = run.summary
    t = Table(title=f"Personalized safety · {s.model} · judged by {', '.join(s.judges)}")
    for col in ("context", "safety [95% CI]", "risk", "empathy", "personal.", "n"):
        t.add_column(col, justify="left" if col == "context" else "right")
    for ctx, m in s.by_context.items():
        p = m.pss
        t.add_row(ctx, f"{p.mean:.2f} [{p.low:.2f}, {p.high:.2f}]", f"{m.risk_sensitivity.mean:.2f}",
                  f"{m.emotional_empathy.mean:.2f}", f"{m.personalization.mean:.2f}", str(p.n))
    if s.by_context:
        console.print(t)
    if s.rich_vs_free_improvement_pct:
        console.print(f"context-rich vs context-free: {s.rich_vs_free_improvement_pct['overall']:+.1f}%")
    sources = {src for per in s.by_context_source.values() for src in per}
    if len(sources) > 1:
        for ctx, per in s.by_context_source.items():
            console.print(f"{ctx}: " + " · ".join(f"{src} {v.pss.mean:.2f} (n={v.pss.n})" for src, v in per.items()))
    c = s.counts
    if c.response_errors or c.judge_errors:
        console.print(f"[yellow]{c.response_errors} response errors, {c.judge_errors} judge errors (excluded from "
                      "the means; penguin eval --resume RUN --retry-errors tries them again)[/]")
    last = s.last_session
    if last and last.retried:
        console.print(f"retried {last.retried} error record(s): {last.recovered} recovered")
    report = run.path / "report.html"
    if report.exists():
        console.print(f"report: [bold]{escape(str(report))}[/] (summary: {escape(str(report.with_suffix('.md')))})")


def resume_and_show(resume: Path, retry_errors: bool, progress: bool, report: bool) -> None:
    from ..api import resume as resume_run

    console.print(f"run folder: [bold]{escape(str(resume))}[/]")
    show_run(resume_run(resume, retry_errors=retry_errors, progress=progress, report=report))


def _no_retry_without_resume(retry_errors: bool, resume: Optional[Path]) -> None:
    from ..errors import ConfigError

    if retry_errors and resume is None:
        raise ConfigError("--retry-errors needs --resume RUN (a run folder to retry)")


@app.command("eval")
@friendly
def eval_cmd(
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = DatasetOpt,
    variants: str = typer.Option("free,rich", "--variants", "--contexts",
                                 help="free, rich, or attribute keys joined by + (mental+emotion)."),
    domains: Optional[str] = DomainsOpt,
    limit: Optional[int] = LimitOpt,
    sample: Optional[int] = SampleOpt,
    per_domain: Optional[int] = PerDomainOpt,
    seed: int = SeedOpt,
    temperature: float = typer.Option(0.7, help="Temperature of the model under test."),
    max_tokens: int = typer.Option(2048, help="Max tokens per response."),
    judge_max_tokens: int = JudgeMaxTokensOpt,
    judge_output: str = typer.Option("auto", help="auto, json or text (the paper's)."),
    jury: str = typer.Option("mean", help="Jury per dimension: mean or median."),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = ConcurrencyOpt,
    out: Path = OutOpt,
    resume: Optional[Path] = ResumeOpt,
    retry_errors: bool = RetryOpt,
    progress: bool = ProgressOpt,
    report: bool = ReportOpt,
    samples: bool = SamplesOpt,
) -> None:
    """Measure a model's personalized safety: respond, judge, aggregate (resumable)."""
    from ..api import evaluate

    _no_retry_without_resume(retry_errors, resume)
    if resume is not None:
        resume_and_show(resume, retry_errors, progress, report)
        return
    run = evaluate(model, judge, dataset=dataset, contexts=split(variants) or [], domains=split(domains), limit=limit,
                   sample=sample, per_domain=per_domain, seed=seed, temperature=temperature, max_tokens=max_tokens,
                   judge_output=judge_output, judge_max_tokens=judge_max_tokens, jury=jury, base_url=base_url,
                   concurrency=concurrency, out=out, progress=progress, report=report, samples=samples)
    console.print(f"run folder: [bold]{escape(str(run.path))}[/]")
    show_run(run)


@app.command("report")
@friendly
def report_cmd(
    runs: List[Path] = typer.Argument(..., help="One or more run folders (compared side by side)."),
    out: Optional[Path] = typer.Option(None, help="HTML file to write (default: in the first run)."),
    samples: bool = SamplesOpt,
) -> None:
    """Write one self-contained HTML report (opens offline) and a Markdown summary."""
    from ..report.build import render_report

    html_path, md_path = render_report(runs, out or runs[0] / "report.html", samples=samples)
    console.print(f"report: [bold]{escape(str(html_path))}[/]\nsummary: {escape(str(md_path))}")


@app.command("judge-check")
@friendly
def judge_check_cmd(
    judge: str = typer.Option("local:smollm2", "--judge", "-j", help="Judge spec to check."),
    base_url: Optional[str] = BaseUrlOpt,
    limit: Optional[int] = typer.Option(None, help="Only the first N gold items."),
    subset: Optional[str] = typer.Option(None, "--subset", help="Only one shortcut family's items."),
    about: bool = typer.Option(False, "--about", help="How the gold set was made; no judging."),
    repeats: int = typer.Option(1, min=1, help="Judge each item N times (self-consistency)."),
    repeat_temperature: float = typer.Option(0.7, min=0.0, help="Temperature of the repeats."),
    judge_output: str = typer.Option("auto", help="auto, json or text."),
    max_tokens: int = typer.Option(1024, help="Max tokens per judgement."),
    concurrency: int = ConcurrencyOpt,
    progress: bool = ProgressOpt,
    out: Optional[Path] = typer.Option(None, help="Write the full result as JSON."),
) -> None:
    """Agreement of a judge with the gold set, beside baselines that only count words."""
    from ..api import judge_check
    from ..evaluation.judge import DIMENSIONS
    from ..evaluation.judge_check import about as gold_about
    from ..evaluation.judge_check import load_reference
    from ..progress import RunProgress

    if about:
        show_about(gold_about())
        return
    n = len(load_reference()) if not limit else limit
    with RunProgress(n * repeats, label="judging", enabled=progress) as bar:
        result = judge_check(judge, base_url=base_url, limit=limit, shortcut=subset, repeats=repeats,
                             repeat_temperature=repeat_temperature, judge_output=judge_output, max_tokens=max_tokens,
                             concurrency=concurrency, progress=bar.tick)
    t = Table(title=f"judge-check · {judge} · {result.items} items · {result.errors} judge errors")
    for col in ("dimension", "QWK", *(f"{b.name} QWK" for b in result.baselines), "Spearman", "MAE", "consistency"):
        t.add_column(col, justify="left" if col == "dimension" else "right")
    for d in DIMENSIONS:
        a = result.dimensions[d.value]
        t.add_row(d.label, f"{a.qwk:.3f}", *(f"{b.qwk[d.value]:.3f}" for b in result.baselines), f"{a.spearman:.3f}",
                  f"{a.mae:.2f}", f"{a.self_consistency:.0%}" if a.self_consistency is not None else "–")
    console.print(t)
    if result.families:
        f = Table(title="QWK per shortcut family (where is the judge fooled?)")
        f.add_column("family")
        for d in DIMENSIONS:
            f.add_column(d.label, justify="right")
        for fam, q in result.families.items():
            f.add_row(fam, *(f"{q[d.value]:.2f}" for d in DIMENSIONS))
        console.print(f)
    console.print(("[green]" if result.validated else "[yellow]") + result.verdict + "[/]", highlight=False)
    if limit or subset:
        err_console.print("a partial check (--limit or --subset) is not remembered for reports")
    if out:
        out.write_text(result.model_dump_json(indent=1))
        console.print(f"full result: {escape(str(out))}")


def show_about(info: dict) -> None:
    console.print(info["summary"], highlight=False)
    t = Table(title="Rater agreement (pairwise quadratic-weighted kappa)")
    t.add_column("dimension")
    for pair in info["rater_qwk"]["pairs"]:
        t.add_column(pair, justify="right")
    for dim, values in info["rater_qwk"]["by_dimension"].items():
        t.add_row(dim, *(f"{v:.3f}" for v in values))
    console.print(t)
    console.print("Score balance (items per gold score 1-5): " + " · ".join(
        f"{d}: {'/'.join(str(x) for x in counts)}" for d, counts in info["balance"].items()), highlight=False)
    console.print("Shortcut families: " + ", ".join(f"{k} ({v})" for k, v in info["families"].items()),
                  highlight=False)


@app.command("quickstart")
@friendly
def quickstart(
    per_domain: int = typer.Option(2, help="Scenarios per domain."),
    out: Path = OutOpt,
    progress: bool = ProgressOpt,
) -> None:
    """The main job on the embedded default: a PENGUIN slice, both variants, judged, reported."""
    from ..api import evaluate
    from ..evaluation.folder import new_run_dir

    console.print("[bold]penguin quickstart[/]: SmolLM2-135M (embedded) answers "
                  f"{per_domain * 7} PENGUIN scenarios context-free and context-rich; the same model judges them.")
    console.print("[yellow]The embedded judge is not validated: this run shows the pipeline, not a real safety "
                  "score. For real numbers use a capable judge (see README).[/]")
    path = new_run_dir(out, "quickstart-smollm2")
    console.print(f"run folder: [bold]{escape(str(path))}[/]")
    show_run(evaluate(per_domain=per_domain, seed=0, max_tokens=128, judge_max_tokens=400, concurrency=1,
                      run_dir=path, progress=progress))


@analyze_app.command("attributes")
@friendly
def analyze_attributes_cmd(
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = DatasetOpt,
    domains: Optional[str] = DomainsOpt,
    per_domain: Optional[int] = PerDomainOpt,
    sample: Optional[int] = SampleOpt,
    seed: int = SeedOpt,
    max_tokens: int = typer.Option(2048, help="Max tokens per response."),
    judge_max_tokens: int = JudgeMaxTokensOpt,
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = ConcurrencyOpt,
    out: Path = OutOpt,
    resume: Optional[Path] = ResumeOpt,
    retry_errors: bool = RetryOpt,
    progress: bool = ProgressOpt,
) -> None:
    """One attribute at a time: each of the 10 alone, none, and all (SPEC section 6)."""
    from ..api import analyze_attributes

    _no_retry_without_resume(retry_errors, resume)
    if resume is not None:
        resume_and_show(resume, retry_errors, progress, True)
        return
    run = analyze_attributes(model, judge, dataset=dataset, domains=split(domains), per_domain=per_domain,
                             sample=sample, seed=seed, max_tokens=max_tokens, judge_max_tokens=judge_max_tokens,
                             base_url=base_url, concurrency=concurrency, out=out, progress=progress)
    console.print(f"run folder: [bold]{escape(str(run.path))}[/]")
    show_run(run)


@analyze_app.command("subsets")
@friendly
def analyze_subsets_cmd(
    k: int = typer.Option(3, "--k", help="Budget: attributes a strategy may use."),
    strategies: str = typer.Option("random,static,greedy,oracle", help="Comma-separated strategies."),
    shapley: Optional[str] = typer.Option(None, help="Shapley values: exact, or N sampled permutations."),
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = DatasetOpt,
    domains: Optional[str] = DomainsOpt,
    per_domain: Optional[int] = PerDomainOpt,
    sample: Optional[int] = typer.Option(None, help="Scenarios drawn at random (paper: 50)."),
    seed: int = SeedOpt,
    max_tokens: int = typer.Option(2048, help="Max tokens per response."),
    judge_max_tokens: int = JudgeMaxTokensOpt,
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = ConcurrencyOpt,
    out: Path = OutOpt,
    resume: Optional[Path] = ResumeOpt,
    retry_errors: bool = RetryOpt,
    progress: bool = ProgressOpt,
) -> None:
    """Attribute subsets of size k: random, static top-k, greedy, oracle; Shapley values."""
    from ..api import analyze_subsets, resume as resume_run
    from ..errors import ConfigError

    _no_retry_without_resume(retry_errors, resume)
    if resume is not None:
        run = resume_run(resume, retry_errors=retry_errors, progress=progress)
    else:
        if shapley not in (None, "exact") and not str(shapley).isdigit():
            raise ConfigError(f"--shapley must be 'exact' or a number, not {shapley!r}")
        run = analyze_subsets(k, split(strategies) or [], None if shapley is None else
                              (shapley if shapley == "exact" else int(shapley)), model=model, judges=judge,
                              dataset=dataset, domains=split(domains), per_domain=per_domain, sample=sample,
                              seed=seed, max_tokens=max_tokens, judge_max_tokens=judge_max_tokens, base_url=base_url,
                              concurrency=concurrency, out=out, progress=progress)
    console.print(f"run folder: [bold]{escape(str(run.path))}[/]")
    a = run.analysis
    t = Table(title=f"Attribute subsets, k={a.k} · {a.scenarios} scenarios · {a.subset_evaluations} subset evaluations")
    t.add_column("strategy")
    t.add_column("safety score", justify="right")
    t.add_column("n", justify="right")
    for name, entry in a.strategies.items():
        t.add_row(name, f"{entry.overall:.2f}" if entry.overall is not None else "–", str(entry.n))
    console.print(t)
    if a.shapley and "overall" in a.shapley.by_domain:
        ranked = sorted(a.shapley.by_domain["overall"].items(), key=lambda kv: -kv[1])
        console.print("Shapley values: " + " · ".join(f"{x} {v:+.3f}" for x, v in ranked))
    console.print(f"report: [bold]{escape(str(run.path / 'report.html'))}[/]")
