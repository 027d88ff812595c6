"""Aggregation, intervals and agreement statistics against hand-computed values."""

import math

import numpy as np
import pytest

from penguin.evaluation.judge import DIMENSIONS, DimensionScore
from penguin.evaluation.judge_check import confusion, quadratic_weighted_kappa
from penguin.evaluation.metrics import ItemScore, combine, relative_improvement
from penguin.evaluation.records import JudgementRecord
from penguin.evaluation.summary import clustered_bootstrap, paired_test, proportion_interval


def bootstrap_ci(values, **kw):
    """Every item its own cluster: the plain percentile bootstrap."""
    return clustered_bootstrap(list(values), [str(i) for i in range(len(values))], **kw)


def verdict(judge, r, e, p):
    return JudgementRecord(scenario_id="s", context="free", judge=judge,
                           scores={d: DimensionScore(score=v) for d, v in zip(DIMENSIONS, (r, e, p))})


def test_bootstrap_mean_and_interval():
    iv = bootstrap_ci([1, 2, 3, 4, 5], resamples=4000, seed=1)
    assert iv.mean == 3.0 and iv.n == 5
    # normal approximation: 3 -/+ 1.96 * sqrt(2/5) = [1.76, 4.24]; the bootstrap mean moves in steps of 0.2
    assert 1.6 <= iv.low <= 2.0 and 4.0 <= iv.high <= 4.4
    assert bootstrap_ci([4.0]).model_dump() == {"mean": 4.0, "low": 4.0, "high": 4.0, "n": 1, "clusters": 1}
    same = bootstrap_ci([3, 3, 3])
    assert (same.low, same.high) == (3.0, 3.0)
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_proportion_interval_is_wilsons():
    # by hand: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96
    iv = proportion_interval(324, 347)
    assert iv.mean == pytest.approx(0.9337, abs=1e-4) and iv.n == 347
    assert iv.low == pytest.approx(0.9025, abs=2e-4) and iv.high == pytest.approx(0.9554, abs=2e-4)
    none = proportion_interval(0, 111)  # no false alarm seen is not a rate of zero
    assert none.low == 0.0 and none.high == pytest.approx(0.0334, abs=2e-4)
    assert proportion_interval(5, 5).high == 1.0
    with pytest.raises(ValueError):
        proportion_interval(0, 0)


def test_relative_improvement_matches_the_paper():
    assert relative_improvement(2.79, 4.00) == pytest.approx(43.37, abs=0.01)


def test_jury_mean_median_and_disagreement():
    vs = [verdict("a", 1, 4, 2), verdict("b", 3, 4, 2), verdict("c", 5, 4, 5)]
    scores, spread = combine(vs, "mean")
    assert scores["risk_sensitivity"] == 3.0 and scores["personalization"] == 3.0
    assert scores["pss"] == pytest.approx((3 + 4 + 3) / 3)
    assert spread == {"risk_sensitivity": 4.0, "emotional_empathy": 0.0, "personalization": 3.0}
    med, _ = combine(vs, "median")
    assert med["personalization"] == 2.0


def test_failed_judges_are_excluded_not_scored():
    failed = JudgementRecord(scenario_id="s", context="free", judge="x", error="unparseable")
    assert combine([failed]) is None
    scores, _ = combine([failed, verdict("a", 2, 2, 2)])
    assert scores["pss"] == 2.0


def test_paired_test_on_known_differences():
    items = []
    for i in range(12):
        items.append(ItemScore(f"s{i}", "free", "Health", "synthetic", {"pss": 2.0 + (i % 3) * 0.1}))
        items.append(ItemScore(f"s{i}", "rich", "Health", "synthetic", {"pss": 3.0 + (i % 4) * 0.1}))
    res = paired_test(items)
    assert res.n == 12 and res.clusters == 12 and res.mean_diff > 0.9 and res.p_value < 0.01
    flat = [ItemScore(f"s{i}", c, "Health", "synthetic", {"pss": 3.0}) for i in range(5) for c in ("free", "rich")]
    assert paired_test(flat).p_value == 1.0


def test_a_clustered_interval_is_wider_than_the_naive_one_with_repeated_queries():
    """Context-free, every profile asking a query gets the same response: 40 items, 8 clusters."""
    rng = np.random.default_rng(3)
    per_query = rng.normal(3.0, 0.8, size=8)
    values = [float(q + rng.normal(0, 0.1)) for q in per_query for _ in range(5)]
    clusters = [f"q{i}" for i in range(8) for _ in range(5)]
    clustered = clustered_bootstrap(values, clusters, seed=0)
    naive = bootstrap_ci(values, seed=0)
    assert clustered.clusters == 8 and naive.clusters == 40 and clustered.n == naive.n == 40
    assert clustered.mean == naive.mean
    assert (clustered.high - clustered.low) > 1.8 * (naive.high - naive.low)


def test_paired_tests_count_queries_not_scenarios():
    """Five profiles asking one query share its context-free answer: one cluster, not five."""
    items = []
    for q in range(6):
        for p in range(5):
            sid = f"q{q}p{p}"
            items.append(ItemScore(sid, "free", "Health", "synthetic", {"pss": 2.0 + 0.1 * q}, cluster=f"q:{q}"))
            items.append(ItemScore(sid, "rich", "Health", "synthetic", {"pss": 3.0 + 0.05 * p}, cluster=f"p:{p}"))
    res = paired_test(items)
    assert res.n == 30 and res.clusters == 6


def test_quadratic_weighted_kappa_hand_values():
    assert quadratic_weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    # Hand-computed: gold [1,2,3], judge [2,2,3]; observed disagreement (1/16)/3 ... expected from marginals
    a, b = [1, 2, 3], [2, 2, 3]
    w = lambda i, j: (i - j) ** 2 / 16  # noqa: E731
    obs = sum(w(x, y) for x, y in zip(a, b)) / 3
    exp = sum(w(x, y) for x in a for y in b) / 9
    assert quadratic_weighted_kappa(a, b) == pytest.approx(1 - obs / exp)
    rng = np.random.default_rng(0)
    g = rng.integers(1, 6, 500).tolist()
    r = rng.integers(1, 6, 500).tolist()
    assert abs(quadratic_weighted_kappa(g, r)) < 0.15  # chance agreement is near zero
    assert math.isclose(quadratic_weighted_kappa([1, 5], [5, 1]), -1.0)


def test_confusion_matrix():
    m = confusion([1, 1, 5], [2, 1, 5])
    assert m[0][0] == 1 and m[0][1] == 1 and m[4][4] == 1 and sum(map(sum, m)) == 3
