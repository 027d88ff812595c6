"""A run's summary as a typed record: what ``summary.json`` holds, what reports and the API read.

Intervals are clustered bootstrap intervals. Items in a PENGUIN run are not independent draws:
a query is asked by several profiles (context-free, they all get the same response), and a
profile asks ten queries. Each item carries its cluster (``records.cluster_of``: the query for
answers that saw nothing of the user, the profile for answers that saw it), and the bootstrap
resamples clusters, not items. Paired tests (context-rich vs context-free) compare per-query
means of the per-scenario differences with a Wilcoxon signed-rank test, for the same reason.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from ..files import write_model
from .folder import SUMMARY, load_manifest
from .judge import DIMENSIONS
from .judge_check import JudgeStatus, judge_status
from .metrics import PSS, ItemScore, grouped, item_scores, relative_improvement

CLUSTERING = ("clustered bootstrap (95%, 2,000 resamples): context-free answers cluster by query, answers that "
              "saw the profile by profile; paired tests use per-query means")


class Interval(BaseModel):
    mean: float
    low: float
    high: float
    n: int
    clusters: int
    """Independent clusters behind the interval (n when every item is its own)."""


class Scores(BaseModel):
    """The Personalized Safety Score and its three dimensions, each with an interval."""

    pss: Interval
    risk_sensitivity: Interval
    emotional_empathy: Interval
    personalization: Interval

    def metric(self, name: str) -> Interval:
        return getattr(self, name)


class Counts(BaseModel):
    """The run's final state (a retried record replaces the error it supersedes)."""

    responses: int = 0
    response_errors: int = 0
    judgements: int = 0
    judge_errors: int = 0
    unscored_items: int = 0
    """Items whose every judge failed: left out of the means, never given a score."""


class PairedTest(BaseModel):
    n: int
    clusters: int
    mean_diff: float
    p_value: float


class Jury(BaseModel):
    items: int
    mean_max_spread: float
    items_spread_ge_2: int


class Session(BaseModel):
    """What the last session (a first run or a resume) did."""

    elapsed_s: float
    items: int = 0
    responses: int = 0
    response_errors: int = 0
    judgements: int = 0
    judge_errors: int = 0
    cached: int = 0
    tokens: int = 0
    retried: int = 0
    recovered: int = 0


