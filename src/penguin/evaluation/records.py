"""What an evaluation run writes: one response record per (scenario, context) and one
judgement record per (scenario, context, judge), appended to JSONL as they finish."""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel

from ..schema import Scenario
from .judge import JudgeVerdict


def cluster_of(scenario: Scenario, sees_profile: bool) -> str:
    """The statistical cluster of an answer: items in one cluster are not independent draws.
    An answer that saw nothing of the user depends on the query alone (every profile asking it
    gets the same response), so it clusters by query; one that saw the user clusters by profile
    (the same person asks ten queries). Bootstrap intervals resample these clusters."""
    if sees_profile:
        key = "p:" + "|".join(f"{a.key}={v}" for a, v in scenario.profile.items())
    else:
        key = "q:" + re.sub(r"\s+", " ", scenario.query.strip().lower())
    return key[:2] + hashlib.sha256(key.encode()).hexdigest()[:12]


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
    cluster: str | None = None
    """``cluster_of`` the answer; None in folders written before clusters were recorded."""

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
