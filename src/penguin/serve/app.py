"""`penguin serve`'s app: RAISE in front of any chat model, spoken over the OpenAI wire format.

Each POST /v1/chat/completions rebuilds the dialogue from the history it carries and lets
the agent move once: a clarifying question (an ordinary assistant message) or the answer,
written by the upstream model with what the user chose to share. Nothing is kept between
requests, and the log holds method, path, status, latency and counts, never contents.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import asynccontextmanager
from importlib import resources
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..agent.loop import Agent, AgentConfig
from ..agent.retriever import Retriever
from ..agent.router import Router, RouterConfig
from ..errors import ModelError, describe_validation
from ..evaluation.respond import GenerationParams
from ..models import ChatModel, ChatResult, Usage, metered
from .limits import KeyCheck, Limits, RateLimiter
from .protocol import (
    AssistantMessage,
    Choice,
    Chunk,
    ChunkChoice,
    Completion,
    CompletionRequest,
    Delta,
    PenguinMeta,
    ProtocolError,
    TokenUsage,
    completion_id,
    error_body,
    rebuild,
)

log = logging.getLogger("penguin.serve")

STATIC = {"/": ("chat.html", "text/html; charset=utf-8"), "/chat.js": ("chat.js", "text/javascript"),
          "/chat.css": ("chat.css", "text/css")}
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store"}


class Refusal(Exception):
    """A request answered with an OpenAI-style error body."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.body, self.headers = status, error_body(message, kind, code), headers


def unauthorized() -> Refusal:
    return Refusal(401, "Invalid or missing API key.", "invalid_request_error", "invalid_api_key",
                   {"WWW-Authenticate": "Bearer"})


