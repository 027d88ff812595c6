"""Model-layer figures: the embedded model's load time, prompt and decode speed (ours and
llama.cpp's own timer for the same run), peak RSS; cache-hit latency; how many concurrent
requests the OpenAI-compatible backend sustains against a local server.

    .venv/bin/python benchmarks/models.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

from _util import fixed_delay_server, peak_rss_mb, table

os.environ.setdefault("PENGUIN_CACHE_DIR", tempfile.mkdtemp(prefix="penguin-bench-"))

from penguin.models import ChatRequest, ResponseCache, load_model  # noqa: E402

PROMPT = ("You are helping a student plan a week of revision for three exams: statistics, organic chemistry and "
          "European history. They have about four hours a day, feel anxious about chemistry, and sleep badly "
          "before exams. Write a detailed day-by-day plan with breaks, what to revise in each session, how to "
          "test themselves, and two short tips for sleeping better. Be specific and thorough.")


async def embedded(repeats: int = 3, tokens: int = 200) -> dict:
    import llama_cpp

    rss_before = peak_rss_mb()
    model = load_model("local:smollm2", cache=False)
    inner = model.inner  # the LocalModel under the meter
    req = ChatRequest.chat(None, PROMPT, temperature=0.0, max_tokens=1, seed=0)
    await model.generate(req)  # loads the weights
    load_s = inner.load_seconds
    llm = inner._llm
    # prompt speed: a fresh prompt of ~170 tokens, one output token
    llm.reset()
    r = await model.generate(req)
    prompt_tps = r.prompt_tokens / r.latency_s
    # decode speed: ``tokens`` tokens after the same (cached) prompt; llama.cpp's own timer for the same run
    rates, own = [], []
    for seed in range(repeats):
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        start = time.perf_counter()
        out = await model.generate(ChatRequest.chat(None, PROMPT, temperature=0.0, max_tokens=tokens, seed=seed))
        elapsed = time.perf_counter() - start
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
        decode_s = elapsed - perf.t_p_eval_ms / 1000
        rates.append(out.completion_tokens / decode_s)
        own.append(perf.n_eval / (perf.t_eval_ms / 1000))
    await model.aclose()
    return {
        "load s": load_s, "prompt tok/s": prompt_tps, "decode tok/s (penguin, end to end)": statistics.median(rates),
        "decode tok/s (llama.cpp timer)": statistics.median(own),
        "penguin / llama.cpp decode ratio": statistics.median(rates) / statistics.median(own),
        "peak RSS MB": peak_rss_mb(), "RSS added by model MB": peak_rss_mb() - rss_before,
        "generated tokens": out.completion_tokens,
    }


async def cache_hits(n: int = 2000) -> dict:
    with fixed_delay_server(0.0) as url:
        cache = ResponseCache()
        model = load_model(f"openai:bench?base_url={url}", cache=cache)
        req = ChatRequest.chat("system", "a question " * 50, temperature=0.7, max_tokens=100, seed=0)
        await model.generate(req)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            res = await model.generate(req)
            times.append((time.perf_counter() - start) * 1000)
            assert res.cached
        await model.aclose()
    times.sort()
    return {"cache hits": n, "median ms": times[n // 2], "p95 ms": times[int(n * 0.95)], "max ms": times[-1]}


async def concurrency(delay: float = 0.2, levels: tuple[int, ...] = (1, 8, 32, 64, 128)) -> list[dict]:
    rows = []
    with fixed_delay_server(delay) as url:
        for c in levels:
            model = load_model(f"openai:bench?base_url={url}&concurrency={c}", cache=False)
            n = max(10, int(c / delay * 3))  # about 3 s of work at full speed
            reqs = [ChatRequest.chat(None, f"question {i}", max_tokens=20, seed=i) for i in range(n)]
            start = time.perf_counter()
            await asyncio.gather(*(model.generate(r) for r in reqs))
            elapsed = time.perf_counter() - start
            await model.aclose()
            rows.append({"concurrency": c, "requests": n, "calls/s": n / elapsed,
                         "ideal calls/s": c / delay, "efficiency": n / elapsed / (c / delay)})
    return rows


async def main(quick: bool) -> None:
    table([await embedded(1, 40) if quick else await embedded()], "Embedded model (SmolLM2-135M Q4_1, in-process, "
                                                                   "2 threads)")
    table([await cache_hits(100 if quick else 2000)], "Response cache (SQLite) hit latency through the model interface")
    table(await concurrency(levels=(1, 8) if quick else (1, 8, 32, 64, 128)),
          "OpenAI-compatible backend vs a local server answering after 0.2 s")


if __name__ == "__main__":
    import sys

    asyncio.run(main("--quick" in sys.argv))
