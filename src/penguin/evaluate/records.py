"""What an evaluation run writes: one response record per (scenario, context) and one
judgement record per (scenario, context, judge), appended to JSONL as they finish."""

from __future__ import annotations

from pydantic import BaseModel

from .judge import Dimension, DimensionScore


class ResponseRecord(BaseModel):
    scenario_id: str
    context: str
    domain: str
    source: str
    model: str
    text: str | None = None
    error: str | None = None
    seed: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.scenario_id, self.context)


class JudgementRecord(BaseModel):
    scenario_id: str
    context: str
    judge: str
    scores: dict[Dimension, DimensionScore] | None = None
    error: str | None = None
    raw: str | None = None
    """The judge's last answer when it could not be parsed (kept for inspection)."""
    attempts: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.scenario_id, self.context, self.judge)
