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
        with pytest.raises(ModelError, match=r"gave up after 3 attempts: HTTP 500: scripted 500"):
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


async def test_keys_and_urls_follow_each_backend(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-test")
    with ScriptedServer() as srv:
        plain = model(srv.url, api_key_env="MY_KEY")
        azure = load_model(f"azure:my dep?endpoint={srv.url.removesuffix('/v1')}&api_version=2024-10-21", cache=False)
        await plain.generate(REQ)
        await azure.generate(REQ)
        await plain.aclose()
        await azure.aclose()
    (path, headers), (azure_path, azure_headers) = srv.seen
    assert path == "/v1/chat/completions" and headers["authorization"] == "Bearer sk-test"
    assert headers["openai-organization"] == "org-1"
    assert azure_path == "/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21"
    assert azure_headers["api-key"] == "az-test" and "authorization" not in azure_headers


async def test_timeouts_are_retried_then_reported_as_timeouts():
    with ScriptedServer(delay=1.0) as srv:
        m = model(srv.url, timeout=0.1, max_attempts=2)
        with pytest.raises(ModelError, match="gave up after 2 attempts: timed out") as err:
            await m.generate(REQ)
        await m.aclose()
    assert err.value.timed_out and len(srv.requests) == 2


def test_the_environment_proxy_is_looked_up_once_and_honours_no_proxy(monkeypatch):
    from penguin.models.remote import _env_proxy

    for name in ("HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert _env_proxy("https://api.openai.com/v1/chat/completions") == "http://proxy.internal:3128"
    assert _env_proxy("http://127.0.0.1:8000/v1/chat/completions") is None
    assert _env_proxy("http://gpu-box:8000/v1/chat/completions") is None  # no HTTP_PROXY set


def _events(*events: str, end: bytes = b"\n\n") -> bytes:
    return b"".join(e.encode() + end for e in events)


CHUNK = '{"choices": [{"delta": {"content": "%s"}, "finish_reason": %s}]}'
USAGE = 'data: {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}'


async def stream_text(srv: ScriptedServer, **opts) -> tuple[list[str], object]:
    m = model(srv.url, **opts)
    try:
        pieces = [p async for p in m.stream(REQ)]
    finally:
        await m.aclose()
    return [p.text for p in pieces[:-1]], pieces[-1]


async def test_streams_are_read_event_by_event():
    """CRLF line ends, comments, other fields, a multi-line event, a usage-only last chunk, [DONE]."""
    with ScriptedServer() as srv:
        srv.sse = (_events(": keep-alive", "event: message\r\ndata: " + CHUNK % ("Hel", "null"), end=b"\r\n\r\n")
                   + _events("data: {\"choices\": [{\"delta\":\ndata: {\"content\": \"lo\"}, \"finish_reason\": \"stop\"}]}",
                             USAGE, "data: [DONE]"))
        texts, last = await stream_text(srv)
    assert texts == ["Hel", "lo"]
    assert (last.finish_reason, last.prompt_tokens, last.completion_tokens) == ("stop", 7, 2)
    assert srv.requests[0]["stream"] is True and srv.requests[0]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("sse,pattern", [
    (_events("data: " + CHUNK % ("a", "null"), 'data: {"error": {"message": "overloaded"}}'),
     "the stream reported an error: overloaded"),
    (_events("data: not json"), "unusable stream event"),
    (_events(": nothing but comments"), "sent no stream events"),
])
async def test_broken_streams_are_model_errors(sse, pattern):
    with ScriptedServer() as srv:
        srv.sse = sse
        with pytest.raises(ModelError, match=pattern):
            await stream_text(srv)


async def test_a_stream_cut_halfway_is_a_model_error_and_a_5xx_before_it_is_retried():
    with ScriptedServer([503]) as srv:
        srv.sse, srv.cut_stream = _events(*["data: " + CHUNK % ("word " * 20, "null")] * 4, "data: [DONE]"), True
        with pytest.raises(ModelError, match="the stream broke off: ClientPayloadError"):
            await stream_text(srv)
    assert len(srv.requests) == 2  # the 503 was retried, the broken stream was not


async def test_one_model_serves_several_event_loops():
    """A CLI may call asyncio.run more than once with one model: each loop gets its own session."""
    with ScriptedServer() as srv:
        m = model(srv.url)

        def run_once() -> str:
            return asyncio.run(m.generate(REQ)).text

        first = await asyncio.to_thread(run_once)  # a loop that ends without aclose
        second = await asyncio.to_thread(run_once)
        await m.generate(REQ)
        await m.aclose()
    assert first == second == "echo: hello" and len(m.inner._sessions) == 0


async def test_redirects_are_not_followed_and_credentials_stay_out_of_messages(monkeypatch):
    from penguin.models.remote import _first_line

    assert _first_line("Cannot connect to proxy http://user:s3cret@proxy:3128") == \
        "Cannot connect to proxy http://***@proxy:3128"
    with ScriptedServer([302]) as srv:
        m = model(srv.url)
        with pytest.raises(ModelError, match=r"request refused \(302\)"):
            await m.generate(REQ)
        await m.aclose()
    assert len(srv.requests) == 1


def test_callers_may_choose_attempts_and_the_spec_has_the_last_word():
    """`penguin serve` asks for 2 attempts (a person is waiting); a spec option overrides it."""
    assert load_model("openai:m?base_url=http://127.0.0.1:9/v1", cache=False, max_attempts=2).inner.max_attempts == 2
    spec = "openai:m?base_url=http://127.0.0.1:9/v1&max_attempts=5"
    assert load_model(spec, cache=False, max_attempts=2).inner.max_attempts == 5
