"""Dataset figures: time to load the bundled 7,000 scenarios, to validate and to rebuild them.

    .venv/bin/python benchmarks/dataset.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _util import peak_rss_mb, table

from penguin.dataset.bundled import build_synthetic_set
from penguin.dataset.check import validate
from penguin.dataset.io import bundled_path, write_scenarios
from penguin.dataset.sources import load_scenarios


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(quick: bool = False) -> None:
    n = sum(1 for _ in load_scenarios())
    loads = 1 if quick else 5
    tmp = Path(tempfile.mkdtemp()) / "rebuilt.jsonl.gz"
    rows = [{
        "scenarios": n,
        "file KB": bundled_path().stat().st_size / 1024,
        f"load all s (median of {loads})": timed(lambda: list(load_scenarios()), repeats=loads),
        "validate s": timed(lambda: validate(bundled_path()), repeats=1),
        "rebuild s": timed(lambda: write_scenarios(tmp, build_synthetic_set()), repeats=1),
        "peak RSS MB": peak_rss_mb(),
    }]
    table(rows, "Bundled synthetic PENGUIN set")


if __name__ == "__main__":
    import sys

    main("--quick" in sys.argv)
