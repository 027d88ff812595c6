"""Benchmarks cannot rot: every script in benchmarks/ runs in its --quick mode and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.name not in
                 ("fixed_delay_server.py", "faulty_server.py"))
SLOW = {"models.py", "raise_cost.py", "proxy.py", "harness.py", "router.py"}  # the embedded model, or servers and clients


def test_every_benchmark_is_listed_here():
    assert set(SCRIPTS) == {"dataset.py", "faults.py", "harness.py", "models.py", "planner.py", "proxy.py",
                            "raise_cost.py", "router.py"}


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s for s in SCRIPTS])
def test_benchmark_runs_in_quick_mode(script, tmp_path):
    res = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                         timeout=1200, cwd=tmp_path, env={**__import__("os").environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "┃" in res.stdout or "|" in res.stdout  # a table was printed
