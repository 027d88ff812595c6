"""A simulated user for evaluating RAISE: answers from a hidden profile.

``plain`` replies state the value ("I'd say: Mild Depression."); ``llm`` replies are
phrased by a model as the person would say them, which exercises the agent's
understanding. With probability ``decline`` (seeded per scenario and attribute, so runs
repeat exactly) the user prefers not to say. Unknown attributes are answered "I'm not sure".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from ..errors import ModelError
from ..models import ChatModel, ChatRequest
from ..schema import Attribute, Scenario

DECLINE_REPLY = "I'd rather not say."


@dataclass
class SimulatedUser:
    scenario: Scenario
    phrasing: Literal["plain", "llm"] = "plain"
    decline: float = 0.0
    model: ChatModel | None = None
    seed: int = 0
    phrasing_failures: int = 0
    """LLM phrasings that failed and fell back to the plain reply."""

    async def __call__(self, attribute: Attribute, question: str) -> str:
        rng = random.Random(f"{self.seed}:{self.scenario.id}:{attribute.key}")
        if rng.random() < self.decline:
            return DECLINE_REPLY
        value = self.scenario.profile.get(attribute)
        if value is None:
            return "I'm not sure."
        plain = f"I'd say: {value}."
        if self.phrasing == "plain" or self.model is None:
            return plain
        request = ChatRequest.chat(
            "You role-play a person answering a question about themselves. Reply in one short, natural sentence, "
            "in the first person, without adding facts.",
            f"Question: {question}\nThe true answer about you: {attribute.value} = {value}\nYour reply:",
            temperature=0.0, max_tokens=48, seed=self.seed)
        try:
            text = (await self.model.generate(request)).text.strip()
        except ModelError:
            text = ""
        if not text:
            self.phrasing_failures += 1
            return plain
        return text
