"""`penguin data ...`: build, validate, describe, show, export, import, generate, extract, audit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import data_app
from .common import BaseUrlOpt, ModelOpt, ProgressOpt, console, err_console, friendly, split

SourceArg = typer.Argument(None, help="Scenario file or hf:OWNER/NAME; default: bundled.")


@data_app.command("build")
@friendly
def data_build(out: Path = typer.Option(None, help="Where to write (default: the bundled file).")) -> None:
    """Rebuild the bundled 7,000-scenario set from the query bank and the sampler."""
    from ..dataset.bundled import build_synthetic_set
    from ..dataset.io import bundled_path, write_scenarios

    target = out or bundled_path()
    n = write_scenarios(target, build_synthetic_set(), "jsonl")
    console.print(f"wrote {n} scenarios to {escape(str(target))}")


@data_app.command("validate")
@friendly
def data_validate(path: Path = typer.Argument(..., help="Scenario file (.jsonl[.gz], .csv, .parquet, .json).")) -> None:
    """List every problem in a scenario file; exit non-zero if there is any."""
    from ..dataset.check import validate

    n_ok, problems = validate(path)
    for p in problems:
        err_console.print(f"[red]✗[/] {escape(str(p))}", highlight=False, soft_wrap=True)
    if problems:
        err_console.print(f"{len(problems)} problem(s); {n_ok} valid scenario(s)")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {n_ok} valid scenarios in {escape(str(path))}")


@data_app.command("stats")
@friendly
def data_stats(
    path: Optional[str] = SourceArg,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Counts by source x domain, leaves, attribute coverage, duplicates, lengths."""
    from ..dataset.check import stats
    from ..schema import DOMAINS

    st = stats(path)
    if as_json:
        console.print_json(st.model_dump_json())
        return
    console.print(f"[bold]{st.total}[/] scenarios · {st.distinct_queries} distinct queries "
                  f"({st.duplicate_queries} asked more than once) · query words {st.query_words}", highlight=False)
    t = Table(title="Scenarios by source and domain")
    t.add_column("source")
    for d in DOMAINS:
        t.add_column(d[:5], justify="right")
    t.add_column("all", justify="right")
    for src, per in st.per_source_domain.items():
        t.add_row(src, *(str(per.get(d, 0)) for d in DOMAINS), str(sum(per.values())))
    t.add_row("leaves", *(str(st.leaves.get(d, 0)) for d in DOMAINS), str(sum(st.leaves.values())))
    console.print(t)
    console.print("Known attributes: " + " · ".join(f"{a} {v:.0%}" for a, v in st.coverage.items()), highlight=False)
    for attr, dist in st.attributes.items():
        total = sum(dist.values())
        console.print(f"[bold]{attr}[/]: " + " · ".join(f"{k} {v / total:.0%}" for k, v in dist.items()),
                      highlight=False)


@data_app.command("show")
@friendly
def data_show(
    path: Optional[str] = SourceArg,
    n: int = typer.Option(3, "-n", help="How many scenarios."),
    seed: int = typer.Option(0, help="Which random draw."),
    ids: List[str] = typer.Option([], "--id", help="Show these ids instead (repeatable)."),
) -> None:
    """Print scenarios as a user would see them: who asks (the profile) and what they ask."""
    import random

    from rich.panel import Panel

    from ..dataset.sources import load_scenarios

    if ids:
        picked = [s for s in load_scenarios(path) if s.id in set(ids)]
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
            profile.add_row(attr.value, escape(value))
        body = Table.grid()
        body.add_row(profile)
        body.add_row("")
        body.add_row(f"[bold]Query (what the model sees context-free):[/] {escape(s.query)}")
        if s.background:
            body.add_row(f"[dim]Background:[/] {escape(s.background)}")
        console.print(Panel(body, title=escape(f"{s.id} · {s.domain} / {s.subcategory} / {s.scenario} · {s.source}"),
                            title_align="left"))


@data_app.command("export")
@friendly
def data_export(
    out: Path = typer.Argument(..., help="Output file; format from the suffix or --format."),
    source: Optional[str] = typer.Option(None, "--dataset", help="Scenario file or hf:...; default: bundled."),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl, csv, parquet or reference."),
) -> None:
    """Write scenarios as JSONL, CSV, parquet or the reference code's generator JSON."""
    from ..dataset.io import write_scenarios
    from ..dataset.sources import load_scenarios

    n = write_scenarios(out, load_scenarios(source), fmt)
    console.print(f"wrote {n} scenarios to {escape(str(out))}")


