"""``mock:`` models for users' own tests, like inspect_ai's mockllm: no weights, no network.

A mock stands in for a remote model's behaviour in code that tests *its own* logic (a notebook
pipeline, a CI smoke test): it answers with a list of replies in turn, or with a function of the
request. Registered under a name, it is reachable by spec (``mock:NAME``), so it flows through
run folders and manifests like any other model. ``mock:default`` (or any unregistered name)
answers plain requests with a short echo and schema-constrained requests with the first
allowed value of each field, deterministically: enough for a pipeline to run end to end, and
plainly labelled as a mock in every report (its identity says so). It is never a judge worth
trusting.
"""

from __future__ import annotations

import hashlib
import json
from itertools import cycle
from typing import Any, Callable, Iterable

from .base import ChatModel, ChatRequest, ChatResult

Reply = str | ChatResult
Responder = Callable[[ChatRequest], Reply]
_REGISTRY: dict[str, tuple[Responder, str]] = {}


def register(name: str, replies: Iterable[str] | Responder) -> str:
    """Make ``mock:NAME`` answer with ``replies`` (a list, used in turn and then repeated) or a
    function from the request to the reply. Returns the spec to use."""
    if callable(replies):
        responder, fingerprint = replies, f"callable:{getattr(replies, '__qualname__', 'fn')}"
    else:
        items = list(replies)
        if not items:
            raise ValueError("a mock needs at least one reply")
        it = cycle(items)
        responder = lambda _request: next(it)  # noqa: E731 - a closure over the cycle
        fingerprint = hashlib.sha256(json.dumps(items).encode()).hexdigest()[:12]
    _REGISTRY[name] = (responder, fingerprint)
    return f"mock:{name}"


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def _first_instance(schema: dict[str, Any]) -> Any:  # noqa: ANN401 - any JSON value
    """The simplest value a JSON schema allows (first enum member, minimal array, ...)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _first_instance(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_first_instance(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    return {"integer": 1, "number": 1, "boolean": False, "string": "mock"}.get(kind, None)


def default_reply(request: ChatRequest) -> str:
    if request.json_schema:
        return json.dumps(_first_instance(request.json_schema))
    last = request.messages[-1].content
    return f"mock reply to: {last[:80]}"


class MockModel(ChatModel):
    """A model that answers from a script; see the module docstring."""

    supports_json_schema = True

    def __init__(self, spec: str, name: str):
        self.spec = spec
        self.name = name
        responder, fingerprint = _REGISTRY.get(name, (default_reply, "default"))
        self._responder = responder
        self.identity = f"mock:{name}:{fingerprint}"
        self.requests: list[ChatRequest] = []

    async def generate(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        reply = self._responder(request)
        if isinstance(reply, ChatResult):
            return reply
        words = sum(len(m.content.split()) for m in request.messages)
        return ChatResult(text=str(reply), prompt_tokens=words, completion_tokens=len(str(reply).split()),
                          finish_reason="stop")
