"""OpenAI-compatible HTTP backends (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio, Azure).

Retries use exponential backoff with full jitter on 429, 5xx, timeouts and dropped
connections; everything else (bad key, unknown model, bad request) fails at once with
a message saying why it will never succeed.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from typing import Any, AsyncIterator

import openai

from ..errors import ConfigError, ModelError
from .base import ChatModel, ChatRequest, ChatResult

RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)

_SEMAPHORES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], asyncio.Semaphore]]" = (
    weakref.WeakKeyDictionary()
)


def endpoint_semaphore(endpoint: str, limit: int) -> asyncio.Semaphore:
    """One concurrency limit per endpoint (and event loop), shared by every model that uses
    the endpoint with that limit (a jury on one server shares one budget)."""
    per_loop = _SEMAPHORES.setdefault(asyncio.get_running_loop(), {})
    sem = per_loop.get((endpoint, limit))
    if sem is None:
        sem = per_loop[(endpoint, limit)] = asyncio.Semaphore(limit)
    return sem


class RemoteModel(ChatModel):
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        spec: str,
        client: openai.AsyncOpenAI,
        model: str,
        endpoint: str,
        *,
        concurrency: int = 16,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        grammar_field: str | None = None,
        json_format: str = "json_schema",
    ):
        self.spec = spec
        self.client = client
        self.model = model
        self.endpoint = endpoint
        self.identity = f"openai-compatible:{endpoint}:{model}"
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.grammar_field = grammar_field
        self.supports_grammar = grammar_field is not None
        if json_format not in ("json_schema", "json_object", "none"):
            raise ConfigError(f"{spec}: json_format must be json_schema, json_object or none")
        self.json_format = json_format
        self.supports_json_schema = json_format != "none"
        self.retries = 0

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        if request.stop:
            params["stop"] = list(request.stop)
        if request.json_schema:
            if self.json_format == "json_schema":  # OpenAI, vLLM, llama.cpp server, LM Studio
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True},
                }
            elif self.json_format == "json_object":  # llama-cpp-python's server
                params["response_format"] = {"type": "json_object", "schema": request.json_schema}
            else:
                raise ModelError(f"{self.spec}: this endpoint takes no JSON schema (json_format=none)")
        if request.grammar:
            if not self.grammar_field:
                raise ModelError(
                    f"{self.spec}: this endpoint takes no grammar; add ?grammar_field=grammar "
                    "(llama.cpp server) or ?grammar_field=guided_grammar (vLLM) to the spec"
                )
            params["extra_body"] = {self.grammar_field: request.grammar}
        return params

    def _delay(self, attempt: int, exc: Exception) -> float:
        retry_after = None
        response = getattr(exc, "response", None)
        if response is not None:
            try:
                retry_after = float(response.headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _create(self, params: dict[str, Any]) -> tuple[Any, float]:
        """One completion call (or the opening of a stream) with retries: (response, seconds)."""
        sem = endpoint_semaphore(self.endpoint, self.concurrency)
        for attempt in range(self.max_attempts):
            try:
                async with sem:
                    start = time.perf_counter()
                    resp = await self.client.chat.completions.create(**params)
                    return resp, time.perf_counter() - start
            except RETRYABLE as exc:
                if attempt + 1 == self.max_attempts:
                    raise ModelError(
                        f"{self.spec}: gave up after {self.max_attempts} attempts: {_describe(exc)}"
                    ) from exc
                self.retries += 1
                await asyncio.sleep(self._delay(attempt, exc))
            except openai.AuthenticationError as exc:
                raise ModelError(f"{self.spec}: the endpoint rejected the API key (401)") from exc
            except openai.PermissionDeniedError as exc:
                raise ModelError(f"{self.spec}: permission denied (403): {_describe(exc)}") from exc
            except openai.NotFoundError as exc:
                raise ModelError(
                    f"{self.spec}: not found (404): is the model name and base URL right? {_describe(exc)}"
                ) from exc
            except openai.APIStatusError as exc:
                raise ModelError(f"{self.spec}: request refused ({exc.status_code}): {_describe(exc)}") from exc
            except (openai.OpenAIError, ValueError) as exc:  # e.g. a body that is not a chat completion
                raise ModelError(f"{self.spec}: unusable response: {_describe(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def generate(self, request: ChatRequest) -> ChatResult:
        resp, latency = await self._create(self._params(request))
        if not resp.choices:
            raise ModelError(f"{self.spec}: the endpoint returned no choices")
        choice = resp.choices[0]
        usage = resp.usage
        return ChatResult(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=latency,
            finish_reason=choice.finish_reason,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatResult]:
        """Server-sent chunks as they arrive; a failure before the first chunk is retried like
        ``generate``, one after it ends the stream with a ModelError."""
        start = time.perf_counter()
        params = self._params(request) | {"stream": True, "stream_options": {"include_usage": True}}
        chunks, _ = await self._create(params)
        finish, usage, events = None, None, 0
        try:
            async for chunk in chunks:
                events += 1
                usage = chunk.usage or usage
                if chunk.choices:
                    finish = chunk.choices[0].finish_reason or finish
                    if piece := chunk.choices[0].delta.content:
                        yield ChatResult(text=piece)
        except (openai.OpenAIError, ValueError) as exc:
            raise ModelError(f"{self.spec}: the stream broke off: {_describe(exc)}") from exc
        finally:
            await chunks.close()
        if not events:
            raise ModelError(f"{self.spec}: the endpoint sent no stream events (does it support stream=True?)")
        yield ChatResult(text="", prompt_tokens=usage.prompt_tokens if usage else 0,
                         completion_tokens=usage.completion_tokens if usage else 0,
                         latency_s=time.perf_counter() - start, finish_reason=finish)

    async def aclose(self) -> None:
        await self.client.close()


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    first = text[0][:200] if text else type(exc).__name__
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {first}"
