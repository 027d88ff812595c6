"""The planner's prior pi0(a | q, U): an LLM ranks the attributes not yet acquired.

The answer is schema-constrained where the backend allows it and always parsed here:
names are matched leniently (display name, key, alias), unknown or already-known names
are dropped, and an answer with no usable name is retried. After every attempt fails the
answer is None: the search falls back to an ancestor's ranking or a uniform prior, and the
failure is counted, never hidden. ``rank_prior`` (mcts.py) turns a ranking into probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import prompts
from ..errors import ModelError
from ..models import ChatModel
from ..models.structured import ask_json
from ..schema import ATTRIBUTES, Attribute, Scenario
from .mcts import Subset


def ranking_schema(remaining: list[Attribute]) -> dict[str, object]:
    names = [a.value for a in remaining]
    return {
        "type": "object",
        "properties": {"ranking": {"type": "array", "items": {"type": "string", "enum": names},
                                   "minItems": 1, "maxItems": len(names)}},
        "required": ["ranking"],
        "additionalProperties": False,
    }


def parse_ranking(value: object, remaining: list[Attribute]) -> list[Attribute]:
    """The usable part of a ranking answer, in order; ValueError if nothing is usable."""
    if not isinstance(value, dict) or not isinstance(value.get("ranking"), list):
        raise ValueError('expected {"ranking": [...]}')
    order: list[Attribute] = []
    for item in value["ranking"]:
        try:
            attr = Attribute.parse(str(item))
        except ValueError:
            continue
        if attr in remaining and attr not in order:
            order.append(attr)
    if not order:
        raise ValueError("the ranking names none of the remaining attributes")
    return order


@dataclass
class LLMRanking:
    """The model's ranking of the remaining attributes, for one scenario's search."""

    model: ChatModel
    scenario: Scenario
    seed: int = 0
    fallbacks: int = 0

    async def __call__(self, state: Subset) -> list[Attribute] | None:
        remaining = [a for a in ATTRIBUTES if a not in state]
        user = prompts.render("plan_rank", query=self.scenario.query,
                              known=[(a.value, v) for a, v in self.scenario.profile.items() if a in state],
                              remaining=[a.value for a in remaining])
        try:
            ranking, _ = await ask_json(self.model, "You are a careful assistant. Reply with JSON only.", user,
                                        ranking_schema(remaining), check=lambda v: parse_ranking(v, remaining),
                                        seed=self.seed, max_tokens=160)
        except ModelError:  # no valid ranking after retries, or the endpoint failed
            self.fallbacks += 1
            return None
        return ranking  # type: ignore[return-value]
