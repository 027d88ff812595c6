"""The response cache: stable keys, no cross-talk, safe with concurrent writers."""

import multiprocessing as mp

from penguin.models import ChatRequest, ChatResult, ResponseCache, cache_key

REQ = ChatRequest.chat("sys", "hello", temperature=0.7, max_tokens=32, seed=3)
PINNED = "529a47394c8d98686b5e81d64ad2ce79971021cb82e891f79b615053f5d67209"


def test_key_is_stable_and_content_addressed():
    same = ChatRequest.chat("sys", "hello", temperature=0.7, max_tokens=32, seed=3)
    assert cache_key("m", REQ) == cache_key("m", same)
    assert len(cache_key("m", REQ)) == 64
    # a pinned value: changing the key scheme would silently orphan every user's cache
    assert cache_key("gguf:abc", ChatRequest.chat(None, "x", seed=0)) == PINNED


def test_no_cross_talk_between_models_or_params():
    variants = [
        ("m", REQ), ("other-model", REQ),
        ("m", REQ.model_copy(update={"seed": 4})), ("m", REQ.model_copy(update={"temperature": 0.0})),
        ("m", REQ.model_copy(update={"max_tokens": 33})), ("m", REQ.model_copy(update={"stop": ("\n",)})),
        ("m", REQ.model_copy(update={"json_schema": {"type": "object"}})),
        ("m", ChatRequest.chat("sys", "hello!", temperature=0.7, max_tokens=32, seed=3)),
        ("m", ChatRequest.chat(None, "hello", temperature=0.7, max_tokens=32, seed=3)),
    ]
    assert len({cache_key(m, r) for m, r in variants}) == len(variants)


def test_put_get_stats_clear(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    key = cache_key("m", REQ)
    assert cache.get(key) is None
    cache.put(key, "m", ChatResult(text="hi", prompt_tokens=3, completion_tokens=1, latency_s=0.5))
    hit = cache.get(key)
    assert hit.text == "hi" and hit.cached and hit.completion_tokens == 1
    assert cache.stats()["entries"] == 1 and cache.stats()["per_model"] == {"m": 1}
    assert cache.clear("other") == 0 and cache.clear() == 1 and cache.get(key) is None


def _writer(path, worker, n):
    cache = ResponseCache(path)
    for i in range(n):
        req = ChatRequest.chat(None, f"{worker}-{i}")
        cache.put(cache_key("m", req), "m", ChatResult(text=f"{worker}-{i}"))
        cache.get(cache_key("m", ChatRequest.chat(None, f"{(worker + 1) % 4}-{i}")))


def test_safe_under_concurrent_writers(tmp_path):
    path = tmp_path / "c.sqlite"
    ResponseCache(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = ResponseCache(path)
    assert cache.stats()["entries"] == 600
    for w in range(4):
        for i in (0, 149):
            assert cache.get(cache_key("m", ChatRequest.chat(None, f"{w}-{i}"))).text == f"{w}-{i}"


async def test_cached_model_serves_reruns_without_calling(tmp_path):
    from penguin.models import load_model

    from .scripted_server import ScriptedServer

    with ScriptedServer() as srv:
        m = load_model(f"openai:x?base_url={srv.url}", cache=ResponseCache(tmp_path / "c.sqlite"))
        a = await m.generate(REQ)
        b = await m.generate(REQ)
        c = await m.generate(REQ.model_copy(update={"seed": 9}))
        await m.aclose()
    assert a.text == b.text and not a.cached and b.cached and not c.cached
    assert len(srv.requests) == 2
