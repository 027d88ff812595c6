"""The OpenAI-compatible backend against a real server: llama-cpp-python's own, with the
embedded GGUF, started on 127.0.0.1 (slow)."""

import pytest

from penguin.models import ChatRequest, ResponseCache, load_model

from .conftest import llama_spec

pytestmark = pytest.mark.slow


async def test_plain_calls(llama_server):
    m = load_model(llama_spec(llama_server), cache=False)
    res = await m.generate(ChatRequest.chat(None, "Say hello.", temperature=0.0, max_tokens=10, seed=0))
    await m.aclose()
    assert res.text.strip() and 0 < res.completion_tokens <= 10 and res.prompt_tokens > 0


async def test_grammar_and_schema_reach_the_server(llama_server):
    m = load_model(llama_spec(llama_server), cache=False)
    g = await m.generate(ChatRequest.chat(None, "Rate blue.", max_tokens=10, seed=1, grammar='root ::= [1-5] "/5"'))
    j = await m.generate(ChatRequest.chat(None, "Pick.", max_tokens=20, seed=1, json_schema={
        "type": "object", "properties": {"x": {"type": "integer", "enum": [1, 2]}}, "required": ["x"]}))
    await m.aclose()
    assert g.text.strip() in {f"{i}/5" for i in range(1, 6)}
    assert j.text.replace(" ", "") in ('{"x":1}', '{"x":2}')


async def test_concurrent_calls_and_cache_hit_on_rerun(llama_server, tmp_path):
    import asyncio

    cache = ResponseCache(tmp_path / "c.sqlite")
    reqs = [ChatRequest.chat(None, f"Give me word number {i}.", temperature=0.0, max_tokens=6, seed=0) for i in range(6)]
    m = load_model(llama_spec(llama_server), cache=cache)
    first = await asyncio.gather(*(m.generate(r) for r in reqs))
    second = await asyncio.gather(*(m.generate(r) for r in reqs))
    await m.aclose()
    assert all(not r.cached for r in first) and all(r.cached for r in second)
    assert [r.text for r in first] == [r.text for r in second]
    assert cache.stats()["entries"] == 6