class EvalSummary(BaseModel):
    model: str
    judges: list[str]
    judge_status: list[JudgeStatus] = Field(default_factory=list)
    counts: Counts
    n_scored: int
    clustering: str = CLUSTERING
    by_context: dict[str, Scores] = Field(default_factory=dict)
    by_context_domain: dict[str, dict[str, Scores]] = Field(default_factory=dict)
    by_context_source: dict[str, dict[str, Scores]] = Field(default_factory=dict)
    rich_vs_free_improvement_pct: dict[str, float] | None = None
    """The paper's (rich - free) / free, overall and per domain."""
    paired_tests: dict[str, PairedTest | None] | None = None
    jury: Jury | None = None
    last_session: Session | None = None

    @classmethod
    def load(cls, run_dir: Path) -> "EvalSummary":
        from ..errors import DataError

        path = run_dir / SUMMARY
        try:
            return cls.model_validate_json(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: no readable summary ({exc}); penguin report rebuilds it") from exc


# ------------------------------------------------------------------ statistics


def clustered_bootstrap(values: list[float], clusters: list[str], *, resamples: int = 2000, seed: int = 0,
                        level: float = 0.95) -> Interval:
    """Percentile bootstrap of the mean, resampling whole clusters (seeded: reports repeat)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("no values")
    keys, index = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    sums = np.bincount(index, weights=arr)
    sizes = np.bincount(index).astype(float)
    k = len(keys)
    if k == 1:
        m = float(arr.mean())
        return Interval(mean=round(m, 4), low=round(m, 4), high=round(m, 4), n=int(arr.size), clusters=1)
    rng = np.random.default_rng(seed)
    batch = max(1, min(resamples, 2_000_000 // k))  # bound the index matrix to ~16 MB
    means = []
    for start in range(0, resamples, batch):
        draw = rng.integers(0, k, size=(min(batch, resamples - start), k))
        means.append(sums[draw].sum(axis=1) / sizes[draw].sum(axis=1))
    boot = np.concatenate(means)
    alpha = (1 - level) / 2
    return Interval(mean=round(float(arr.mean()), 4), low=round(float(np.quantile(boot, alpha)), 4),
                    high=round(float(np.quantile(boot, 1 - alpha)), 4), n=int(arr.size), clusters=k)


def proportion_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """A rate over independent items (a router's recall on its test split) with its Wilson score
    interval: unlike the normal approximation it stays inside [0, 1] and holds near 0 and 1,
    where the router's rates sit."""
    from scipy.stats import binomtest

    if n <= 0:
        raise ValueError("no items")
    ci = binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return Interval(mean=round(successes / n, 4), low=round(float(ci.low), 4), high=round(float(ci.high), 4), n=n,
                    clusters=n)


def _cluster(item: ItemScore) -> str:
    return item.cluster or f"item:{item.scenario_id}:{item.context}"


def scores_of(items: list[ItemScore]) -> Scores:
    clusters = [_cluster(it) for it in items]
    return Scores(**{m: clustered_bootstrap([it.scores[m] for it in items], clusters)
                     for m in (PSS, *(d.value for d in DIMENSIONS))})


def paired_test(items: list[ItemScore], a: str = "free", b: str = "rich", metric: str = PSS) -> PairedTest | None:
    """Wilcoxon signed-rank test of b vs a on per-query means of the per-scenario differences
    (the scenarios sharing a query share their context-free answer, so they are one cluster)."""
    from scipy.stats import wilcoxon

    pa = {it.scenario_id: it for it in items if it.context == a}
    pb = {it.scenario_id: it.scores[metric] for it in items if it.context == b}
    common = sorted(pa.keys() & pb.keys())
    if len(common) < 2:
        return None
    by_cluster: dict[str, list[float]] = defaultdict(list)
    for s in common:
        by_cluster[_cluster(pa[s])].append(pb[s] - pa[s].scores[metric])
    diffs = np.array([mean(v) for v in by_cluster.values()])
    all_diffs = [d for v in by_cluster.values() for d in v]
    if len(diffs) < 2 or np.all(diffs == 0):
        return PairedTest(n=len(common), clusters=len(diffs), mean_diff=round(float(mean(all_diffs)), 4), p_value=1.0)
    res = wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
    return PairedTest(n=len(common), clusters=len(diffs), mean_diff=round(float(mean(all_diffs)), 4),
                      p_value=float(res.pvalue))


def summarize(run_dir: Path, how: Literal["mean", "median"] = "mean") -> EvalSummary:
    """The typed summary of a run folder's final state."""
    manifest = load_manifest(run_dir)
    items, counts = item_scores(run_dir, how)
    summary = EvalSummary(model=manifest.config.model, judges=manifest.config.judges, counts=Counts(**counts),
                          n_scored=len(items),
                          judge_status=[judge_status(spec, manifest.model_identities.get(spec, spec))
                                        for spec in manifest.config.judges])
    summary.by_context = {ctx: scores_of(g) for (ctx,), g in grouped(items, ("context",)).items()}
    for (ctx, dom), g in grouped(items, ("context", "domain")).items():
        summary.by_context_domain.setdefault(ctx, {})[dom] = scores_of(g)
    for (ctx, src), g in grouped(items, ("context", "source")).items():
        summary.by_context_source.setdefault(ctx, {})[src] = scores_of(g)
    table = summary.by_context
    if "free" in table and "rich" in table:
        improvement = {"overall": relative_improvement(table["free"].pss.mean, table["rich"].pss.mean)}
        tests: dict[str, PairedTest | None] = {"overall": paired_test(items)}
        for (dom,), group in grouped(items, ("domain",)).items():
            f = [it.scores[PSS] for it in group if it.context == "free"]
            r = [it.scores[PSS] for it in group if it.context == "rich"]
            if f and r:
                improvement[dom] = relative_improvement(mean(f), mean(r))
            tests[dom] = paired_test(group)
        summary.rich_vs_free_improvement_pct = {k: round(v, 3) for k, v in improvement.items()}
        summary.paired_tests = tests
    disagreements = [max(it.disagreement.values()) for it in items if it.n_judges > 1]
    if disagreements:
        summary.jury = Jury(items=len(disagreements), mean_max_spread=mean(disagreements),
                            items_spread_ge_2=sum(d >= 2 for d in disagreements))
    return summary


def write_summary(run_dir: Path, *, elapsed_s: float | None = None,
                  counters: dict[str, int] | None = None) -> EvalSummary:
    manifest = load_manifest(run_dir)
    summary = summarize(run_dir, manifest.config.jury)
    if elapsed_s is not None:
        summary.last_session = Session(elapsed_s=round(elapsed_s, 2), **(counters or {}))
    write_model(run_dir / SUMMARY, summary)
    return summary
