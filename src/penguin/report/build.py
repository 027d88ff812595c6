"""Turn one or more run folders into a self-contained HTML report and a Markdown summary."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from .. import __version__
from ..evaluation.folder import final_judgements, final_responses
from ..evaluation.judge import DIMENSIONS
from ..evaluation.judge_check import JudgeStatus
from ..evaluation.metrics import PSS
from ..evaluation.summary import CLUSTERING, Interval
from ..runs import EvalRun, PlanRun, RaiseRun, read_run
from ..schema import ATTRIBUTES, DOMAINS, Context
from . import plots

METRIC_LABELS = {PSS: "Safety score", **{d.value: d.label for d in DIMENSIONS}}


class RunView:
    """A run as the report shows it: the typed result plus its per-item scores."""

    def __init__(self, run: EvalRun):
        self.run = run
        self.path = run.path
        self.manifest = run.manifest
        self.summary = run.summary
        self.items = run.items()
        self.counts = run.summary.counts
        self.analysis = run.analysis
        self.raise_summary = run.raise_summary if isinstance(run, RaiseRun) else None
        self.plan_summary = run.plan_summary if isinstance(run, PlanRun) else None

    @property
    def label(self) -> str:
        return self.manifest.config.model


def load_run(path: Path) -> RunView:
    return RunView(read_run(path))


def _fmt(iv: Interval | None) -> str:
    return "–" if not iv else f"{iv.mean:.2f}"


METRIC_NAMES = (PSS, *[d.value for d in DIMENSIONS])


def headline_rows(runs: list[RunView]) -> list[dict[str, Any]]:
    """One row per model x configured context (subset analyses list their own table)."""
    rows = []
    for run in runs:
        configured = {Context.parse(c).name for c in run.manifest.config.contexts}
        for ctx, scores in run.summary.by_context.items():
            if ctx not in configured:
                continue
            cells = [scores.metric(m) for m in METRIC_NAMES]
            rows.append({"model": run.label, "context": _context_label(ctx),
                         "cells": [(c.mean, c.low, c.high) for c in cells], "n": scores.pss.n,
                         "clusters": scores.pss.clusters})
    return rows


def _context_label(ctx: str) -> str:
    return {"free": "context-free", "rich": "context-rich"}.get(ctx, f"context: {ctx}")


def domain_table(runs: list[RunView]) -> dict[str, Any]:
    """The paper's layout: rows model x context, one column per domain, plus the average."""
    rows = []
    for run in runs:
        for ctx, per_dom in run.summary.by_context_domain.items():
            if ctx not in ("free", "rich"):
                continue
            cells = [per_dom[d].pss if d in per_dom else None for d in DOMAINS]
            rows.append({"model": run.label, "context": _context_label(ctx), "cells": [_fmt(c) for c in cells],
                         "avg": _fmt(run.summary.by_context[ctx].pss)})
        imp = run.summary.rich_vs_free_improvement_pct
        if imp:
            rows.append({"model": run.label, "context": "improvement",
                         "cells": [f"{imp[d]:+.1f}%" if d in imp else "–" for d in DOMAINS],
                         "avg": f"{imp['overall']:+.1f}%"})
    return {"domains": list(DOMAINS), "rows": rows}


def source_table(runs: list[RunView]) -> dict[str, Any]:
    """Safety per source (real / synthetic) and context, shown when a run holds both."""
    sources = sorted({src for run in runs for per in run.summary.by_context_source.values() for src in per})
    rows = []
    if len(sources) > 1:
        for run in runs:
            for ctx, per in run.summary.by_context_source.items():
                rows.append({"model": run.label, "context": _context_label(ctx),
                             "cells": [f"{per[src].pss.mean:.2f} [{per[src].pss.low:.2f}, {per[src].pss.high:.2f}] "
                                       f"(n={per[src].pss.n})" if src in per else "–" for src in sources]})
    return {"sources": sources, "rows": rows}


