"""The one async interface every chat backend implements."""

from __future__ import annotations

import abc
from typing import Any, AsyncIterator, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """Everything that determines an answer; its JSON is the cache key (with the model identity)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: tuple[Message, ...]
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=1)
    seed: int | None = None
    stop: tuple[str, ...] = ()
    grammar: str | None = None
    """A GBNF grammar (llama.cpp); backends without grammar support reject it."""
    json_schema: dict[str, Any] | None = None
    """A JSON schema the answer must follow, where the backend can enforce it."""

    @model_validator(mode="after")
    def _one_constraint(self) -> "ChatRequest":
        if self.grammar and self.json_schema:
            raise ValueError("give either grammar or json_schema, not both")
        if not self.messages:
            raise ValueError("messages must not be empty")
        return self

    @classmethod
    def chat(cls, system: str | None, user: str, **params: Any) -> "ChatRequest":
        msgs = ([Message(role="system", content=system)] if system else []) + [
            Message(role="user", content=user)
        ]
        return cls(messages=tuple(msgs), **params)


class ChatResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    cached: bool = False


class ChatModel(abc.ABC):
    """A chat model. ``identity`` names the weights/endpoint so caches never mix models."""

    spec: str
    identity: str
    supports_grammar: bool = False
    supports_json_schema: bool = False

    @abc.abstractmethod
    async def generate(self, request: ChatRequest) -> ChatResult: ...

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatResult]:
        """The answer as it is generated, for clients that show text as it arrives.

        Each item's ``text`` is the next piece; the last item also carries the token counts,
        latency and finish reason of the whole answer. Backends that cannot stream (and the
        response cache) yield the whole answer as one item."""
        yield await self.generate(request)

    async def aclose(self) -> None:
        """Release clients or weights; safe to call twice."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


class ModelWrapper(ChatModel):
    """A layer around another model (cache, meter): same identity and abilities as ``inner``."""

    def __init__(self, inner: ChatModel):
        self.inner = inner
        self.spec = inner.spec
        self.identity = inner.identity
        self.supports_grammar = inner.supports_grammar
        self.supports_json_schema = inner.supports_json_schema

    async def generate(self, request: ChatRequest) -> ChatResult:
        return await self.inner.generate(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