class AccessLog:
    """One line per request: method, path, status, latency and the counts the endpoint left in
    ``scope["penguin.counts"]``. Plain ASGI, so streamed bodies pass straight through."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %d %.1f ms%s", scope["method"], scope["path"], status,
                         (time.perf_counter() - start) * 1000, scope.get("penguin.counts", ""))


def upstream_refusal(exc: ModelError) -> Refusal:
    """What the client may act on: 504 when the upstream timed out, 429 when it stayed
    rate-limited through our retries, 400 when the conversation is too long for it; else 502
    (a refusal caused by our own settings is not the client's to fix). The log gets the status
    and error code, never the upstream's message (it may quote the conversation)."""
    log.warning("upstream failed: %s", "timeout" if exc.timed_out else
                f"HTTP {exc.status}{f' ({exc.code})' if exc.code else ''}" if exc.status else "error")
    if exc.timed_out:
        return Refusal(504, "The upstream model timed out.", "upstream_error", "upstream_timeout")
    if exc.status == 429:
        return Refusal(429, "The upstream model is rate-limited; retry later.", "rate_limit_error",
                       "upstream_rate_limited",
                       {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after is not None else None)
    if exc.status == 413 or exc.code == "context_length_exceeded":
        return Refusal(400, "The conversation is too long for the upstream model.", "invalid_request_error",
                       "context_length_exceeded")
    return Refusal(502, "The upstream model failed.", "upstream_error", "upstream_error")


def create_app(model: ChatModel, config: AgentConfig | None = None, *, retriever: Retriever | None = None,
               keys: frozenset[str] = frozenset(), limits: Limits | None = None,
               cors_origins: list[str] | None = None, served_model: str = "penguin-raise",
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The proxy for one upstream ``model`` (load it with ``cache=False``: no conversation on disk).

    Args:
        config: the agent's settings; ``generation`` caps what a client may ask for.
        retriever: the planner's path library (full RAISE); None: the agent alone.
        keys: accepted bearer tokens; empty: no authentication (loopback use).
        cors_origins: browser origins allowed to call the API from other pages (default none).
        allowed_hosts: Host headers accepted (a loopback server: its loopback names, which stops
            DNS-rebinding pages); None: any.
    """
    config = config or AgentConfig()
    router = Router(RouterConfig(enabled=config.gate, llm_check=config.gate_llm))  # one per app: shared cache
    limits = limits or Limits()
    check = KeyCheck(keys)
    rate = RateLimiter(limits.rate_per_minute, limits.burst)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await model.aclose()

    app = FastAPI(title="penguin serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        return JSONResponse(exc.body, exc.status, headers=exc.headers)

    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(AccessLog)

    def admit(request: Request) -> None:
        """Authenticate and rate-limit, in that order (an unknown caller cannot drain a bucket)."""
        if check.enabled:
            caller = check.identify(request.headers.get("authorization"))
            if caller is None:
                raise unauthorized()
        else:
            caller = f"addr:{request.client.host if request.client else '-'}"
        wait = rate.take(caller)
        if wait:
            raise Refusal(429, "Rate limit reached; retry later.", "rate_limit_error", "rate_limit_exceeded",
                          {"Retry-After": str(math.ceil(wait))})

    def same_site(request: Request) -> None:
        """Browsers may POST "simple" requests cross-site without asking: insist on JSON (which
        forces a CORS preflight) and on an Origin that is this page or an allowed one."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise Refusal(415, "Content-Type must be application/json.", "invalid_request_error")
        origin = request.headers.get("origin")
        if origin and origin not in (cors_origins or []) and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise Refusal(403, "Cross-origin requests are not allowed.", "invalid_request_error")

    async def read_body(request: Request) -> CompletionRequest:
        too_big = Refusal(413, f"Request body larger than {limits.max_body_bytes} bytes.", "invalid_request_error",
                          "request_too_large")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limits.max_body_bytes):
            raise too_big
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > limits.max_body_bytes:
                raise too_big
        try:
            req = CompletionRequest.model_validate_json(bytes(body))
        except ValidationError as exc:  # describe where, never echo the input
            raise Refusal(400, f"Invalid request: {describe_validation(exc, limit=3)}", "invalid_request_error") from None
        if len(req.messages) > limits.max_messages:
            raise Refusal(413, f"More than {limits.max_messages} messages.", "invalid_request_error",
                          "too_many_messages")
        return req

    def agent_for(req: CompletionRequest) -> Agent:
        """The client may lower the answer's length and choose its temperature and seed."""
        cap = config.generation.max_tokens
        wanted = req.max_completion_tokens or req.max_tokens or cap
        generation = GenerationParams(temperature=config.generation.temperature if req.temperature is None
                                      else req.temperature, max_tokens=min(wanted, cap))
        cfg = config.model_copy(update={"generation": generation,
                                        # folded into 0..2^30: the agent adds small offsets, and llama.cpp takes 32 bits
                                        "seed": config.seed if req.seed is None else req.seed % 2**30})
        return Agent(model, cfg, retriever, router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, object]:
        admit(request)
        return {"object": "list", "data": [{"id": served_model, "object": "model", "created": 0,
                                            "owned_by": "penguin"}]}

    async def chat(request: Request) -> Response:
        try:
            return await complete(request)
        except Refusal:
            raise
        except Exception as exc:  # never a traceback (it could quote contents) nor a bare 500
            log.error("internal error: %s", type(exc).__name__)
            raise Refusal(500, "Internal error.", "server_error") from None

    async def complete(request: Request) -> Response:
        admit(request)
        same_site(request)
        req = await read_body(request)
        try:
            dialogue = rebuild(req.messages, config.max_questions)
        except ProtocolError as exc:
            raise Refusal(400, str(exc), "invalid_request_error") from None
        agent = agent_for(req)
        with metered() as usage:
            try:
                d = await agent.decide(dialogue.query, dialogue.turns, history=dialogue.history, compose=False)
            except ModelError as exc:
                raise upstream_refusal(exc) from None
            text = d.question if d.action == "ask" else d.answer
            final = None if text is not None else agent.final_request(dialogue.query, d.known, system=dialogue.system,
                                                                       caring=d.crisis == "passive")
            suffix = agent.finalize("", d).strip() if final is not None else ""
            request.scope["penguin.counts"] = (f" · {len(req.messages)} messages, {len(dialogue.turns)} turns, "
                                               f"{d.action}{f' ({d.stop_reason})' if d.stop_reason else ''}")
            cid, created = completion_id()
            if req.stream:
                pieces = None
                if final is not None:  # open the upstream stream first: its failure gets a real status
                    pieces = model.stream(final)
                    try:
                        first = await anext(pieces)
                    except ModelError as exc:
                        raise upstream_refusal(exc) from None
                    pieces = _prepend(first, pieces)
                return StreamingResponse(
                    sse(cid, created, served_model, text, pieces, PenguinMeta.of(d, dialogue, usage.all_calls), usage,
                        req.stream_options is not None and req.stream_options.include_usage, suffix),
                    media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            finish = "stop"
            if final is not None:
                try:
                    result = await model.generate(final)
                except ModelError as exc:
                    raise upstream_refusal(exc) from None
                text, finish = agent.finalize(result.text, d), "length" if result.finish_reason == "length" else "stop"
        body = Completion(id=cid, created=created, model=served_model,
                          choices=[Choice(message=AssistantMessage(content=text), finish_reason=finish)],
                          usage=wire_usage(usage), penguin=PenguinMeta.of(d, dialogue, usage.all_calls))
        return Response(body.model_dump_json(), media_type="application/json")

    # a plain Starlette route: it reads its own body, so FastAPI's per-request dependency
    # solving (cookies, query parameters) would be 0.3 ms of CPU spent on nothing
    app.add_route("/v1/chat/completions", chat, methods=["POST"])

    @app.get("/{page:path}")
    async def static(page: str) -> Response:
        name, media = STATIC.get(f"/{page}", (None, None))
        if name is None:
            return JSONResponse(error_body("Not found.", "invalid_request_error", "not_found"), 404)
        return Response(resources.files(__package__).joinpath("static", name).read_bytes(), media_type=media,
                        headers=PAGE_HEADERS)

    return app


def wire_usage(usage: Usage) -> TokenUsage:
    return TokenUsage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                     total_tokens=usage.tokens)


async def _prepend(first: ChatResult, rest: AsyncIterator[ChatResult]) -> AsyncIterator[ChatResult]:
    try:
        yield first
        async for piece in rest:
            yield piece
    finally:
        await rest.aclose()  # a client that went away stops the upstream stream now, not at GC


async def sse(cid: str, created: int, served: str, text: str | None, pieces: AsyncIterator[ChatResult] | None,
              meta: PenguinMeta, usage: Usage, include_usage: bool, suffix: str = "") -> AsyncIterator[str]:
    """Server-sent events: the role (with the penguin field), the text as it is generated
    (a question or crisis answer in one piece; ``suffix``, the resources after passive ideation,
    after the upstream's words), the finish reason (with the penguin field again,
    its ``upstream_calls`` now complete), usage if asked for, [DONE]."""

    def event(delta: Delta | None = None, finish: str | None = None, **extra: object) -> str:
        choices = [ChunkChoice(delta=delta or Delta(), finish_reason=finish)] if delta or finish else []
        chunk = Chunk(id=cid, created=created, model=served, choices=choices, **extra)
        return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"

    yield event(Delta(role="assistant", content=""), penguin=meta)
    finish = "stop"
    if pieces is None:
        yield event(Delta(content=text))
    else:
        last = None
        try:
            async for last in pieces:
                if last.text:
                    yield event(Delta(content=last.text))
                if last.finish_reason == "length":
                    finish = "length"
            if last is not None:
                usage.add(last)  # the last piece carries the answer's token counts
            if suffix:
                yield event(Delta(content="\n\n" + suffix))
        except Exception as exc:  # noqa: BLE001 - the status line is sent: report in-band, as OpenAI does
            if isinstance(exc, ModelError):
                body = upstream_refusal(exc).body
            else:
                log.error("internal error while streaming: %s", type(exc).__name__)
                body = error_body("Internal error.", "server_error", None)
            yield f"data: {json.dumps(body)}\n\n"
            return
        finally:
            await pieces.aclose()
    yield event(finish=finish, penguin=meta.model_copy(update={"upstream_calls": usage.all_calls}))
    if include_usage:
        yield event(usage=wire_usage(usage))
    yield "data: [DONE]\n\n"
