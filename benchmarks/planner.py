"""Planner figures on a synthetic reward with a known optimum (k = 3 of 10, noisy reward,
informative but imperfect prior): how often guided MCTS, vanilla UCT and random search find
the optimum, and how many reward evaluations (judge calls) they spend.

    .venv/bin/python benchmarks/planner.py [--seeds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics

from _util import table

from penguin.planner.mcts import MCTS, SearchConfig
from penguin.planner.synthetic import SyntheticProblem
from penguin.schema import ATTRIBUTES


async def mcts(seed: int, iterations: int, guided: bool, prior_noise: float) -> tuple[bool, int]:
    p = SyntheticProblem(seed=seed, prior_noise=prior_noise)
    r = await MCTS(p.reward, p.prior if guided else None,
                   SearchConfig(iterations=iterations, depth=3, seed=seed, guided=guided)).run()
    return frozenset(r.path) == p.optimum, r.reward_evaluations


async def random_search(seed: int, budget: int) -> tuple[bool, int]:
    p = SyntheticProblem(seed=seed)
    subsets = [frozenset(c) for c in itertools.combinations(ATTRIBUTES, 3)]
    picked = random.Random(seed).sample(subsets, min(budget, len(subsets)))
    scores = {s: await p.reward(s) for s in picked}
    return max(scores, key=scores.get) == p.optimum, len(picked)


async def main(seeds: int, prior_noise: float) -> None:
    rows = []
    for iterations in (60, 120, 300, 600):
        for guided in (True, False):
            results = [await mcts(s, iterations, guided, prior_noise) for s in range(seeds)]
            rows.append({"method": "guided MCTS" if guided else "vanilla UCT", "iterations / budget": iterations,
                         "found optimum": sum(ok for ok, _ in results) / seeds,
                         "reward evaluations (mean)": statistics.mean(n for _, n in results)})
    for budget in (25, 50, 100, 120):
        results = [await random_search(s, budget) for s in range(seeds)]
        rows.append({"method": "random search", "iterations / budget": budget,
                     "found optimum": sum(ok for ok, _ in results) / seeds,
                     "reward evaluations (mean)": statistics.mean(n for _, n in results)})
    table(rows, f"Finding the best 3 of 10 attributes · {seeds} seeds · prior noise {prior_noise} "
                "(reward evaluations = distinct subsets judged; 120 subsets exist)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--prior-noise", type=float, default=0.1)
    args = parser.parse_args()
    asyncio.run(main(args.seeds, args.prior_noise))
