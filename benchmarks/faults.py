"""Nothing lost under faults: an evaluation against a server that fails 30% of requests (every
way benchmarks/faulty_server.py knows), then one ``--retry-errors`` resume. Prints the items,
the faults injected by kind, the errors left after the run and after the retry, the wall time,
and whether any failure was scored (never: a failed response or judgement is an error record).

    .venv/bin/python benchmarks/faults.py [--scenarios 120] [--rate 0.3] [--seed 0] [--attempts 6] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from _util import HERE, free_port, server, table

os.environ["PENGUIN_CACHE_DIR"] = tempfile.mkdtemp(prefix="penguin-bench-")

from penguin.evaluation.config import RunConfig  # noqa: E402
from penguin.evaluation.engine import Runner  # noqa: E402
from penguin.evaluation.folder import final_judgements, final_responses  # noqa: E402
from penguin.evaluation.metrics import item_scores  # noqa: E402
from penguin.evaluation.summary import summarize  # noqa: E402


def errors(run_dir: Path) -> tuple[int, int]:
    responses, judgements = final_responses(run_dir), final_judgements(run_dir)
    return (sum(r.error is not None for r in responses.values()),
            sum(j.error is not None for j in judgements.values()))


async def main(scenarios: int, rate: float, seed: int, concurrency: int, attempts: int) -> None:
    port = free_port()
    with server([str(HERE / "faulty_server.py"), "--port", str(port), "--rate", str(rate), "--seed", str(seed),
                 "--hang", "4"], port) as url:
        spec = f"openai:faulty?base_url={url}&timeout=2&max_attempts={attempts}"
        run_dir = Path(tempfile.mkdtemp(prefix="penguin-faults-")) / "run"
        config = RunConfig(model=spec, judges=[spec], limit=scenarios, concurrency=concurrency)
        t0 = time.perf_counter()
        first = await Runner(run_dir, config).execute(progress=False)
        t_first = time.perf_counter() - t0
        after_run = errors(run_dir)
        t1 = time.perf_counter()
        retry = await Runner(run_dir, config, resume=True, retry_errors=True).execute(progress=False)
        t_retry = time.perf_counter() - t1
        after_retry = errors(run_dir)
        with urllib.request.urlopen(url.removesuffix("/v1") + "/stats") as resp:
            stats = json.load(resp)
    summary = summarize(run_dir)
    scored = summary.n_scored
    items = first.items
    responses = final_responses(run_dir)
    scored_failures = sum(responses[(it.scenario_id, it.context)].error is not None for it in item_scores(run_dir)[0])
    table([{"items": items, "requests served": stats["requests"], "faults injected": sum(stats["injected"].values()),
            **{f"fault {k}": v for k, v in sorted(stats["injected"].items())}}], f"Faults at {rate:.0%} (seed {seed}) · {attempts} attempts per call")
    table([{"stage": "after the run", "response errors": after_run[0], "judge errors": after_run[1],
            "wall s": round(t_first, 1), "retried": 0, "recovered": 0},
           {"stage": "after one --retry-errors", "response errors": after_retry[0], "judge errors": after_retry[1],
            "wall s": round(t_retry, 1), "retried": retry.retried, "recovered": retry.recovered}],
          "Lost items")
    print(f"items lost after one retry: {after_retry[0] + summary.counts.unscored_items} of {items}; "
          f"scored items {scored}; failures scored: {scored_failures or 'none'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", type=int, default=120, help="Scenarios (each answered twice and judged).")
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--attempts", type=int, default=6, help="max_attempts per call (fewer: more reaches the retry)")
    parser.add_argument("--quick", action="store_true", help="a few scenarios (seconds)")
    args = parser.parse_args()
    asyncio.run(main(8 if args.quick else args.scenarios, args.rate, args.seed, args.concurrency, args.attempts))
