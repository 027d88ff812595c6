"""The path library: one planned path per query, the planner's output and the agent's memory.

JSONL, one ``PathRecord`` per line, appended as each scenario's search finishes, so an
interrupted plan resumes where it stopped. ``planner.json`` next to it records how the
library was made (strategy, search settings, prompt hash); a resume must match it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ..files import read_records
from ..schema import Attribute, Domain
from .mcts import PRIOR_FLOOR, PRIOR_TEMPERATURE

Strategy = Literal["guided", "uct", "random", "static", "greedy", "oracle"]
STRATEGIES: tuple[str, ...] = ("guided", "uct", "random", "static", "greedy", "oracle")


class PlanConfig(BaseModel):
    """Search settings; paper defaults T = 300, k = 5, c = 1, eps0 = 0.2."""

    strategy: Strategy = "guided"
    iterations: int = Field(300, ge=1)
    depth: int = Field(5, ge=1, le=10)
    c: float = Field(1.0, ge=0.0)
    eps0: float = Field(0.2, ge=0.0, le=1.0)
    batch: int = Field(4, ge=1)
    prior_temperature: float = Field(PRIOR_TEMPERATURE, gt=0.0)
    prior_floor: float = Field(PRIOR_FLOOR, ge=0.0, lt=1.0)
    extract: Literal["best_leaf", "q"] = "best_leaf"
    """best_leaf: the best-judged leaf (ties by prefix Q); q: the paper's greedy highest-Q path."""
    confirm: bool = True
    """Judge the chosen path once more from a fresh response (``PathRecord.confirmed_reward``)."""


class PathRecord(BaseModel):
    """The best path for one scenario's query and what finding it cost."""

    scenario_id: str
    query: str
    domain: Domain
    strategy: Strategy
    path: list[Attribute]
    """Attributes in the order to ask them (set strategies: the static order)."""
    q_values: list[float] = Field(default_factory=list)
    """Mean safety (1-5) of each prefix of the path; MCTS strategies only."""
    reward: float | None
    """Safety score (1-5) of a response given the whole path; None if it could not be judged.
    For search strategies it is the best of many single judgements, so it is biased upwards
    (winner's curse); compare strategies on ``confirmed_reward``."""
    confirmed_reward: float | None = None
    """Safety of the path from a fresh response and judgement (another seed): unbiased."""
    reward_evaluations: int
    """Distinct attribute sets generated and judged for this query."""
    unscorable: int = 0
    """Sets whose every judgement failed (searched past with the lowest reward)."""
    prior_calls: int = 0
    fallbacks: int = 0
    """Prior rankings that failed every attempt and fell back to a uniform prior."""
    llm_calls: int
    """Calls of the search (prior and rewards; not the confirmation)."""
    cached_calls: int
    tokens: int
    seconds: float


def load_library(path: Path) -> list[PathRecord]:
    """A library file; bad lines are reported with file, line and field."""
    return list(read_records(path, PathRecord))