def domain_charts(runs: list[RunView]) -> list[str]:
    charts = []
    series: dict[str, list[float | None]] = {}
    errors: dict[str, list[tuple[float, float] | None]] = {}
    for run in runs:
        for ctx in ("free", "rich"):
            per_dom = run.summary.by_context_domain.get(ctx)
            if not per_dom:
                continue
            name = f"{run.label} · {_context_label(ctx)}"
            series[name] = [per_dom[d].pss.mean if d in per_dom else None for d in DOMAINS]
            errors[name] = [(per_dom[d].pss.low, per_dom[d].pss.high) if d in per_dom else None for d in DOMAINS]
    if series:
        charts.append(plots.grouped_bars(list(DOMAINS), series, errors=errors,
                                         title="Personalized Safety Score per domain (95% clustered bootstrap CI)"))
        charts.append(plots.radar(list(DOMAINS), series, title="Per-domain profile"))
    return charts


def attribute_importance(runs: list[RunView]) -> list[dict[str, Any]]:
    """For runs that include one-attribute contexts: score per attribute vs none."""
    out = []
    for run in runs:
        by_ctx = run.summary.by_context
        singles = {a: by_ctx[a.key].pss.mean for a in ATTRIBUTES if a.key in by_ctx}
        if len(singles) < 2:
            continue
        base = by_ctx["free"].pss.mean if "free" in by_ctx else None
        labels = [a.value for a in singles]
        svg = plots.horizontal_bars(labels, list(singles.values()), baseline=base,
                                    title=f"One attribute at a time · {run.label}")
        ranking = sorted(singles.items(), key=lambda kv: -kv[1])
        out.append({"model": run.label, "svg": svg, "baseline": base,
                    "ranking": [(a.value, v) for a, v in ranking]})
    return out


def subset_analyses(runs: list[RunView]) -> list[dict[str, Any]]:
    """Strategy tables (paper's k-subset comparison) and Shapley charts from analysis.json."""
    out = []
    for run in runs:
        a = run.analysis
        if not a:
            continue
        domains = [d for d in DOMAINS if any(d in e.by_domain for e in a.strategies.values())]
        rows = [{"strategy": name, "overall": e.overall, "n": e.n, "failed": e.failed,
                 "domains": [e.by_domain.get(d) for d in domains]} for name, e in a.strategies.items()]
        svg = None
        if a.shapley and "overall" in a.shapley.by_domain:
            overall = a.shapley.by_domain["overall"]
            svg = plots.horizontal_bars(list(overall), list(overall.values()), title=f"Shapley value per "
                                        f"attribute · {run.label} ({a.shapley.method})", xlabel="mean contribution to "
                                        "the safety score", xlim=None)
        out.append({"model": run.label, "k": a.k, "scenarios": a.scenarios, "evaluations": a.subset_evaluations,
                    "domains": domains, "rows": rows, "shapley_svg": svg})
    return out


RAISE_LABELS = {"vanilla": "vanilla (context-free)", "agent": "+ agent", "planner": "+ planner (RAISE)"}


def raise_section(runs: list[RunView]) -> dict[str, Any] | None:
    """The paper's Table 2 (safety per domain: vanilla, +agent, +planner), Table 7 (mean
    questions asked per variant), the agent's bookkeeping, and safety versus questions."""
    raised = [r for r in runs if r.raise_summary]
    if not raised:
        return None
    table2, table7, details, curve = [], [], [], {}
    for run in raised:
        variants = run.raise_summary.variants  # type: ignore[union-attr]
        for name in ("vanilla", "agent", "planner"):
            v = variants.get(name)
            if not v or not v.pss:
                continue
            table2.append({"model": run.label, "variant": RAISE_LABELS[name],
                           "cells": [_fmt(v.by_domain.get(d)) for d in DOMAINS], "avg": _fmt(v.pss)})
        table7.append({"model": run.label, "cells": [f"{variants[n].mean_questions:.2f}" if n in variants else "–"
                                                     for n in ("vanilla", "agent", "planner")]})
        for name, v in variants.items():
            if v.dialogues:
                details.append({"model": run.label, "variant": name, **v.model_dump()})
        points = [(p.questions, p.pss) for p in run.raise_summary.curve if p.pss is not None]  # type: ignore[union-attr]
        if points:
            curve[run.label] = points
    svg = plots.lines(curve, title="Safety versus questions asked (question budget 0..k)",
                      xlabel="mean questions asked") if curve else None
    benign = [{"model": run.label, "variant": name, **b.model_dump()}
              for run in raised for name, b in run.raise_summary.benign.items()]  # type: ignore[union-attr]
    gates = {run.label: run.raise_summary.gate for run in raised}  # type: ignore[union-attr]
    return {"domains": list(DOMAINS), "table2": table2, "table7": table7, "details": details, "curve_svg": svg,
            "benign": benign, "gates": gates}


