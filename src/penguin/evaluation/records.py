"""What an evaluation run writes: one response record per (scenario, context) and one
judgement record per (scenario, context, judge), appended to JSONL as they finish."""

from __future__ import annotations

from pydantic import BaseModel

from .judge import JudgeVerdict


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


class JudgementRecord(JudgeVerdict):
    """A judge's verdict on one (scenario, context); ``raw`` keeps an unparseable answer."""

    scenario_id: str
    context: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.scenario_id, self.context, self.judge)
