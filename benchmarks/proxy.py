"""`penguin serve` overhead: the same requests sent straight to a fast upstream and through the
proxy, at 1-64 concurrent keep-alive clients; the difference is what the proxy adds.

The stand-in upstream answers after 200 ms, jittered by +-25% as real model latencies vary,
and each client starts at a random moment within one upstream delay. With a fixed delay and
clients that start together, every request arrives in lock-step with 63 others and waits for
them at the proxy, round after round (``--jitter 0 --no-stagger`` shows that worst case).

Measurements are paired: request n carries "case n" in its query, and the stand-in derives
its delay from n, so request n sees the same upstream delay sent directly and through the
proxy (k times if the proxy calls upstream k times). Its overhead is
latency via proxy - k x latency direct, and the table gives that distribution's p50 and p95.

Two workloads: "answer" (the user has replied to our question: the proxy understands the reply
and makes 1 upstream call) and "new query" (abstention + fallback + answer: the stand-in upstream
answers prose where JSON is expected, so the agent retries 3 times, then answers: 4 calls).

    .venv/bin/python benchmarks/proxy.py [--requests 400] [--delay 0.2] [--jitter 0.25] [--no-stagger]
        [--clients 1,8,32,64] [--workload answer|new query|all] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Callable

from _util import fixed_delay_server, free_port, server, table

from penguin.agent.questions import QUESTIONS
from penguin.schema import Attribute

QUERY = "I lost my job last month (case {n}). Should I use my emergency fund to start a business?"
WORKLOADS = {
    "answer": lambda n: [{"role": "user", "content": QUERY.format(n=n)},
                         {"role": "assistant", "content": QUESTIONS[Attribute.AGE]}, {"role": "user", "content": "I'm 34"}],
    "new query": lambda n: [{"role": "user", "content": QUERY.format(n=n)}],
}


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str,
               body: bytes) -> bytes:
    """One HTTP/1.1 keep-alive POST; a minimal client so the load generator costs little CPU."""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length"))
    payload = await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
    return payload


async def load(url: str, path: str, body: Callable[[int], bytes], clients: int, requests: int,
               stagger: float = 0.0) -> tuple[dict[int, float], float, bytes]:
    """({case n: latency in s}, requests per second, one response body). Client i sends cases
    i, i + clients, ...; each client waits a random 0-``stagger`` s before its first request."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    latencies: dict[int, float] = {}
    last = b""
    per_client = max(1, requests // clients)

    async def client(i: int) -> None:
        nonlocal last
        reader, writer = await asyncio.open_connection(host, int(port))
        await asyncio.sleep(random.uniform(0, stagger))
        for n in range(i, per_client * clients, clients):
            t = time.perf_counter()
            last = await post(reader, writer, host, path, body(n))
            latencies[n] = time.perf_counter() - t
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, len(latencies) / (time.perf_counter() - start - stagger / 2), last


def proxy_cpu_seconds() -> float:
    """CPU time of our `penguin serve` child process and its workers (Linux /proc)."""
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])),
                                            (stat.parent / "cmdline").read_bytes())
        except (OSError, ValueError, IndexError):
            continue
    serve = {pid for pid, (ppid, _, cmd) in stats.items() if ppid == os.getpid() and b"penguin\x00serve" in cmd}
    ticks = sum(t for pid, (ppid, t, _) in stats.items() if pid in serve or ppid in serve)
    return ticks / os.sysconf("SC_CLK_TCK") if serve else float("nan")


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000


async def measure(upstream: str, proxy: str, requests: int, workloads: list[str], client_counts: list[int],
                  stagger: float) -> list[dict]:
    def direct_body(n: int) -> bytes:
        return json.dumps({"model": "bench", "messages": WORKLOADS["new query"](n), "max_tokens": 512}).encode()

    rows = []
    for workload in workloads:
        def body(n: int) -> bytes:
            return json.dumps({"model": "penguin-raise", "messages": WORKLOADS[workload](n)}).encode()

        for clients in client_counts:
            n = max(requests, clients * 4)
            await load(proxy, "/v1/chat/completions", lambda i: body(-1 - i), clients, clients * 2)  # warm up
            d, _, _ = await load(upstream, "/v1/chat/completions", direct_body, clients, n, stagger)
            cpu0 = proxy_cpu_seconds()
            p, p_rps, sample = await load(proxy, "/v1/chat/completions", body, clients, n, stagger)
            cpu_ms = (proxy_cpu_seconds() - cpu0) / len(p) * 1000
            calls = json.loads(sample)["penguin"]["upstream_calls"]
            overhead = [p[i] - calls * d[i] for i in p if i in d]  # paired: the same upstream delays
            rows.append({"workload": workload, "clients": clients, "upstream calls/req": calls,
                         "direct p50 ms": pct(list(d.values()), 50), "proxy rps": p_rps,
                         "proxy p50 ms": pct(list(p.values()), 50), "proxy p95 ms": pct(list(p.values()), 95),
                         "overhead p50 ms": pct(overhead, 50), "overhead p95 ms": pct(overhead, 95),
                         "overhead p95 ms/call": pct(overhead, 95) / calls, "proxy CPU ms/req": cpu_ms})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="Requests per measurement.")
    parser.add_argument("--delay", type=float, default=0.2, help="Upstream's mean delay (s).")
    parser.add_argument("--jitter", type=float, default=0.25, help="Upstream delay spread, relative (0-1).")
    parser.add_argument("--no-stagger", action="store_true", help="All clients start at once.")
    parser.add_argument("--workers", type=int, default=1, help="`penguin serve --workers`.")
    parser.add_argument("--clients", default="1,8,32,64", help="Concurrent client counts, comma-separated.")
    parser.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    parser.add_argument("--no-gate", action="store_true", help="`penguin serve --no-gate` (no router).")
    parser.add_argument("--quick", action="store_true", help="few requests, 1 and 8 clients (seconds)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.clients, args.workload = 40, "1,8", "answer"
    if not 0 <= args.jitter <= 1:
        parser.error("--jitter must be between 0 and 1")
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    load_before = os.getloadavg()[0]
    port = free_port()
    serve = ["-m", "penguin", "serve", "--upstream", "openai:bench", "--port", str(port), "--max-questions", "1",
             "--rate", "1e9", "--burst", "1000000", "--concurrency", "256", "--log-level", "warning",
             "--workers", str(args.workers), *(["--no-gate"] if args.no_gate else [])]
    with fixed_delay_server(args.delay, args.jitter) as upstream, server(serve + ["--base-url", upstream], port) as proxy:
        rows = asyncio.run(measure(upstream, proxy, args.requests, workloads,
                                   [int(c) for c in args.clients.split(",")], 0.0 if args.no_stagger else args.delay))
    table(rows, f"penguin serve overhead · upstream delay {args.delay * 1000:.0f} ms ± {args.jitter:.0%} · "
                f"{'clients start together' if args.no_stagger else 'staggered clients'} · {args.workers} worker(s) · "
                f"{os.cpu_count()} cores · gate {'off' if args.no_gate else 'on'} · "
                f"load average before {load_before:.1f}")


if __name__ == "__main__":
    main()