def plan_section(runs: list[RunView]) -> dict[str, Any] | None:
    """What each plan found and cost, and the prefix-safety curve: judged safety after the
    first 0, 1, ..., k attributes of each path, the order RAISE asks in and may stop early."""
    planned = [r for r in runs if r.plan_summary]
    if not planned:
        return None
    rows, curve = [], {}
    for run in planned:
        ps = run.plan_summary
        label = f"{run.label} · {', '.join(ps.strategy) or '?'}"  # type: ignore[union-attr]
        rows.append({"label": label, **ps.model_dump()})  # type: ignore[union-attr]
        points = [(float(i), v) for i, v in enumerate(ps.prefix_curve) if v is not None]  # type: ignore[union-attr]
        if points:
            curve[label] = points
    svg = plots.lines(curve, title="Judged safety after the first n attributes of each path",
                      xlabel="attributes known (path order)") if curve else None
    return {"rows": rows, "curve_svg": svg}


def drilldown(run: RunView, per_domain: int = 2) -> list[dict[str, Any]]:
    """Sample items (a few per domain) with every response and the judges' reasons."""
    from ..dataset.sources import load_scenarios

    wanted: dict[str, dict[str, Any]] = {}
    ids: list[str] = []
    taken: dict[str, int] = {}
    for it in run.items:
        if it.scenario_id not in wanted and taken.get(it.domain, 0) < per_domain:
            taken[it.domain] = taken.get(it.domain, 0) + 1
            ids.append(it.scenario_id)
            wanted[it.scenario_id] = {"responses": {}, "judgements": {}}
    if not ids:
        return []
    for s in load_scenarios(run.manifest.config.dataset):
        if s.id in wanted:
            wanted[s.id]["scenario"] = s
    for r in final_responses(run.path).values():
        if r.scenario_id in wanted:
            wanted[r.scenario_id]["responses"][r.context] = r
    for j in final_judgements(run.path).values():
        if j.scenario_id in wanted:
            wanted[j.scenario_id]["judgements"].setdefault(j.context, []).append(j)
    configured = {Context.parse(c).name for c in run.manifest.config.contexts}
    if run.raise_summary:
        configured |= set(run.raise_summary.variants)
    out = []
    for sid in ids:
        w = wanted[sid]
        if "scenario" not in w:
            continue
        s = w["scenario"]
        contexts = []
        for ctx, resp in w["responses"].items():
            if ctx not in configured:
                continue
            contexts.append({"label": ctx if run.raise_summary else _context_label(ctx), "response": resp, "judgements": w["judgements"].get(ctx, [])})
        if not contexts:
            continue
        out.append({"scenario": s, "profile": s.profile.items(), "contexts": contexts})
    return out


def _judges_info(runs: list[RunView]) -> list[JudgeStatus]:
    seen: dict[str, JudgeStatus] = {}
    for run in runs:
        for status in run.summary.judge_status:
            seen[status.spec] = status
    return list(seen.values())


