"""OpenAI-compatible HTTP backends (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio, Azure).

The wire format is small (one POST, a JSON answer or server-sent events), so we speak it with
aiohttp rather than the openai client: the client costs about 6 ms of CPU per call, aiohttp
about 0.5 ms (``benchmarks/proxy.py``), and `penguin serve` adds its overhead to every call.

Which failures are transient, in one place (``_Retryable`` is raised for exactly these, and
retried with exponential backoff and full jitter, honouring Retry-After, within ``max_attempts``):
- 429 (rate limited) and every 5xx: the server says "not now";
- a timeout, a refused or dropped connection, a body cut off mid-read: the network or an
  overloaded server;
- a 200 whose body is not a chat completion (invalid or truncated JSON, the wrong shape, an
  HTML error page from a gateway): gateways and overloaded servers send those, and the same
  request usually succeeds on the next attempt.
Everything else (bad key, unknown model, bad request, a TLS or URL error) fails at once with a
message saying why it will never succeed. What stays unreadable after the last attempt is a
ModelError, which the run records as a counted error. (A 200 whose *text* is not what was asked
for, such as a verdict the judge cannot parse, is not a transport failure: the judge and the
structured-output helper retry those with a new seed.)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import ssl
import time
import urllib.request
import weakref
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, ModelError, describe_validation
from .base import ChatModel, ChatRequest, ChatResult

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


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message | None = None
    finish_reason: str | None = None


class _Completion(BaseModel):
    """The fields of a chat completion we read; the rest is ignored."""

    choices: list[_Choice]
    usage: _Usage | None = None


class _ChunkChoice(BaseModel):
    delta: _Message | None = None
    finish_reason: str | None = None


class _Chunk(BaseModel):
    choices: list[_ChunkChoice] = []
    usage: _Usage | None = None


class _Retryable(Exception):
    """A failure worth another attempt (the module docstring lists them and says why)."""

    def __init__(self, what: str, *, status: int | None = None, timed_out: bool = False,
                 retry_after: float | None = None):
        super().__init__(what)
        self.status, self.timed_out, self.retry_after = status, timed_out, retry_after


class RemoteModel(ChatModel):
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        url: the full chat-completions URL (with Azure's ``api-version`` query).
        endpoint: names the server in the identity and the shared concurrency limit.
        headers: authentication (``Authorization: Bearer`` or Azure's ``api-key``).
        timeout: seconds to connect, and to wait for each read (a long stream may go on).
    """

    def __init__(
        self,
        spec: str,
        url: str,
        model: str,
        endpoint: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 120.0,
        concurrency: int = 16,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        grammar_field: str | None = None,
        json_format: str = "json_schema",
    ):
        self.spec = spec
        self.url = url
        self.model = model
        self.endpoint = endpoint
        self.identity = f"openai-compatible:{endpoint}:{model}"
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.proxy = _env_proxy(url)
        self.timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
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
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        """One pooled session per event loop: a session belongs to the loop it was made on.
        Sessions of loops that ended without ``aclose`` (an earlier ``asyncio.run``) are dropped,
        so their sockets are freed with their loop (aiohttp warns about such sessions)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            for old in [old for old in self._sessions if old.is_closed()]:
                del self._sessions[old]
            session = self._sessions[loop] = aiohttp.ClientSession(
                headers=self.headers, timeout=self.timeout,
                cookie_jar=aiohttp.DummyCookieJar(),  # one session serves every proxy user: no shared cookies
                connector=aiohttp.TCPConnector(limit=0, ssl=_tls()))  # the endpoint semaphore limits concurrency
        return session

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
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
            params[self.grammar_field] = request.grammar
        return params

    def _delay(self, attempt: int, failure: _Retryable) -> float:
        if failure.retry_after is not None:
            return min(failure.retry_after, self.backoff_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _open(self, params: dict[str, Any], read: bool) -> aiohttp.ClientResponse | bytes:
        """POST once: the body (``read``) or the open response of a 200 (the caller releases it)."""
        try:
            response = await self._session().post(self.url, data=json.dumps(params), proxy=self.proxy,
                                                   allow_redirects=False)  # never replay a POST (or a key) elsewhere
            if response.status == 200 and not read:
                return response
            try:
                body = await response.read()
            finally:
                response.release()
        except asyncio.TimeoutError as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})", timed_out=True) from exc
        except (aiohttp.ClientSSLError, aiohttp.InvalidURL) as exc:  # retrying cannot help
            raise ModelError(f"{self.spec}: cannot connect: {_first_line(exc)}") from exc
        except aiohttp.ClientError as exc:
            raise _Retryable(f"connection failed: {_first_line(exc)}") from exc
        if response.status == 200:
            return body
        message, code = _error_of(body)
        what = f"HTTP {response.status}: {message}"
        if response.status == 429 or response.status >= 500:
            raise _Retryable(what, status=response.status, retry_after=_seconds(response.headers.get("Retry-After")))
        hint = {401: "the endpoint rejected the API key (401)", 403: f"permission denied (403): {what}",
                404: f"not found (404): is the model name and base URL right? {what}"}
        raise ModelError(f"{self.spec}: {hint.get(response.status, f'request refused ({response.status}): {what}')}",
                         status=response.status, code=code)

    async def _create(self, params: dict[str, Any], read: bool,
                      parse: Any = None) -> tuple[Any, float]:  # noqa: ANN401
        """One completion call (its body, through ``parse`` if given) or the opening of a stream
        (the response), with retries: (that, seconds). ``parse`` raising ``_Retryable`` makes an
        unreadable 200 one more transient failure."""
        sem = endpoint_semaphore(self.endpoint, self.concurrency)
        for attempt in range(self.max_attempts):
            try:
                async with sem:
                    start = time.perf_counter()
                    result = await self._open(params, read)
                    elapsed = time.perf_counter() - start
                return (parse(result) if parse is not None else result), elapsed
            except _Retryable as failure:
                if attempt + 1 == self.max_attempts:
                    raise ModelError(f"{self.spec}: gave up after {self.max_attempts} attempts: {failure}",
                                     status=failure.status, timed_out=failure.timed_out,
                                     retry_after=failure.retry_after) from failure
                self.retries += 1
                await asyncio.sleep(self._delay(attempt, failure))
        raise AssertionError("unreachable")  # pragma: no cover

    def _completion(self, body: bytes) -> ChatResult:
        """A 200's body as a result; an unreadable one is transient (see the module docstring)."""
        try:
            completion = _Completion.model_validate_json(body)
        except ValidationError as exc:
            message, _ = _error_of(body)
            detail = message if b"error" in body else describe_validation(exc, limit=1)
            raise _Retryable(f"unusable response: {detail}", status=200) from exc
        if not completion.choices:
            raise _Retryable("unusable response: the endpoint returned no choices", status=200)
        choice, usage = completion.choices[0], completion.usage or _Usage()
        return ChatResult(text=(choice.message and choice.message.content) or "", prompt_tokens=usage.prompt_tokens,
                          completion_tokens=usage.completion_tokens, finish_reason=choice.finish_reason)

    async def generate(self, request: ChatRequest) -> ChatResult:
        result, latency = await self._create(self._params(request), read=True, parse=self._completion)
        return result.model_copy(update={"latency_s": latency})

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatResult]:
        """Server-sent chunks as they arrive; a failure before the first chunk is retried like
        ``generate``, one after it ends the stream with a ModelError."""
        start = time.perf_counter()
        params = self._params(request) | {"stream": True, "stream_options": {"include_usage": True}}
        response, _ = await self._create(params, read=False)
        finish, usage, events, done = None, None, 0, False
        try:
            async for data in _sse_data(response):
                if done or not data:  # after [DONE]: read on to the end, so the connection is reused
                    continue
                if data == "[DONE]":
                    done = True
                    continue
                try:
                    payload = json.loads(data)
                    if isinstance(payload, dict) and payload.get("error"):
                        raise ModelError(f"{self.spec}: the stream reported an error: {_error_of(data.encode())[0]}")
                    chunk = _Chunk.model_validate(payload)
                except (ValueError, ValidationError) as exc:
                    raise ModelError(f"{self.spec}: unusable stream event: {_first_line(exc)}") from exc
                events += 1
                usage = chunk.usage or usage
                if chunk.choices:
                    finish = chunk.choices[0].finish_reason or finish
                    delta = chunk.choices[0].delta
                    if delta and delta.content:
                        yield ChatResult(text=delta.content)
        except ModelError:
            raise
        except Exception as exc:  # a dropped connection, a timeout, an over-long line: never a stray error
            raise ModelError(f"{self.spec}: the stream broke off: {type(exc).__name__}",
                             timed_out=isinstance(exc, asyncio.TimeoutError)) from exc
        finally:
            response.release()
        if not events:
            raise ModelError(f"{self.spec}: the endpoint sent no stream events (does it support stream=True?)")
        usage = usage or _Usage()
        yield ChatResult(text="", prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                         latency_s=time.perf_counter() - start, finish_reason=finish)

    async def aclose(self) -> None:
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()
        for loop in [loop for loop in self._sessions if loop.is_closed()]:
            del self._sessions[loop]


