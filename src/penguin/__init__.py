"""penguin: personalized safety for LLMs (the PENGUIN benchmark and the RAISE agent).

The public API (``docs/python-api.md``)::

    import penguin
    run = penguin.evaluate(model="openai:gpt-4o-mini", judges=["openai:gpt-4o"], per_domain=20)
    run.summary.by_context["rich"].pss        # mean, low, high, n, clusters
    run.scores_df()                           # one row per judgement (pandas, the analysis extra)
    penguin.read_run("runs/2026...")          # any run folder, typed

Names are imported on first use, so ``import penguin`` stays fast and needs no extra.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("penguin-safety")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

_EXPORTS = {
    "evaluate": "api", "evaluate_async": "api", "resume": "api", "resume_async": "api",
    "analyze_attributes": "api", "analyze_attributes_async": "api", "analyze_subsets": "api",
    "analyze_subsets_async": "api", "plan": "api", "plan_async": "api", "raise_eval": "api",
    "raise_eval_async": "api", "calibrate": "api", "calibrate_async": "api", "judge_check": "api",
    "judge_check_async": "api",
    "read_run": "runs", "EvalRun": "runs", "PlanRun": "runs", "RaiseRun": "runs",
    "load_scenarios": "dataset.sources", "load_model": "models.spec",
    "Agent": "agent.loop", "AgentConfig": "agent.loop", "Decision": "agent.loop", "Turn": "agent.loop",
    "Router": "agent.router", "RouteDecision": "agent.router",
    "Scenario": "schema", "Profile": "schema", "Attribute": "schema",
    "EvalSummary": "evaluation.summary", "JudgeCheck": "evaluation.judge_check",
    "PenguinError": "errors", "ConfigError": "errors", "DataError": "errors", "ModelError": "errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - PEP 562: the API is imported on first use
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'penguin' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
