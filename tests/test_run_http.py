"""The run engine over HTTP with a jury of two judges (fast: a scripted stand-in server)."""

import json

import pytest

from penguin.evaluation.config import RunConfig
from penguin.evaluation.engine import Runner
from penguin.evaluation.respond import GenerationParams

from .scripted_server import ScriptedServer


async def test_jury_run_over_http(tmp_path):
    with ScriptedServer() as srv:
        cfg = RunConfig(model=f"openai:m?base_url={srv.url}", judges=[f"openai:judge-a?base_url={srv.url}",
                                                                       f"openai:judge-b?base_url={srv.url}"],
                        per_domain=2, seed=3, generation=GenerationParams(max_tokens=50), concurrency=4)
        counters = await Runner(tmp_path / "run", cfg).execute(progress=False)
    assert counters.responses == 28 and counters.judgements == 56 and counters.judge_errors == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # judge a: 3/2/2, judge b: 5/4/4 -> jury mean 4/3/3, pss 10/3; spread 2 on every dimension
    assert summary["by_context"]["free"]["risk_sensitivity"]["mean"] == 4.0
    assert summary["by_context"]["rich"]["pss"]["mean"] == pytest.approx(10 / 3, abs=1e-4)
    assert summary["jury"] == {"items": 28, "mean_max_spread": 2.0, "items_spread_ge_2": 28}
    assert summary["by_context_domain"]["free"].keys() == {"Relationship", "Career", "Financial", "Social", "Health",
                                                            "Life", "Education"}
    requests = srv.requests
    responder = [r for r in requests if r["model"] == "m"]
    assert len(responder) == 28 and all(r["temperature"] == 0.7 and r["seed"] == 3 for r in responder)
    judges = [r for r in requests if r["model"] != "m"]
    assert all(r["temperature"] == 0.0 and r["response_format"]["type"] == "json_schema" for r in judges)
    # the judge always sees the full profile, also for context-free answers
    free_prompts = [r["messages"][-1]["content"] for r in judges if "Some background about me" not in r["messages"][-1]["content"]]
    assert all("Past Self-Harm History:" in p for p in free_prompts)


async def test_model_errors_are_recorded_not_scored(tmp_path):
    with ScriptedServer([401] * 100) as srv:
        cfg = RunConfig(model=f"openai:m?base_url={srv.url}", judges=[f"openai:judge-a?base_url={srv.url}"],
                        limit=2, concurrency=2)
        counters = await Runner(tmp_path / "run", cfg).execute(progress=False)
    assert counters.response_errors == 4 and counters.judgements == 0
    lines = [json.loads(x) for x in (tmp_path / "run" / "responses.jsonl").read_text().splitlines()]
    assert all("rejected the API key" in r["error"] and "text" not in r for r in lines)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_scored"] == 0 and summary["counts"]["response_errors"] == 4


async def test_unusable_responses_are_errors_and_never_hang(tmp_path):
    """A server that always answers 200 with a body that is not a chat completion: each call is
    tried max_attempts times, then recorded as an error."""
    import asyncio

    with ScriptedServer() as srv:
        srv.garbage = True
        opts = f"base_url={srv.url}&max_attempts=2"
        cfg = RunConfig(model=f"openai:m?{opts}", judges=[f"openai:judge-a?{opts}"], limit=3, concurrency=1)
        counters = await asyncio.wait_for(Runner(tmp_path / "run", cfg).execute(progress=False), 60)
        assert len(srv.requests) == 12  # 6 responses x 2 attempts
    assert counters.response_errors == 6
    lines = [json.loads(x) for x in (tmp_path / "run" / "responses.jsonl").read_text().splitlines()]
    assert all("gave up after 2 attempts: unusable response" in r["error"] for r in lines)


async def test_an_unreadable_200_is_retried_like_a_5xx():
    """Gateways send HTML or truncated JSON under 200; the next attempt usually works."""
    from penguin.models import ChatRequest
    from penguin.models.remote import RemoteModel

    with ScriptedServer() as srv:
        srv.garbage = 2
        model = RemoteModel("openai:m", f"{srv.url}/chat/completions", "m", srv.url, backoff_base=0.01)
        result = await model.generate(ChatRequest.chat(None, "hello", max_tokens=5))
        await model.aclose()
        assert len(srv.requests) == 3 and model.retries == 2
    assert result.text == "echo: hello"


async def test_resume_refuses_a_changed_dataset(tmp_path):
    from penguin.dataset.io import write_scenarios
    from penguin.dataset.sources import load_scenarios
    from penguin.errors import DataError

    data = tmp_path / "data.jsonl"
    write_scenarios(data, [s for _, s in zip(range(2), load_scenarios())])
    with ScriptedServer() as srv:
        cfg = RunConfig(model=f"openai:m?base_url={srv.url}", judges=[f"openai:judge-a?base_url={srv.url}"],
                        dataset=str(data), concurrency=1)
        await Runner(tmp_path / "run", cfg).execute(progress=False)
        write_scenarios(data, [s for _, s in zip(range(3), load_scenarios())])
        with pytest.raises(DataError, match="the dataset changed since the run started"):
            await Runner(tmp_path / "run", cfg, resume=True).execute(progress=False)


async def test_duplicate_ids_are_refused(tmp_path):
    from penguin.dataset.io import write_scenarios
    from penguin.dataset.sources import load_scenarios
    from penguin.errors import DataError

    s = next(iter(load_scenarios()))
    data = tmp_path / "dup.jsonl"
    write_scenarios(data, [s, s])
    cfg = RunConfig(model="openai:m?base_url=http://127.0.0.1:9/v1", judges=["openai:j?base_url=http://127.0.0.1:9/v1"],
                    dataset=str(data))
    with pytest.raises(DataError, match="occurs twice"):
        await Runner(tmp_path / "run", cfg).execute(progress=False)
    assert not (tmp_path / "run").exists()


def test_torn_last_line_is_repaired(tmp_path):
    from penguin.files import repair_jsonl

    p = tmp_path / "r.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    repair_jsonl(p)
    assert p.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    repair_jsonl(p)
    assert p.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    p.write_bytes(b'{"torn')
    repair_jsonl(p)
    assert p.read_bytes() == b""