@data_app.command("import")
@friendly
def data_import(
    src: Path = typer.Argument(..., help="A foreign file: the release, another benchmark, reference JSON."),
    out: Path = typer.Argument(..., help="Canonical JSONL to write."),
    mapping: List[str] = typer.Option([], "--map", help="FIELD=TARGET: a field to our field or attribute."),
    sets: List[str] = typer.Option([], "--set", help="TARGET=VALUE: a constant for every record."),
    value_maps: List[str] = typer.Option([], "--map-value", help="TARGET:FROM=TO: translate a value."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the mapping and first rows; write nothing."),
) -> None:
    """Convert a foreign file to canonical JSONL (the public release maps as it is)."""
    from ..dataset.importers import ImportSpec, import_file, preview

    spec = ImportSpec.parse(mapping, sets, value_maps)
    if dry_run:
        console.print("mapping: " + (", ".join(f"{k} -> {v}" for k, v in spec.mapping.items()) or "by field names")
                      + " · constants: " + (", ".join(f"{k}={v}" for k, v in spec.constants.items()) or "none")
                      + " · value maps: " + (", ".join(f"{k}: {m}" for k, m in spec.value_maps.items()) or "none"),
                      highlight=False)
        t = Table(title=f"First rows of {src} as imported (attribute names only)")
        for col in ("id", "domain", "scenario", "source", "query", "known attributes"):
            t.add_column(col)
        for s in preview(src, spec):
            t.add_row(s.id, s.domain, s.scenario, s.source, s.query[:60],
                      ", ".join(a.key for a in s.profile.known()) or "none")
        console.print(t)
        return
    report = import_file(src, out, spec)
    console.print(escape(f"imported {report.scenarios} scenarios into {out} · by source {report.per_source} · "
                         f"by domain {report.per_domain} (mapping: {out}.import.json)"), highlight=False)


@data_app.command("audit")
@friendly
def data_audit(
    path: Optional[str] = SourceArg,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Contradictions between queries and profiles, statements, distress, fit; exit 1 on contradictions."""
    from ..dataset.audit import audit

    result = audit(path)
    if as_json:
        console.print_json(result.model_dump_json())
    else:
        for line in result.lines():
            console.print(line, highlight=False)
    if result.contradictions:
        raise typer.Exit(1)


@data_app.command("generate")
@friendly
def data_generate(
    out: Path = typer.Argument(..., help="Output JSONL."),
    model: str = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains (default: all)."),
    scenarios: Optional[str] = typer.Option(None, help="Comma-separated leaf scenarios."),
    profiles: int = typer.Option(5, help="Profiles per leaf scenario."),
    queries: int = typer.Option(10, help="Queries per profile."),
    seed: int = typer.Option(0),
    concurrency: int = typer.Option(4, min=1),
    progress: bool = ProgressOpt,
) -> None:
    """LLM synthetic pipeline: profile -> queries -> near-duplicates removed (resumable)."""
    from ..dataset.generate import generate
    from ..models import load_model
    from ..progress import RunProgress
    from ..taxonomy import select_leaves

    leaves = select_leaves(split(domains), split(scenarios))

    async def run() -> None:
        m = load_model(model, base_url=base_url, concurrency=concurrency)
        with RunProgress(len(leaves) * profiles, label="generating", enabled=progress) as bar:
            try:
                stats = await generate(m, leaves, out, profiles_per_leaf=profiles, queries_per_profile=queries,
                                       seed=seed, concurrency=concurrency, on_unit=bar.tick)
            finally:
                await m.aclose()
        console.print(f"wrote {escape(str(out))}: {stats.scenarios} new scenarios · {stats.skipped_done} units already done · "
                      f"{stats.profile_failures} profile failures · {stats.query_failures} query failures · "
                      f"{stats.near_duplicates_removed} near-duplicates removed")
        for p in stats.problems[:10]:
            err_console.print(f"  [yellow]![/] {escape(str(p))}", highlight=False)

    asyncio.run(run())


@data_app.command("extract")
@friendly
def data_extract(
    posts: Path = typer.Argument(..., help="JSONL of posts: id, subreddit, title, body."),
    out: Path = typer.Argument(..., help="Output JSONL of real scenarios."),
    model: str = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    min_attributes: int = typer.Option(7, help="Keep posts stating at least N of the 10."),
    presence: str = typer.Option("llm", help="Attribute check: llm (paper) or both (+ cues)."),
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
        console.print(f"{report.posts} posts → kept {report.kept} ({report.pass_rate:.1%}) → {escape(str(out))}")
        for reason, n in report.rejected.most_common():
            console.print(f"  rejected {n}: {reason}")
        if report.pii:
            console.print("  PII removed: " + ", ".join(f"{k} x{v}" for k, v in report.pii.items()))

    asyncio.run(run())
