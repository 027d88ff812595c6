"""`penguin plan`: build a RAISE path library (offline MCTS or a baseline strategy)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..planner.library import PlanConfig
from . import BaseUrlOpt, JudgeOpt, ModelOpt, _analysis_config, app, console, friendly

_D = {name: f.default for name, f in PlanConfig.model_fields.items()}  # one source for the defaults


@app.command("plan")
@friendly
def plan_cmd(
    strategy: str = typer.Option(_D["strategy"], help="guided (LLM-guided MCTS), uct (no prior), random, static, "
                                                "greedy or oracle (exhaustive)."),
    iterations: int = typer.Option(_D["iterations"], help="MCTS iterations T (paper: 300)."),
    depth: int = typer.Option(_D["depth"], "--depth", "--k", help="Path length k (paper: 5; 3 in ablations)."),
    c: float = typer.Option(_D["c"], help="PUCT exploration constant (paper: 1)."),
    eps0: float = typer.Option(_D["eps0"], help="Rollout epsilon at depth 0 (paper: 0.2)."),
    batch: int = typer.Option(_D["batch"], help="Leaves scored concurrently per batch (virtual loss)."),
    prior_temperature: float = typer.Option(_D["prior_temperature"], help="Softmax temperature of the rank-to-prior "
                                            "map (chosen on synthetic seeds; benchmarks/planner.py)."),
    prior_floor: float = typer.Option(_D["prior_floor"], help="Uniform mass mixed into the prior (full support)."),
    extract: str = typer.Option(_D["extract"], help="best_leaf (best judged set, ties by prefix Q) or q (the "
                                                    "paper's greedy highest-Q path)."),
    confirm: bool = typer.Option(_D["confirm"], help="Judge each chosen path again from a fresh response "
                                                     "(an unbiased score to compare strategies on)."),
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = typer.Option(None, help="Scenario file; default: the bundled set."),
    split: str = typer.Option("plan", help="Query split to plan: plan, dev, online, or all."),
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains."),
    limit: Optional[int] = typer.Option(None, help="First N scenarios of the split."),
    per_domain: Optional[int] = typer.Option(None, help="N scenarios drawn per domain."),
    seed: int = typer.Option(0, help="Seed of the search and of generation (same seed, same library)."),
    max_tokens: int = typer.Option(512, help="Max tokens per response."),
    judge_max_tokens: int = typer.Option(1024),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(4, min=1, help="Queries planned at once (each also batches its leaves)."),
    out: Path = typer.Option(Path("runs"), help="Folder for run folders."),
    resume: Optional[Path] = typer.Option(None, help="Continue this plan folder."),
) -> None:
    """Find the attributes worth asking for each query; writes library.jsonl (resumable)."""
    from pydantic import ValidationError

    from ..errors import ConfigError, describe_validation
    from ..evaluation.engine import Runner
    from ..evaluation.folder import load_manifest, load_pinned, new_run_dir
    from ..planner.plan import LIBRARY, PLANNER_MANIFEST, plan_library

    if resume is not None:
        config, run_dir = load_manifest(resume).config, resume
        plan = load_pinned(resume, PLANNER_MANIFEST, "plan", PlanConfig)
    else:
        try:
            plan = PlanConfig(strategy=strategy, iterations=iterations, depth=depth, c=c, eps0=eps0, batch=batch,
                              prior_temperature=prior_temperature, prior_floor=prior_floor, extract=extract,
                              confirm=confirm)
        except ValidationError as exc:
            raise ConfigError(describe_validation(exc)) from exc
        config = _analysis_config(model, judge, dataset, domains, per_domain, None, seed, max_tokens,
                                  judge_max_tokens, base_url, concurrency, [], split=split, limit=limit)
        run_dir = new_run_dir(out, f"plan-{plan.strategy}-{model}")
    console.print(f"plan folder: [bold]{run_dir}[/]")
    summary = asyncio.run(plan_library(Runner(run_dir, config, keep_verdicts=True, resume=resume is not None), plan))
    t = Table(title=f"Path library · {plan.strategy} · k={plan.depth} · {summary['queries']} queries")
    for col in ("safety of best path (search)", "confirmed safety", "sets judged / query", "LLM calls / query", "tokens / query",
                "seconds / query", "prior fallbacks"):
        t.add_column(col, justify="right")
    t.add_row(*(f"{summary[k]:.2f}" if summary.get(k) is not None else "–"
                for k in ("mean_reward", "mean_confirmed_reward")),
              str(summary.get("reward_evaluations")), str(summary.get("llm_calls")), str(summary.get("tokens")),
              str(summary.get("seconds")), str(summary.get("prior_fallbacks")))
    console.print(t)
    console.print(f"library: [bold]{run_dir / LIBRARY}[/]")
