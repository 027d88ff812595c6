"""Attribute analyses: strategies and Shapley values on value functions with known answers,
and an end-to-end subset analysis with the embedded model (slow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from penguin.dataset.sources import load_scenarios
from penguin.errors import ConfigError
from penguin.evaluation.attributes import check_plan, choose, shapley
from penguin.schema import ATTRIBUTES, STATIC_ORDER, Attribute

A = Attribute
SCENARIO = next(iter(load_scenarios()))
WEIGHTS = {a: w for a, w in zip(ATTRIBUTES, [0.05, 0.0, 0.1, 0.2, 0.3, 0.15, 0.25, 0.9, 0.7, 0.6])}


class Additive:
    """v(S) = 2 + sum of weights, minus 0.8 if both Age and Gender are in S (an interaction)."""

    def __init__(self):
        self.calls: list[frozenset] = []

    async def __call__(self, scenario, subset):
        self.calls.append(subset)
        v = 2 + sum(WEIGHTS[a] for a in subset)
        if {A.AGE, A.GENDER} <= subset:
            v -= 0.8
        return v


async def test_oracle_finds_the_best_subset_and_greedy_the_greedy_one():
    v = Additive()
    best, score = await choose("oracle", v, SCENARIO, 3)
    assert best == {A.MENTAL, A.SELF_HARM, A.EMOTION} and score == pytest.approx(2 + 0.9 + 0.7 + 0.6)
    assert len(v.calls) == 120
    g, gscore = await choose("greedy", v, SCENARIO, 3)
    assert g == best and gscore == pytest.approx(score)


async def test_greedy_can_be_fooled_by_interactions_but_the_oracle_cannot():
    async def v(scenario, s):
        # Age alone looks best, but Health+Economic together beat anything containing Age
        if s == frozenset({A.HEALTH, A.ECONOMIC}):
            return 5.0
        return 3.0 + (0.5 if A.AGE in s else 0.0) + 0.01 * len(s)

    g, gs = await choose("greedy", v, SCENARIO, 2)
    o, os_ = await choose("oracle", v, SCENARIO, 2)
    assert A.AGE in g and o == {A.HEALTH, A.ECONOMIC} and os_ > gs


async def test_static_and_random():
    v = Additive()
    s, _ = await choose("static", v, SCENARIO, 3)
    assert s == {A.EMOTION, A.MENTAL, A.SELF_HARM} == set(STATIC_ORDER[:3])
    r1, _ = await choose("random", v, SCENARIO, 4, seed=1)
    r2, _ = await choose("random", v, SCENARIO, 4, seed=1)
    r3, _ = await choose("random", v, SCENARIO, 4, seed=2)
    assert r1 == r2 and len(r1) == 4 and r3 != r1


async def test_exact_shapley_on_a_known_game():
    phi = await shapley(Additive(), SCENARIO)
    for a in ATTRIBUTES:
        expected = WEIGHTS[a] - (0.4 if a in (A.AGE, A.GENDER) else 0.0)  # the interaction is split evenly
        assert phi[a] == pytest.approx(expected)
    assert sum(phi.values()) == pytest.approx(sum(WEIGHTS.values()) - 0.8)  # efficiency


async def test_sampled_shapley_approaches_the_exact_values():
    exact = await shapley(Additive(), SCENARIO)
    sampled = await shapley(Additive(), SCENARIO, permutations=200, seed=3)
    assert max(abs(sampled[a] - exact[a]) for a in ATTRIBUTES) < 0.1


async def test_failed_values_are_not_turned_into_numbers():
    async def v(scenario, s):
        return None if A.AGE in s else 3.0

    subset, score = await choose("static", v, SCENARIO, 3)
    assert score == 3.0
    best, score = await choose("oracle", v, SCENARIO, 10)
    assert score is None
    assert await shapley(v, SCENARIO) is None


def test_bad_plans_are_refused():
    with pytest.raises(ConfigError, match="unknown strategy telepathy"):
        check_plan(3, ["oracle", "telepathy"])
    with pytest.raises(ConfigError, match="--k must be between 1 and 10"):
        check_plan(11, ["oracle"])


@pytest.mark.slow
def test_subset_analysis_end_to_end_and_resume(tmp_path):
    penguin = str(Path(sys.executable).parent / "penguin")
    env = {**os.environ, "PENGUIN_CACHE_DIR": str(tmp_path / "cache")}
    args = ["analyze", "subsets", "--k", "1", "--strategies", "static,oracle,greedy", "--sample", "1",
            "--max-tokens", "16", "--judge-max-tokens", "300", "--concurrency", "1"]
    res = subprocess.run([penguin, *args, "--out", str(tmp_path / "runs")], capture_output=True, text=True, env=env,
                         timeout=900)
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "runs").iterdir()
    analysis = json.loads((run / "analysis.json").read_text())
    assert analysis["subset_evaluations"] == 10  # distinct subsets: the three strategies share them
    responses = (run / "responses.jsonl").read_text().splitlines()
    assert len(responses) == 10  # the 10 singletons, each generated once across the three strategies
    s = analysis["strategies"]
    assert s["oracle"]["n"] == 1 and s["greedy"]["n"] == 1  # the best of 10 subsets always has a value
    assert s["oracle"]["overall"] == pytest.approx(s["greedy"]["overall"])  # k=1: greedy is the oracle
    if s["static"]["n"]:  # the static subset's one judgement may have failed (counted, not scored)
        assert s["oracle"]["overall"] >= s["static"]["overall"]
    assert "Attribute subsets, k = 1" in (run / "report.html").read_text()
    again = subprocess.run([penguin, "analyze", "subsets", "--k", "1", "--strategies", "static,oracle,greedy",
                            "--resume", str(run)], capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stderr
    assert (run / "responses.jsonl").read_text().splitlines() == responses  # nothing redone
    assert json.loads((run / "analysis.json").read_text())["strategies"] == s
