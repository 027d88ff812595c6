"""Answering a scenario as the model under test, with a chosen context of attributes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .. import prompts
from ..errors import ModelError
from ..models import ChatModel, ChatRequest
from ..schema import Attribute, Context, Scenario
from .records import ResponseRecord, cluster_of

RESPOND_TEMPLATES = ("respond_system", "respond_user")


class GenerationParams(BaseModel):
    """Sampling for the model under test; defaults are the paper's (temperature 0.7, 2,048 tokens).
    The seed is the run's (RunConfig.seed), recorded with every response."""

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(2048, ge=1)


def answer_request(query: str, known: list[tuple[Attribute, str]], params: GenerationParams, seed: int,
                   background: str | None = None) -> ChatRequest:
    """The model under test's prompt for ``query`` given what is known about the user
    (the RAISE agent's final answer uses it too, so both are judged on equal terms).
    ``background``: a dataset's own text about the user, shown with the full context."""
    return ChatRequest.chat(
        prompts.render("respond_system"),
        prompts.render("respond_user", profile_items=[(a.value, v) for a, v in known], query=query,
                       background=background),
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        seed=seed,
    )


def response_request(scenario: Scenario, context: Context, params: GenerationParams, seed: int) -> ChatRequest:
    rich = context.name == "rich"
    return answer_request(scenario.query, scenario.profile.restrict(context.attributes).items(), params, seed,
                          background=scenario.background if rich else None)


async def respond(model: ChatModel, scenario: Scenario, context: Context, params: GenerationParams,
                  seed: int, *, label: str | None = None) -> ResponseRecord:
    """Generate one response; a model failure becomes an error record, not an exception.
    ``label`` names the record's context when it is not the subset's own name (e.g. "vanilla")."""
    base = dict(scenario_id=scenario.id, context=label or context.name, domain=scenario.domain,
                source=scenario.source, model=model.spec, seed=seed,
                cluster=cluster_of(scenario, sees_profile=bool(context.attributes)))
    try:
        result = await model.generate(response_request(scenario, context, params, seed))
    except ModelError as exc:
        return ResponseRecord(**base, error=str(exc))
    return ResponseRecord(
        **base, text=result.text, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
        latency_s=result.latency_s, cached=result.cached,
    )
