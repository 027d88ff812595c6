"""Planner figures on a synthetic reward with a known optimum (k = 3 of 10, noisy reward,
informative but imperfect prior): how often guided MCTS, vanilla UCT and random search find
the optimum, and how many reward evaluations (judge calls) they spend.

Every method runs on the same seeds (problem, noise and prior) at each budget; --first-seed picks
another block of seeds to check that a figure is not a property of one block. The second table
answers the target question directly: for each method, the smallest budget on the grid whose
success rate reaches the target, and the mean evaluations spent there. A coarse grid can only
overstate what a method needs, so the grid is fine where UCT crosses the target.

The shape of the guided prior (``rank_prior``'s softmax temperature and uniform floor) and the
PUCT constant c are options; give several values to compare every combination (a prior study).
Choose settings on one block of seeds and confirm them on another, e.g.

    .venv/bin/python benchmarks/planner.py --prior-temperature 1 1.5 2 3 --prior-floor 0.02 0.1 0.2
    .venv/bin/python benchmarks/planner.py --seeds 200 --first-seed 50 --prior-temperature 1 2 ...

    .venv/bin/python benchmarks/planner.py [--seeds 50] [--first-seed 0] [--target 0.9]
        [--prior-temperature T ...] [--prior-floor F ...] [--c C ...] [--extract best_leaf|q ...]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
from dataclasses import dataclass

from _util import table

from penguin.planner.mcts import MCTS, PRIOR_FLOOR, PRIOR_TEMPERATURE, SearchConfig
from penguin.planner.synthetic import SyntheticProblem
from penguin.schema import ATTRIBUTES

ITERATIONS = (20, 40, 60, 80, 100, 110, 120, 130, 140, 150, 200, 300, 600)
BUDGETS = (25, 50, 75, 100, 110, 120)
SWEEP_COLUMNS = (40, 80, 120, 150, 200, 300, 600)  # a subset of ITERATIONS for the compact sweep table


@dataclass(frozen=True)
class Guide:
    """The guided search's knobs: the prior's shape and the PUCT constant."""
    temperature: float = PRIOR_TEMPERATURE
    floor: float = PRIOR_FLOOR
    c: float = SearchConfig.c

    def __str__(self) -> str:
        return f"{self.temperature:g}/{self.floor:g}/{self.c:g}"


async def mcts(seed: int, iterations: int, guide: Guide | None, extract: str, prior_noise: float) -> tuple[bool, int]:
    """guide=None: vanilla UCT (no prior)."""
    g = guide or Guide()
    p = SyntheticProblem(seed=seed, prior_noise=prior_noise, prior_temperature=g.temperature, prior_floor=g.floor)
    cfg = SearchConfig(iterations=iterations, depth=3, seed=seed, guided=guide is not None, extract=extract, c=g.c)
    r = await MCTS(p.reward, p.prior if guide else None, cfg).run()
    return frozenset(r.path) == p.optimum, r.reward_evaluations


async def random_search(seed: int, budget: int, prior_noise: float) -> tuple[bool, int]:
    p = SyntheticProblem(seed=seed, prior_noise=prior_noise)
    subsets = [frozenset(c) for c in itertools.combinations(ATTRIBUTES, 3)]
    picked = random.Random(seed).sample(subsets, min(budget, len(subsets)))
    scores = {s: await p.reward(s) for s in picked}
    return max(scores, key=scores.get) == p.optimum, len(picked)


def row(method: str, extract: str, budget: int, results: list[tuple[bool, int]]) -> dict:
    return {"method": method, "extract": extract, "iterations / budget": budget,
            "found optimum": sum(ok for ok, _ in results) / len(results),
            "reward evaluations (mean)": statistics.mean(n for _, n in results)}


async def main(seeds: int, first_seed: int, prior_noise: float, targets: list[float], guides: list[Guide],
               extracts: list[str]) -> None:
    seed_range = range(first_seed, first_seed + seeds)
    sweep = len(guides) > 1
    rows = []
    for extract in extracts:
        for guide in [*guides, None]:
            method = "vanilla UCT" if guide is None else f"guided {guide}" if sweep else "guided MCTS"
            for t in ITERATIONS:
                rows.append(row(method, extract, t, [await mcts(s, t, guide, extract, prior_noise) for s in seed_range]))
    for budget in BUDGETS:
        rows.append(row("random search", "-", budget, [await random_search(s, budget, prior_noise) for s in seed_range]))
    where = f"seeds {first_seed}..{seed_range[-1]} · prior noise {prior_noise}"
    if sweep:  # one compact line per setting (it must fit a terminal): the success rate at some budgets
        lines: dict[tuple[str, str], dict] = {}
        for r in rows:
            if r["method"] != "random search" and r["iterations / budget"] in SWEEP_COLUMNS:
                line = lines.setdefault((r["method"], r["extract"]), {"method": r["method"], "extract": r["extract"]})
                line[f"T={r['iterations / budget']}"] = f"{r['found optimum']:.0%}"
        table(list(lines.values()), f"Optimum found after T iterations · {where} · guided temp/floor/c = "
                                    "rank_prior temperature / floor, PUCT c")
    else:
        table(rows, f"Finding the best 3 of 10 attributes · {where} · guided prior temperature/floor, PUCT c = "
                    f"{guides[0]} (reward evaluations = distinct subsets judged; 120 subsets exist)")

    for goal in targets:
        needed: dict[tuple[str, str], dict] = {}
        for r in rows:  # budgets increase within a method: keep the first that reaches the target
            if r["found optimum"] >= goal:
                needed.setdefault((r["method"], r["extract"]), r)
        summary = []
        for method, extract in dict.fromkeys((r["method"], r["extract"]) for r in rows):
            r, uct = needed.get((method, extract)), needed.get(("vanilla UCT", extract))
            summary.append({"method": method, "extract": extract,
                            "smallest budget": r["iterations / budget"] if r else "not reached",
                            "found optimum": r["found optimum"] if r else "-",
                            "reward evaluations (mean)": r["reward evaluations (mean)"] if r else "-",
                            "vs vanilla UCT, same extraction": f"{r['reward evaluations (mean)'] / uct['reward evaluations (mean)']:.0%}"
                                                               if r and uct else "-"})
        table(summary, f"Reward evaluations needed to find the optimum in >= {goal:.0%} of the {seeds} seeds · {where}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--prior-noise", type=float, default=0.1)
    parser.add_argument("--target", type=float, nargs="+", default=[0.9], help="success rate(s) to reach")
    parser.add_argument("--prior-temperature", type=float, nargs="+", default=[PRIOR_TEMPERATURE],
                        help="rank_prior softmax temperature(s) of the guided search")
    parser.add_argument("--prior-floor", type=float, nargs="+", default=[PRIOR_FLOOR],
                        help="rank_prior uniform mass(es) of the guided search")
    parser.add_argument("--c", type=float, nargs="+", default=[SearchConfig.c], help="PUCT constant(s) of the guided search")
    parser.add_argument("--extract", nargs="+", choices=("best_leaf", "q"), default=["best_leaf", "q"])
    args = parser.parse_args()
    guides = [Guide(t, f, c) for t, f, c in itertools.product(args.prior_temperature, args.prior_floor, args.c)]
    asyncio.run(main(args.seeds, args.first_seed, args.prior_noise, args.target, guides, args.extract))
