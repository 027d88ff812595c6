"""Planner figures on a synthetic problem whose answer is known, prefixes included
(penguin.planner.synthetic: noisy per-set safety, an interaction bonus for the optimal set, a decoy
attribute that is good alone but useless beside the best one, an informative but imperfect
ranking).

For each method and depth k, over many seeds:
- success: the path's set is the optimal set;
- best first: the path starts with the best single attribute;
- area: the noise-free area under the path's prefix-safety curve, as a share of the best order's;
- calls: model calls per query, rewards (distinct sets judged, prefixes included) + rankings.
Then, at equal success: the smallest T at which vanilla UCT matches the guided search's success
on the same seeds, and the guided search's calls as a share of UCT's there.

    .venv/bin/python benchmarks/planner.py [--seeds 60] [--first-seed 0] [--iterations 300] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import dataclass

from _util import table

from penguin.planner.mcts import MCTS, SearchConfig
from penguin.planner.synthetic import SyntheticProblem


DEFAULT = SearchConfig()


@dataclass(frozen=True)
class Method:
    name: str
    guided: bool = True
    refresh: str = DEFAULT.prior_refresh
    gamma: float = DEFAULT.gamma
    extract: str = DEFAULT.extract


METHODS = [
    Method(f"guided, penguin's defaults (rank: {DEFAULT.prior_refresh}, gamma {DEFAULT.gamma})"),
    Method("guided, rank every state (paper)", refresh="state"),
    Method("guided, rank per depth", refresh="depth"),
    Method("guided, leaf reward only (gamma 1)", gamma=1.0),
    Method("guided, leaf reward, paper's q extraction", gamma=1.0, extract="q"),
    Method("vanilla UCT", guided=False),
]


async def one(seed: int, k: int, iterations: int, m: Method) -> dict:
    p = SyntheticProblem(seed=seed, k=k)
    cfg = SearchConfig(iterations=iterations, depth=k, prior_refresh=m.refresh, gamma=m.gamma, extract=m.extract)
    r = await MCTS(p.reward, p.rank if m.guided else None, cfg, seed=seed, guided=m.guided).run()
    return {"success": frozenset(r.path) == p.optimum, "first": bool(r.path) and r.path[0] == p.best_single,
            "area": p.area(r.path) / p.optimal_area(), "calls": r.reward_evaluations + r.prior_calls,
            "rewards": r.reward_evaluations, "rankings": r.prior_calls}


async def method_row(seeds: range, k: int, iterations: int, m: Method) -> dict:
    runs = [await one(s, k, iterations, m) for s in seeds]
    mean = lambda key: statistics.mean(float(r[key]) for r in runs)  # noqa: E731
    return {"k": k, "method": m.name, "T": iterations, "success": mean("success"), "best first": mean("first"),
            "area / best": mean("area"), "sets judged": mean("rewards"), "rankings": mean("rankings"),
            "calls / query": mean("calls")}


async def main(seeds: int, first_seed: int, iterations: int, depths: list[int], uct_grid: list[int]) -> None:
    seed_range = range(first_seed, first_seed + seeds)
    rows, equal = [], []
    for k in depths:
        guided = None
        for m in METHODS:
            row = await method_row(seed_range, k, iterations, m)
            rows.append(row)
            if m is METHODS[0]:
                guided = row
        # vanilla UCT at growing budgets: where does it reach the guided default's success?
        for t in uct_grid:
            uct = await method_row(seed_range, k, t, Method("vanilla UCT", guided=False))
            if uct["success"] >= guided["success"] or t == uct_grid[-1]:  # type: ignore[index]
                equal.append({"k": k, "guided success": guided["success"], "guided calls": guided["calls / query"],  # type: ignore[index]
                              "UCT T for that success": t if uct["success"] >= guided["success"] else f">{t}",  # type: ignore[index]
                              "UCT success": uct["success"], "UCT calls": uct["calls / query"],
                              "guided / UCT calls": guided["calls / query"] / uct["calls / query"]})  # type: ignore[index]
                break
    table(rows, f"Planner on a known optimum · {seeds} seeds from {first_seed} · T={iterations}")
    table(equal, "At equal success: guided search with penguin's defaults vs vanilla UCT (the smallest T on the grid "
                 "reaching the guided success)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="a few seeds and small budgets (seconds)")
    args = parser.parse_args()
    if args.quick:
        asyncio.run(main(3, args.first_seed, 40, [3], [40, 80]))
    else:
        asyncio.run(main(args.seeds, args.first_seed, args.iterations, [3, 5],
                         [100, 150, 200, 250, 300, 450, 600, 1000, 1500]))
