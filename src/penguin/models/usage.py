"""Who spent which LLM calls: a per-task meter that every model call reports to.

The planner and the agent compare strategies by what they cost, but their calls run
concurrently with other scenarios'. A ContextVar holds the meter of the current task
(asyncio copies it into the tasks a scenario spawns), so ``with metered() as usage:``
counts exactly the calls made on behalf of one scenario.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import AsyncIterator, Iterator

from .base import ChatRequest, ChatResult, ModelWrapper


@dataclass
class Usage:
    calls: int = 0
    """Calls answered by a model (not from the response cache)."""
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def all_calls(self) -> int:
        """Every call made, answered by a model or by the cache."""
        return self.calls + self.cached_calls

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, result: ChatResult) -> None:
        if result.cached:
            self.cached_calls += 1
        else:
            self.calls += 1
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens


_CURRENT: ContextVar[Usage | None] = ContextVar("penguin_usage", default=None)


@contextlib.contextmanager
def metered() -> Iterator[Usage]:
    """Count every call made (directly or by spawned tasks) inside the block."""
    usage = Usage()
    token = _CURRENT.set(usage)
    try:
        yield usage
    finally:
        _CURRENT.reset(token)


class MeteredModel(ModelWrapper):
    """The outermost layer of every loaded model: reports each result to the current meter."""

    async def generate(self, request: ChatRequest) -> ChatResult:
        result = await self.inner.generate(request)
        if (usage := _CURRENT.get()) is not None:
            usage.add(result)
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatResult]:
        last = None
        async for last in self.inner.stream(request):
            yield last
        if last is not None and (usage := _CURRENT.get()) is not None:
            usage.add(last)  # the last piece carries the whole answer's token counts
