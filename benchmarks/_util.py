"""Helpers shared by the benchmark scripts: servers in subprocesses, memory, tables."""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(args: list[str], port: int, timeout: float = 90) -> Iterator[str]:
    """Start a server process, wait for /v1/models, yield its base URL, stop it."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"server {args} did not start")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def fixed_delay_server(delay: float, jitter: float = 0.0) -> contextlib.AbstractContextManager[str]:
    port = free_port()
    return server([str(HERE / "fixed_delay_server.py"), "--port", str(port), "--delay", str(delay),
                   "--jitter", str(jitter)], port)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def table(rows: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for col in rows[0]:
        t.add_column(col, justify="right")
    for row in rows:
        t.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row.values()))
    Console(width=220).print(t)
