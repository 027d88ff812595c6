"""`penguin plan`: build a RAISE path library (offline MCTS or a baseline strategy)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..planner.library import PlanConfig
from .app import app
from .common import (BaseUrlOpt, DatasetOpt, DomainsOpt, JudgeMaxTokensOpt, JudgeOpt, ModelOpt, OutOpt, ProgressOpt,
                     ResumeOpt, RetryOpt, console, friendly, split)

_D = {name: f.default for name, f in PlanConfig.model_fields.items()}  # one source for the defaults


def show_plan(run) -> None:  # noqa: ANN001 - a PlanRun
    s = run.plan_summary
    t = Table(title=f"Path library · {', '.join(s.strategy)} · {s.queries} queries (means per query)")
    for col in ("safety (search)", "confirmed", "sets judged", "prior calls", "LLM calls", "tokens", "seconds",
                "fallbacks"):
        t.add_column(col, justify="right")
    fmt = lambda v: f"{v:.2f}" if v is not None else "–"  # noqa: E731
    t.add_row(fmt(s.mean_reward), fmt(s.mean_confirmed_reward), f"{s.reward_evaluations:g}", f"{s.prior_calls:g}",
              f"{s.llm_calls:g}", f"{s.tokens:g}", f"{s.seconds:g}", str(s.prior_fallbacks))
    console.print(t)
    console.print(f"library: [bold]{escape(str(run.library_path))}[/]")


@app.command("plan")
@friendly
def plan_cmd(
    strategy: str = typer.Option(_D["strategy"], help="guided, uct, random, static, greedy or oracle."),
    iterations: int = typer.Option(_D["iterations"], help="MCTS iterations T (paper: 300)."),
    depth: int = typer.Option(_D["depth"], "--depth", "--k", help="Path length k (paper: 5)."),
    c: float = typer.Option(_D["c"], help="PUCT exploration constant (paper: 1)."),
    eps0: float = typer.Option(_D["eps0"], help="Rollout epsilon at depth 0 (paper: 0.2)."),
    batch: int = typer.Option(_D["batch"], help="Leaves scored concurrently per batch."),
    prior_temperature: float = typer.Option(_D["prior_temperature"], help="Softmax temperature of the prior."),
    prior_floor: float = typer.Option(_D["prior_floor"], help="Uniform mass mixed into the prior."),
    prior_refresh: str = typer.Option(_D["prior_refresh"], help="Rankings asked: state, depth or root."),
    extract: str = typer.Option(_D["extract"], help="Path rule: prefix, best_leaf or q."),
    confirm: bool = typer.Option(_D["confirm"], help="Judge each path again (unbiased score)."),
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = DatasetOpt,
    split_: str = typer.Option("plan", "--split", help="Query split: plan, dev, online or all."),
    domains: Optional[str] = DomainsOpt,
    limit: Optional[int] = typer.Option(None, help="First N scenarios of the split."),
    per_domain: Optional[int] = typer.Option(None, help="N scenarios drawn per domain."),
    seed: int = typer.Option(0, help="Seed of search and generation (same seed, same library)."),
    max_tokens: int = typer.Option(512, help="Max tokens per response."),
    judge_max_tokens: int = JudgeMaxTokensOpt,
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(4, min=1, help="Queries planned at once."),
    out: Path = OutOpt,
    resume: Optional[Path] = ResumeOpt,
    retry_errors: bool = RetryOpt,
    progress: bool = ProgressOpt,
) -> None:
    """Find the attributes worth asking for each query; writes library.jsonl (resumable)."""
    from ..api import plan, resume as resume_run
    from .evaluation import _no_retry_without_resume

    _no_retry_without_resume(retry_errors, resume)
    if resume is not None:
        run = resume_run(resume, retry_errors=retry_errors, progress=progress)
    else:
        run = plan(strategy, iterations=iterations, depth=depth, c=c, eps0=eps0, batch=batch,
                   prior_temperature=prior_temperature, prior_floor=prior_floor, prior_refresh=prior_refresh,
                   extract=extract, confirm=confirm, model=model, judges=judge, dataset=dataset, split=split_,
                   domains=split(domains), limit=limit, per_domain=per_domain, seed=seed, max_tokens=max_tokens,
                   judge_max_tokens=judge_max_tokens, base_url=base_url, concurrency=concurrency, out=out,
                   progress=progress)
    console.print(f"plan folder: [bold]{escape(str(run.path))}[/]")
    show_plan(run)
