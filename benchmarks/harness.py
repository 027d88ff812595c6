"""Evaluation-harness figures: respond-and-judge throughput against a local OpenAI-compatible
server that answers after a fixed 0.2 s (calls/s and harness CPU per call), a bare async
openai client for comparison, and peak memory of a 14,000-scenario run.

    .venv/bin/python benchmarks/harness.py                 # throughput at concurrency 1, 8, 32, 64
    .venv/bin/python benchmarks/harness.py --memory        # + peak RSS for 14,000 scenarios (minutes)
    .venv/bin/python benchmarks/harness.py --quick         # seconds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from _util import cpu_seconds, fixed_delay_server, peak_rss_mb, table

os.environ["PENGUIN_CACHE_DIR"] = tempfile.mkdtemp(prefix="penguin-bench-")

from penguin.evaluation.config import RunConfig  # noqa: E402
from penguin.evaluation.engine import Runner  # noqa: E402


async def harness_throughput(url: str, concurrency: int, scenarios: int, dataset: str | None = None) -> dict:
    spec = f"openai:bench?base_url={url}&concurrency={concurrency}"
    config = RunConfig(model=spec, judges=[spec], limit=scenarios, dataset=dataset, concurrency=concurrency)
    run_dir = Path(tempfile.mkdtemp(prefix="penguin-run-")) / "run"
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    counters = await Runner(run_dir, config).execute(progress=False)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    calls = counters.responses + counters.judgements
    assert counters.judge_errors == 0 and counters.response_errors == 0
    return {"concurrency": concurrency, "scenarios": scenarios, "model calls": calls, "calls/s": calls / elapsed,
            "harness CPU ms/call": cpu / calls * 1000, "wall s": elapsed}


async def bare_client(url: str, concurrency: int, n: int) -> dict:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await client.chat.completions.create(model="bench", messages=[{"role": "user", "content": f"q{i}"}],
                                                 max_tokens=20)

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    await client.close()
    return {"concurrency": concurrency, "scenarios": "-", "model calls": n, "calls/s": n / elapsed,
            "harness CPU ms/call": cpu / n * 1000, "wall s": elapsed}


def big_dataset(n_copies: int = 2) -> str:
    """The bundled 7,000 scenarios twice (distinct ids): 14,000, like the full PENGUIN."""
    from penguin.dataset.io import write_scenarios
    from penguin.dataset.sources import load_scenarios

    path = Path(tempfile.mkdtemp(prefix="penguin-data-")) / "penguin14k.jsonl"
    write_scenarios(path, (s.model_copy(update={"id": f"{s.id}-c{c}"}) for c in range(n_copies)
                           for s in load_scenarios()))
    return str(path)


async def main(memory: bool, quick: bool = False) -> None:
    rows = []
    with fixed_delay_server(0.2) as url:
        for c in ((1, 8) if quick else (1, 8, 32, 64)):
            rows.append(await harness_throughput(url, c, scenarios=max(5, c * 6) if not quick else 4))
        bare = await bare_client(url, 64, 100 if quick else 1500)
    table(rows + [{**bare, "concurrency": "64 (bare openai client)"}],
          "penguin eval (respond + judge, 2 variants) vs a server answering after 0.2 s")
    if memory:
        data = big_dataset()
        rss0 = peak_rss_mb()
        with fixed_delay_server(0.0) as url:
            row = await harness_throughput(url, 64, scenarios=14_000, dataset=data)
        table([{**row, "peak RSS MB": peak_rss_mb(), "peak RSS before the run MB": rss0}],
              "14,000 scenarios x 2 variants, respond + judge, server answering at once")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", action="store_true", help="also run 14,000 scenarios for peak memory")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args()
    asyncio.run(main(args.memory, args.quick))