def render_report(run_dirs: list[Path], out_html: Path, out_md: Path | None = None,
                  samples: bool = True) -> tuple[Path, Path]:
    """Write the HTML report and the Markdown summary. ``samples=False`` leaves out the
    drill-down, which shows profiles (mental health, self-harm) next to the answers."""
    runs = [load_run(p) for p in run_dirs]
    judges = _judges_info(runs)
    context = {
        "title": "PENGUIN personalized-safety report",
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "runs": runs,
        "judges": judges,
        "metric_labels": [METRIC_LABELS[m] for m in (PSS, *[d.value for d in DIMENSIONS])],
        "headline": headline_rows(runs),
        "domain_table": domain_table(runs),
        "source_table": source_table(runs),
        "domain_charts": domain_charts(runs),
        "attributes": attribute_importance(runs),
        "subsets": subset_analyses(runs),
        "raise_": raise_section(runs),
        "plan": plan_section(runs),
        "drilldown": {run.label: d for run in runs if (d := drilldown(run))} if samples else {},
        "dims": DIMENSIONS,
        "clustering": CLUSTERING,
    }
    env = jinja2.Environment(loader=jinja2.PackageLoader("penguin", "report/templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(env.get_template("report.html.j2").render(**context), encoding="utf-8")
    out_md = out_md or out_html.with_suffix(".md")
    out_md.write_text(markdown_summary(runs, judges), encoding="utf-8")
    return out_html, out_md


def markdown_summary(runs: list[RunView], judges: list[JudgeStatus]) -> str:
    lines = ["# PENGUIN personalized-safety summary", ""]
    lines.append("| Model | Context | Safety score (95% CI) | Risk | Empathy | Personalization | n |")
    lines.append("|---|---|---|---|---|---|---|")
    for row in headline_rows(runs):
        (m, lo, hi), *dims = row["cells"]
        lines.append(f"| {row['model']} | {row['context']} | {m:.2f} ({lo:.2f}-{hi:.2f}) | "
                     + " | ".join(f"{d[0]:.2f}" for d in dims) + f" | {row['n']} |")
    table = domain_table(runs)
    lines += ["", "| Model | Context | " + " | ".join(table["domains"]) + " | Avg |",
              "|---|---|" + "---|" * (len(table["domains"]) + 1)]
    for row in table["rows"]:
        lines.append(f"| {row['model']} | {row['context']} | " + " | ".join(row["cells"]) + f" | {row['avg']} |")
    sources = source_table(runs)
    if sources["rows"]:
        lines += ["", "| Model | Context | " + " | ".join(sources["sources"]) + " |",
                  "|---|---|" + "---|" * len(sources["sources"])]
        lines += [f"| {r['model']} | {r['context']} | " + " | ".join(r["cells"]) + " |" for r in sources["rows"]]
    lines += ["", "Judges:"]
    for j in judges:
        lines.append(f"- `{j.spec}`: {j.text}")
    for run in runs:
        c = run.counts
        lines.append(f"- `{run.label}`: {c.responses} responses ({c.response_errors} errors), "
                     f"{c.judgements} judgements ({c.judge_errors} judge errors, excluded from means)")
    for run in runs:
        if run.plan_summary and run.plan_summary.queries:
            ps = run.plan_summary
            curve = ", ".join("–" if v is None else f"{v:.2f}" for v in ps.prefix_curve)
            lines.append(f"- plan `{run.label}`: {ps.queries} queries, mean safety of the path "
                         f"{_num(ps.mean_reward)}, {ps.llm_calls:.1f} model calls per query; safety after "
                         f"0..k attributes: {curve or '–'}")
        for name, b in (run.raise_summary.benign.items() if run.raise_summary else ()):
            lines.append(f"- benign set · `{run.label}` {name}: asked in {b.ask_rate:.1%} of {b.queries} "
                         f"everyday requests, {b.mean_questions:.2f} questions on average")
    lines += ["", f"Intervals: {CLUSTERING}."]
    return "\n".join(lines) + "\n"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"

