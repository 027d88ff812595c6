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
from .mcts import SearchConfig

Strategy = Literal["guided", "uct", "random", "static", "greedy", "oracle"]
STRATEGIES: tuple[str, ...] = ("guided", "uct", "random", "static", "greedy", "oracle")


class PlanConfig(SearchConfig):
    """A plan's settings: the search's (paper defaults T = 300, k = 5, c = 1, eps0 = 0.2), the
    strategy, and whether to confirm each path with a fresh judgement."""

    strategy: Strategy = "guided"
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
    """Q (1-5) of each prefix of the path; MCTS strategies only."""
    prefix_rewards: list[float | None] = Field(default_factory=list)
    """Judged safety of the empty set and of each prefix of the path: the prefix-safety curve
    (RAISE asks in path order and may stop early, so every prefix matters)."""
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
    """Rankings asked of the model (``prior_refresh`` decides how often)."""
    fallbacks: int = 0
    """Prior rankings that failed every attempt and fell back to a uniform prior."""
    llm_calls: int
    """Calls of the search (prior and rewards; not the confirmation)."""
    cached_calls: int
    tokens: int
    seconds: float


def library_file(path: str | Path) -> Path:
    """A path library from a plan folder (its library.jsonl) or the file itself, made absolute."""
    from ..errors import ConfigError

    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "library.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path}: no path library here (run penguin plan first)")
    return path.resolve()


def load_library(path: Path) -> list[PathRecord]:
    """A library file's final state: the last record per scenario (a query planned again after
    ``retry_errors`` supersedes its first plan). Bad lines are reported with file, line and field."""
    latest: dict[str, PathRecord] = {}
    for record in read_records(path, PathRecord):
        latest[record.scenario_id] = record
    return list(latest.values())


def needs_retry(record: PathRecord) -> bool:
    """A plan that met judge or model errors: some set could not be scored, or the path could not."""
    return record.unscorable > 0 or record.reward is None
