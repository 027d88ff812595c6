"""Calibrating the abstention threshold: how many questions would each threshold ask?

``calibrate`` runs dialogues that never stop early (threshold 6) on a selection (the dev split
by default), recording the abstention rating before each question; the mean number of questions
any threshold t would ask is then read off exactly: stop at the first rating >= t (or where the
dialogue stopped anyway). Decisions are deterministic and cached, so the prefix is the same.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from statistics import mean
from typing import Literal

from pydantic import BaseModel

from ..errors import ConfigError, DataError
from ..evaluation.config import RunConfig, select_scenarios
from ..schema import Scenario
from .loop import Agent, AgentConfig, converse
from .retriever import Retriever
from .user import SimulatedUser


class ThresholdRow(BaseModel):
    threshold: int
    mean_questions: float


class Calibration(BaseModel):
    """``calibration.json``: questions per threshold, and the one chosen for the target."""

    scenarios: int
    max_questions: int
    user_phrasing: Literal["plain", "llm"]
    decline: float
    thresholds: list[ThresholdRow]
    target_questions: float | None = None
    chosen_threshold: int | None = None

    def pick(self, target: float) -> "Calibration":
        """The threshold whose mean number of questions is closest to ``target`` (ties: fewer questions)."""
        best = min(self.thresholds, key=lambda r: (abs(r.mean_questions - target), r.mean_questions))
        return self.model_copy(update={"target_questions": target, "chosen_threshold": best.threshold})

    @classmethod
    def load(cls, path: Path) -> "Calibration":
        try:
            cal = cls.model_validate_json(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a calibration from penguin raise calibrate ({exc})") from exc
        if cal.chosen_threshold is None:
            raise ConfigError(f"{path}: the calibration chose no threshold (no target_questions)")
        return cal

    def threshold_for(self, abstention: str, user_phrasing: str, decline: float) -> int:
        """The chosen threshold, if this calibration was made for the same kind of dialogue."""
        if abstention != "scale":
            raise ConfigError("a calibration sets the 0-5 scale's threshold; it does not apply to abstention "
                              f"{abstention!r}")
        if (self.user_phrasing, self.decline) != (user_phrasing, float(decline)):
            raise ConfigError(f"the calibration was made with user {self.user_phrasing!r}, decline {self.decline}; "
                              f"this evaluation uses user {user_phrasing!r}, decline {decline}")
        return int(self.chosen_threshold)  # type: ignore[arg-type]


async def calibrate(cfg: RunConfig, agent_config: AgentConfig, library: str | None, *, max_questions: int,
                    user_phrasing: Literal["plain", "llm"] = "plain", decline: float = 0.0,
                    progress: bool = True) -> Calibration:
    """Questions per abstention threshold on ``cfg``'s selection (see the module docstring)."""
    from ..models import load_model
    from ..progress import RunProgress

    scenarios = list(select_scenarios(cfg))
    if not scenarios:
        raise DataError("the selection is empty: no scenarios match the given split/domains/limits")
    retriever = Retriever(Path(library)) if library else None
    model = load_model(cfg.model, base_url=cfg.base_url, concurrency=cfg.concurrency)
    agent = Agent(model, agent_config.model_copy(update={"abstention": "scale", "threshold": 6,
                                                         "max_questions": max_questions, "seed": cfg.seed}),
                  retriever)
    ratings: list[list[int | None]] = []
    sem = asyncio.Semaphore(cfg.concurrency)
    try:
        with RunProgress(len(scenarios), enabled=progress, label="calibrating") as bar:

            async def one(scenario: Scenario) -> None:
                async with sem:
                    user = SimulatedUser(scenario, phrasing=user_phrasing, decline=decline, model=model, seed=cfg.seed)
                    _, _, steps = await converse(agent, scenario.query, user, compose=False)
                # None marks the step where the dialogue stopped anyway (budget, crisis, fallback)
                ratings.append([st.rating if st.action == "ask" else None for st in steps])
                bar.tick()

            await asyncio.gather(*(one(s) for s in scenarios))
    finally:
        await model.aclose()
    table = []
    for t in range(0, 7):
        asked = [next(i for i, r in enumerate(rs) if r is None or r >= t) for rs in ratings]
        table.append(ThresholdRow(threshold=t, mean_questions=round(mean(asked), 3) if asked else 0.0))
    return Calibration(scenarios=len(scenarios), max_questions=max_questions, user_phrasing=user_phrasing,
                       decline=decline, thresholds=table)
