"""The router's cost and rates: what routing one message adds once the embedding model is loaded
(a new message; a reply turn, where the query is cached from the turn before and the conversation
read whole is new), and the held-out rates the artefact measured when it was built (its card).

    .venv/bin/python benchmarks/router.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _util import table

from penguin.agent.router import Router, RouterConfig
from penguin.agent.router_training import eval_items

QUERIES = [it.texts[0] for it in eval_items() if len(it.texts) == 1]


async def main(n: int) -> None:
    router = Router(RouterConfig())
    t0 = time.perf_counter()
    await router.route("warm up: load the model")
    load = time.perf_counter() - t0
    fresh, replay = [], []
    for q in QUERIES[:n]:
        t = time.perf_counter()
        await router.route(q)
        fresh.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await router.route(q, ["I'd rather not say."])  # the query is cached; the conversation text is new
        replay.append((time.perf_counter() - t) * 1000)
    pct = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    table([{"messages": n, "first load s": load, "new message p50 ms": pct(fresh, 50),
            "new message p95 ms": pct(fresh, 95), "reply turn p50 ms": pct(replay, 50),
            "reply turn p95 ms": pct(replay, 95), "LLM calls": 0}],
          "Routing cost after load (2 cores; one torch thread for single messages)")
    card = router.model.card["card"]
    rows = []
    for split in ("test", "independent"):
        rows.append({"set": split, **{k: "–" if v["rate"] is None else v["rate"] for k, v in card[split].items()
                                      if k != "by_category"}})
    table(rows, "Held-out rates measured at build time (router.json's card)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(30 if args.quick else 300))
