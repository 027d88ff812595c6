"""The OpenAI-compatible backend: retries, backoff, non-retryable errors, concurrency limit."""

import asyncio
import time

import pytest

from penguin.errors import ModelError
from penguin.models import ChatRequest, load_model

from .scripted_server import ScriptedServer


def model(url, **opts):
    query = "&".join(f"{k}={v}" for k, v in {"base_url": url, **opts}.items())
    m = load_model(f"openai:test-model?{query}", cache=False)
    m.backoff_base = 0.01  # keep the test fast; the schedule's shape is what matters
    return m


REQ = ChatRequest.chat(None, "hello", temperature=0.0, max_tokens=8, seed=1)


async def test_retries_429_and_5xx_then_succeeds():
    with ScriptedServer([429, 500, 503]) as srv:
        m = model(srv.url)
        result = await m.generate(REQ)
        await m.aclose()
    assert result.text == "echo: hello" and result.completion_tokens == 3
    assert len(srv.requests) == 4 and m.inner.retries == 3  # load_model meters the backend
    assert srv.requests[0]["seed"] == 1 and srv.requests[0]["temperature"] == 0.0


async def test_gives_up_after_max_attempts_with_a_clear_message():
    with ScriptedServer([500] * 10) as srv:
        m = model(srv.url, max_attempts=3)
        with pytest.raises(ModelError, match=r"gave up after 3 attempts: InternalServerError 500"):
            await m.generate(REQ)
        await m.aclose()
    assert len(srv.requests) == 3


@pytest.mark.parametrize("status,pattern", [(401, "rejected the API key"), (404, "not found"),
                                            (400, r"request refused \(400\)"), (403, "permission denied")])
async def test_non_retryable_errors_fail_at_once(status, pattern):
    with ScriptedServer([status]) as srv:
        m = model(srv.url)
        with pytest.raises(ModelError, match=pattern):
            await m.generate(REQ)
        await m.aclose()
    assert len(srv.requests) == 1


async def test_retry_after_header_is_respected():
    with ScriptedServer([429], retry_after="0.3") as srv:
        m = model(srv.url)
        start = time.perf_counter()
        await m.generate(REQ)
        elapsed = time.perf_counter() - start
        await m.aclose()
    assert elapsed >= 0.3


async def test_concurrency_limit_per_endpoint_is_respected():
    with ScriptedServer(delay=0.05) as srv:
        a = model(srv.url, concurrency=3)
        b = model(srv.url, concurrency=3)  # same endpoint: shares the limit
        reqs = [ChatRequest.chat(None, f"q{i}", max_tokens=4) for i in range(20)]
        await asyncio.gather(*(m.generate(r) for m, r in zip([a, b] * 10, reqs)))
        await a.aclose()
        await b.aclose()
    assert srv.max_in_flight == 3
    assert len(srv.requests) == 20


async def test_json_schema_and_grammar_are_sent_in_the_configured_wire_format():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    with ScriptedServer() as srv:
        m1 = model(srv.url)
        await m1.generate(REQ.model_copy(update={"json_schema": schema}))
        m2 = model(srv.url, json_format="json_object", grammar_field="grammar")
        await m2.generate(REQ.model_copy(update={"json_schema": schema}))
        await m2.generate(REQ.model_copy(update={"grammar": 'root ::= "yes"'}))
        with pytest.raises(ModelError, match="takes no grammar"):
            await m1.generate(REQ.model_copy(update={"grammar": 'root ::= "yes"'}))
        await m1.aclose()
        await m2.aclose()
    assert srv.requests[0]["response_format"]["type"] == "json_schema"
    assert srv.requests[0]["response_format"]["json_schema"]["schema"] == schema
    assert srv.requests[1]["response_format"] == {"type": "json_object", "schema": schema}
    assert srv.requests[2]["grammar"] == 'root ::= "yes"'
