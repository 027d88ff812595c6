"""pyflakes' checks (ruff's F rules, configured in pyproject.toml) over every Python file we ship
or run: an undefined name in a branch the tests never take, or an import that no longer exists,
fails here rather than in a user's session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_code_has_no_undefined_names_unused_imports_or_syntax_errors():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks",
                          "examples"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
