"""The Python API as a user calls it: the tour in examples/ runs end to end, and its rules hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import penguin

TOUR = Path(__file__).resolve().parents[1] / "examples" / "api_tour.py"


def _tour(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOUR), *args], capture_output=True, text=True, timeout=1500)


def test_the_tour_runs_on_mock_models():
    res = _tour()
    assert res.returncode == 0, res.stderr
    for step in ("evaluate:", "frames:", "plan:", "raise_eval:", "read_run:", "agent: route direct"):
        assert step in res.stdout


@pytest.mark.slow
def test_the_tour_runs_on_the_embedded_model():
    res = _tour("--embedded")
    assert res.returncode == 0, res.stderr
    assert "read_run: raise run" in res.stdout


def test_the_public_names_are_documented_and_lazy():
    assert {"evaluate", "resume", "read_run", "analyze_attributes", "analyze_subsets", "plan", "raise_eval",
            "judge_check", "load_scenarios", "load_model", "Agent"} <= set(penguin.__all__)
    for name in ("evaluate", "resume", "plan", "raise_eval", "judge_check", "read_run"):
        assert getattr(penguin, name).__doc__, name
    with pytest.raises(AttributeError):
        penguin.no_such_thing  # noqa: B018


def test_errors_name_the_parameter(tmp_path):
    with pytest.raises(penguin.ConfigError, match="per_domain"):
        penguin.evaluate(model="mock:x", judges=["mock:x"], per_domain=0, out=tmp_path)
    with pytest.raises(penguin.ConfigError, match="unknown domain"):
        penguin.evaluate(model="mock:x", judges=["mock:x"], domains=["Cooking"], out=tmp_path)
    assert not any(tmp_path.iterdir())


def test_domains_in_any_case_and_a_folder_is_never_reused(tmp_path):
    run = penguin.evaluate(model="mock:x", judges=["mock:x"], domains=["health"], limit=1, contexts=["free"],
                           run_dir=tmp_path / "r", report=False)
    assert run.manifest.config.domains == ["Health"] and run.kind == "eval"
    with pytest.raises(penguin.ConfigError, match="already a run folder"):
        penguin.evaluate(model="mock:x", judges=["mock:x"], limit=1, run_dir=tmp_path / "r")
    again = penguin.read_run(tmp_path / "r")
    assert again.summary.counts.responses == 1 and again.summary.by_context["free"].pss.n == 1