async def _sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The data of each server-sent event: multi-line data joined by newlines, comments and
    other fields skipped (the event-stream format, for LF or CRLF line ends)."""
    lines: list[str] = []
    async for raw in response.content:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[6:] if line.startswith("data: ") else line[5:])
    if lines:
        yield "\n".join(lines)


def _env_proxy(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to ``url`` (NO_PROXY respected), looked up once: aiohttp's
    own ``trust_env`` looks it up on every request, which costs 0.7 ms of CPU a call."""
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _error_of(body: bytes) -> tuple[str, str | None]:
    """(the first line of an OpenAI-style error's message, else of the body; its ``code``)."""
    try:
        error = json.loads(body)["error"]
        if isinstance(error, dict):
            code = error.get("code")
            return _first_line(str(error.get("message", ""))), str(code) if code is not None else None
        return _first_line(str(error)), None
    except (ValueError, KeyError, TypeError):
        return _first_line(body.decode("utf-8", "replace")) or "(empty body)", None


_USERINFO = re.compile(r"://[^/@\s]+@")


def _first_line(what: object) -> str:
    """One line for a message, without credentials (a proxy URL's user:password)."""
    text = _USERINFO.sub("://***@", str(what)).strip().splitlines()
    return text[0][:200] if text else type(what).__name__


def _tls() -> ssl.SSLContext:
    """certifi's CA bundle (as the openai client used), unless SSL_CERT_FILE/DIR choose another."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
