"""What RAISE costs with the embedded model: planning per query for each strategy (sets
judged, LLM calls, tokens, seconds, safety reached) and one online dialogue per variant.

    .venv/bin/python benchmarks/raise_cost.py [--queries 2] [--iterations 20] [--depth 3] [--quick]

Every figure is measured on fresh caches (a temporary PENGUIN_CACHE_DIR), so no call is
served from an earlier run. The judge is the embedded model too: the safety figures show
the pipeline, not a validated score.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from _util import table


async def main(queries: int, iterations: int, depth: int, strategies: list[str], max_tokens: int) -> None:
    from penguin.agent.evaluation import RaiseEvaluation, RaiseSettings
    from penguin.agent.loop import AgentConfig
    from penguin.evaluation.config import RunConfig
    from penguin.evaluation.engine import Runner
    from penguin.planner.library import PlanConfig
    from penguin.planner.plan import plan_library

    root = Path(tempfile.mkdtemp(prefix="penguin-raise-bench-"))
    os.environ["PENGUIN_CACHE_DIR"] = str(root / "cache")
    base = dict(contexts=[], limit=queries, seed=0, generation={"max_tokens": max_tokens}, judge_max_tokens=300,
                concurrency=1)
    rows = []
    library = None
    for strategy in strategies:
        os.environ["PENGUIN_CACHE_DIR"] = str(root / f"cache-{strategy}")  # no strategy reuses another's calls
        run_dir = root / f"plan-{strategy}"
        s = await plan_library(Runner(run_dir, RunConfig(split="plan", **base), keep_verdicts=True),
                               PlanConfig(strategy=strategy, iterations=iterations, depth=depth), progress=False)
        rows.append({"strategy": strategy, "queries": s.queries, "safety (search)": s.mean_reward,
                     "safety (confirmed)": s.mean_confirmed_reward, "sets judged / query": s.reward_evaluations,
                     "rankings / query": s.prior_calls, "LLM calls / query": s.llm_calls, "tokens / query": s.tokens,
                     "seconds / query": s.seconds, "prior fallbacks": s.prior_fallbacks})
        if strategy == "guided":
            library = run_dir / "library.jsonl"
    table(rows, f"Planning cost per query · embedded SmolLM2-135M (responder, prior and judge) · k={depth} · "
                f"T={iterations} for MCTS · 2 CPU threads")
    if library is None:
        return
    os.environ["PENGUIN_CACHE_DIR"] = str(root / "cache-online")
    started = time.perf_counter()
    settings = RaiseSettings(library=str(library), agent=AgentConfig(max_questions=depth), benign=False)
    summary = await RaiseEvaluation(Runner(root / "raise", RunConfig(split="online", **base), keep_verdicts=True),
                                    settings).run(progress=False)
    elapsed = time.perf_counter() - started
    table([{"variant": name, "questions": v.mean_questions, "LLM calls / dialogue": v.llm_calls,
            "safety": v.pss.mean if v.pss else None, "fallbacks": v.fallbacks or "none"}
           for name, v in summary.variants.items()],
          f"Online dialogues · {queries} online scenarios · all variants and judging took {elapsed:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--strategies", default="guided,uct,random,static,greedy")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 query, a tiny search (a minute)")
    args = parser.parse_args()
    if args.quick:
        args.queries, args.iterations, args.depth, args.strategies, args.max_tokens = 1, 4, 2, "guided,static", 16
    asyncio.run(main(args.queries, args.iterations, args.depth, args.strategies.split(","), args.max_tokens))
