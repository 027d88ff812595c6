"""The OpenAI chat-completions wire format, and the RAISE dialogue it carries.

The proxy keeps no state between requests: everything it needs is in the message history
the client sends back. Our clarifying questions are fixed text (agent/questions.py), so an
assistant message that is one of them marks the user message after it as a reply to that
attribute; any other user message starts a new query. Only the replies' understood
categories reach the upstream model (the agent's own rule), so a reply cannot steer it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..agent.loop import Decision, Turn
from ..agent.questions import attribute_asked


class ProtocolError(ValueError):
    """A history the agent cannot continue (the client's mistake: HTTP 400)."""


# ------------------------------------------------------------------ requests


class WireMessage(BaseModel):
    """One message as OpenAI clients send it; text parts of multi-part content are joined."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str = ""

    @field_validator("content", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:  # noqa: ANN401
        if value is None:
            return ""
        if isinstance(value, list):
            return "\n".join(p["text"] for p in value if isinstance(p, dict) and p.get("type") == "text"
                             and isinstance(p.get("text"), str))
        return value


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class CompletionRequest(BaseModel):
    """The fields we honour; others (tools, logprobs...) are ignored as the agent cannot use them."""

    model_config = ConfigDict(extra="ignore")

    model: str = ""
    messages: list[WireMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)  # OpenAI's range
    n: int = Field(1, ge=1, le=1)


# ------------------------------------------------------------------ the dialogue


@dataclass(frozen=True)
class Dialogue:
    """What the agent needs: the user's query, the questions answered since, the client's system text."""

    query: str
    turns: list[Turn] = field(default_factory=list)
    system: str | None = None
    history: list[str] = field(default_factory=list)
    """The user's messages before this query: they still count towards a crisis."""


def rebuild(messages: list[WireMessage], max_turns: int = 10) -> Dialogue:
    """The current query and its turns from a history; the last message must be the user's.

    The agent asks each attribute once and at most ``max_turns`` questions per query, so a
    history with more (forged to make the proxy spend upstream calls) keeps only the first."""
    if messages[-1].role != "user":
        raise ProtocolError("the last message must be the user's")
    query: str | None = None
    turns: list[Turn] = []
    system: list[str] = []
    history: list[str] = []
    asked = None
    for m in messages:
        if m.role in ("system", "developer"):
            system.append(m.content)
        elif m.role == "assistant":
            asked = attribute_asked(m.content)
        elif m.role == "user":
            if asked is not None and query is not None:
                if len(turns) < max_turns and all(t.attribute is not asked for t in turns):
                    turns.append(Turn(attribute=asked, reply=m.content))
            else:  # a new question: the protocol starts again
                if query is not None:
                    history += [query, *(t.reply for t in turns)]
                query, turns = m.content, []
            asked = None
    if not query or not query.strip():
        raise ProtocolError("the user's question is empty")
    return Dialogue(query, turns, "\n\n".join(s for s in system if s.strip()) or None, history)


# ------------------------------------------------------------------ responses


class PenguinMeta(BaseModel):
    """The agent's move, in the extra top-level ``penguin`` field (standard clients ignore it).
    Attribute names only: the values a user shared never leave the agent."""

    action: Literal["ask", "answer"]
    attribute: str | None = None
    """The attribute this message asks about (action "ask")."""
    asked: list[str] = Field(default_factory=list)
    """Every attribute asked about for the current query, this message's included."""
    known: list[str] = Field(default_factory=list)
    withheld: list[str] = Field(default_factory=list)
    """Asked but declined or not answered clearly."""
    stop_reason: str | None = None
    gate: str | None = None
    """The router's route for this message: crisis, agent or direct."""
    gate_score: float | None = None
    """How personal the query looked (1 - P(direct)); direct below the router's threshold."""
    crisis: str | None = None
    """imminent or passive when the router saw danger."""
    language: str | None = None
    """The message's language when the router read it as not English (it is then never answered directly)."""
    upstream_calls: int = 0

    @classmethod
    def of(cls, d: Decision, dialogue: Dialogue, calls: int) -> "PenguinMeta":
        asked = [t.attribute.value for t in dialogue.turns] + ([d.attribute.value] if d.attribute else [])
        return cls(action=d.action, attribute=d.attribute.value if d.attribute else None, asked=asked,
                   known=[a.value for a in d.known], withheld=[a.value for a in d.withheld],
                   stop_reason=d.stop_reason, gate=d.route,
                   gate_score=round(d.gate_score, 4) if d.gate_score is not None else None, crisis=d.crisis,
                   language=d.language, upstream_calls=calls)


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str = "stop"


class Completion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: TokenUsage
    penguin: PenguinMeta


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class Chunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: TokenUsage | None = None
    penguin: PenguinMeta | None = None


def completion_id() -> tuple[str, int]:
    return f"chatcmpl-{secrets.token_hex(12)}", int(time.time())


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
