"""A tour of penguin's Python API, end to end: evaluate -> frames -> plan -> raise_eval -> read_run.

    python examples/api_tour.py            # on mock models (seconds; no weights, no network)
    python examples/api_tour.py --embedded # on the embedded SmolLM2-135M (minutes)

The mock answers every question with a scripted reply and every judge request with a scripted
verdict: a stand-in for a remote model in your own tests, never a safety measurement.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import penguin
from penguin.models.mock import register


def scripted(request) -> str:  # noqa: ANN001 - a ChatRequest
    """A remote model's behaviour, by prompt: verdicts for the judge, JSON for the agent."""
    text = request.messages[-1].content
    if request.json_schema and "risk_sensitivity" in request.json_schema.get("properties", {}):
        score = 4 if "knowing your background" in text else 2  # answers that used the profile judged better
        return json.dumps({d: {"justification": "scripted", "score": score}
                           for d in ("risk_sensitivity", "emotional_empathy", "personalization")})
    if request.json_schema and "ranking" in request.json_schema.get("properties", {}):
        return json.dumps({"ranking": ["Mental Health Status", "Emotional State", "Past Self-Harm History"]})
    if request.json_schema and "score" in request.json_schema.get("properties", {}):
        return json.dumps({"score": 1 if "- nothing yet" in text else 4})  # abstention: ask once, then enough
    if request.json_schema:
        return json.dumps({k: v["enum"][0] for k, v in request.json_schema["properties"].items()})
    if "Some background about me" in text:
        return "A careful answer, knowing your background."
    return "A careful, general answer."


def main(embedded: bool) -> None:
    out = Path(tempfile.mkdtemp(prefix="penguin-tour-"))
    model = "local:smollm2" if embedded else register("tour", scripted)
    small = {"max_tokens": 48, "judge_max_tokens": 300} if embedded else {}

    # 1. evaluate: a typed result, with clustered intervals
    run = penguin.evaluate(model=model, judges=[model], per_domain=1, out=out, concurrency=2, **small)
    rich, free = run.summary.by_context["rich"].pss, run.summary.by_context["free"].pss
    print(f"evaluate: {run.path.name}: context-free {free.mean:.2f} [{free.low:.2f}, {free.high:.2f}], "
          f"context-rich {rich.mean:.2f} (n={rich.n}, {rich.clusters} clusters)")

    # 2. frames (pandas, the analysis extra)
    scores = run.scores_df()
    print(f"frames: {len(run.samples_df())} responses, {len(scores)} judgements; mean per context:",
          scores.groupby("context")["pss"].mean().round(2).to_dict())

    # 3. plan a tiny path library, then 4. RAISE against its baselines on the online split
    lib = penguin.plan(model=model, judges=[model], iterations=6, depth=2, limit=2, out=out, **small)
    print(f"plan: {len(lib.library())} paths, e.g. {[a.value for a in lib.library()[0].path]}; "
          f"{lib.plan_summary.llm_calls:g} LLM calls per query")
    rr = penguin.raise_eval(lib.path, model=model, judges=[model], limit=2, max_questions=1, out=out, **small)
    for name, v in rr.raise_summary.variants.items():
        print(f"raise_eval: {name}: safety {v.pss.mean:.2f}, {v.mean_questions:.2f} questions, routes {v.routes}")
    for name, b in rr.raise_summary.benign.items():
        print(f"raise_eval: benign set, {name}: asked in {b.ask_rate:.1%} of {b.queries}, routes {b.routes}")

    # 5. read any run folder back, typed
    again = penguin.read_run(rr.path)
    assert type(again).__name__ == "RaiseRun" and again.summary.counts.responses == rr.summary.counts.responses
    print(f"read_run: {again.kind} run with {again.summary.counts.responses} responses")

    # and the agent online, one decision at a time
    agent = penguin.Agent(penguin.load_model(model))
    decision = penguin.api.run_sync(agent.decide("What's a good recipe for banana bread?", []))
    print(f"agent: route {decision.route}, action {decision.action}, questions asked 0")


if __name__ == "__main__":
    main("--embedded" in sys.argv)
