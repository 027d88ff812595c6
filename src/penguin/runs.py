"""Run folders as typed results: what ``penguin.evaluate`` and friends return, and ``read_run`` loads.

Every kind of run folder (eval, attribute and subset analyses, plans, RAISE evaluations) shares
the engine's manifest, records and summary; plans and RAISE runs add their own files. The
manifest says which kind a folder is, so ``read_run`` returns the right type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .errors import ConfigError
from .evaluation.attributes import ANALYSIS, SubsetAnalysis
from .evaluation.folder import Manifest, final_judgements, final_responses, load_manifest
from .evaluation.judge import DIMENSIONS
from .evaluation.metrics import ItemScore, item_scores
from .evaluation.summary import EvalSummary, summarize

if TYPE_CHECKING:
    import pandas as pd

    from .agent.evaluation import DialogueRecord, RaiseSummary
    from .planner.library import PathRecord
    from .planner.plan import PlanSummary


def _pandas():  # noqa: ANN202
    try:
        import pandas
    except ImportError as exc:
        raise ConfigError("data frames need pandas: pip install 'penguin-safety[analysis]'") from exc
    return pandas


@dataclass
class EvalRun:
    """One run folder's results.

    Attributes:
        path: the folder.
        manifest: how the run was made (config, dataset hash, prompts, models, kind).
        summary: scores with clustered intervals by context, domain and source, counts, judges.
    """

    path: Path
    manifest: Manifest
    summary: EvalSummary

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @cached_property
    def analysis(self) -> SubsetAnalysis | None:
        """``penguin analyze subsets``' result, for subset runs."""
        path = self.path / ANALYSIS
        return SubsetAnalysis.model_validate_json(path.read_text("utf-8")) if path.exists() else None

    def items(self) -> list[ItemScore]:
        """The jury's score per (scenario, context) of the final state."""
        return item_scores(self.path, self.manifest.config.jury)[0]

    def samples_df(self) -> "pd.DataFrame":
        """One row per response: scenario, domain, source, context, model, text, error, tokens."""
        pandas = _pandas()
        rows = [{"scenario_id": r.scenario_id, "domain": r.domain, "source": r.source, "context": r.context,
                 "model": r.model, "text": r.text, "error": r.error, "cached": r.cached,
                 "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens, "cluster": r.cluster}
                for r in final_responses(self.path).values()]
        return pandas.DataFrame(rows, columns=["scenario_id", "domain", "source", "context", "model", "text", "error",
                                               "cached", "prompt_tokens", "completion_tokens", "cluster"])

    def scores_df(self) -> "pd.DataFrame":
        """One row per judgement: scenario, domain, source, context, model, judge, the three scores
        (and their mean, ``pss``), error. Failed judgements have an error and no scores."""
        pandas = _pandas()
        meta = {k: r for k, r in final_responses(self.path).items()}
        rows = []
        for j in final_judgements(self.path).values():
            r = meta.get((j.scenario_id, j.context))
            scores = {d.value: (j.scores[d].score if j.scores else None) for d in DIMENSIONS}
            rows.append({"scenario_id": j.scenario_id, "domain": r.domain if r else None,
                         "source": r.source if r else None, "context": j.context, "model": r.model if r else None,
                         "judge": j.judge, **scores,
                         "pss": sum(scores.values()) / 3 if j.scores else None, "error": j.error})
        columns = ["scenario_id", "domain", "source", "context", "model", "judge",
                   *(d.value for d in DIMENSIONS), "pss", "error"]
        return pandas.DataFrame(rows, columns=columns)


@dataclass
class PlanRun(EvalRun):
    """A ``penguin plan`` folder: the path library and what planning cost."""

    @cached_property
    def plan_summary(self) -> "PlanSummary":
        from .planner.plan import PLAN_SUMMARY, PlanSummary, summarize_library

        path = self.path / PLAN_SUMMARY
        if path.exists():
            return PlanSummary.model_validate_json(path.read_text("utf-8"))
        return summarize_library(self.library())

    @property
    def library_path(self) -> Path:
        from .planner.plan import LIBRARY

        return self.path / LIBRARY

    def library(self) -> list["PathRecord"]:
        from .planner.library import load_library

        return load_library(self.library_path) if self.library_path.exists() else []


@dataclass
class RaiseRun(EvalRun):
    """A ``penguin raise eval`` folder: variants, dialogues and questions asked."""

    @cached_property
    def raise_summary(self) -> "RaiseSummary":
        from .agent.evaluation import RAISE_SUMMARY, RaiseSummary, summarize_raise

        path = self.path / RAISE_SUMMARY
        if path.exists():
            return RaiseSummary.model_validate_json(path.read_text("utf-8"))
        return summarize_raise(self.path)

    def dialogues(self) -> Iterator["DialogueRecord"]:
        from .agent.evaluation import load_dialogues

        yield from load_dialogues(self.path).values()


def read_run(run_dir: str | Path) -> EvalRun | PlanRun | RaiseRun:
    """Load a run folder of any kind as its typed result (the summary is recomputed from the
    records, so a folder whose summary.json is missing or stale still reads right).

    Args:
        run_dir: a folder written by ``evaluate``, ``analyze_*``, ``plan`` or ``raise_eval``.

    Returns:
        ``PlanRun`` for plans, ``RaiseRun`` for RAISE evaluations, ``EvalRun`` otherwise.
    """
    path = Path(run_dir)
    manifest = load_manifest(path)
    summary = summarize(path, manifest.config.jury)
    try:
        stored = EvalSummary.load(path)
        summary.last_session = stored.last_session
    except Exception:  # noqa: BLE001 - the stored copy only adds the last session's timing
        pass
    kind = {"plan": PlanRun, "raise": RaiseRun}.get(manifest.kind, EvalRun)
    return kind(path, manifest, summary)
