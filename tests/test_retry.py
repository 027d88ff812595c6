"""``--retry-errors``: what failed is attempted again on resume, what finished is kept, nothing is
duplicated, the history stays in the folder, and a kill -9 during the retry is still safe. The
failures come from a scripted stand-in for a remote endpoint (a refusal that is not retried)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import penguin
from penguin.evaluation.folder import final_judgements, final_responses

from .scripted_server import ScriptedServer


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _no_duplicate_finished(run_dir: Path) -> None:
    """Each key has at most one record without an error (errors may be superseded, never a success)."""
    for name, key in (("responses.jsonl", ("scenario_id", "context")),
                      ("judgements.jsonl", ("scenario_id", "context", "judge"))):
        ok = Counter(tuple(r[k] for k in key) for r in _lines(run_dir / name) if not r.get("error"))
        assert max(ok.values(), default=1) == 1, name


def _spec(srv: ScriptedServer, name: str = "m") -> str:
    return f"openai:{name}?base_url={srv.url}&max_attempts=1"


def test_eval_errors_are_retried_and_recovered(tmp_path):
    with ScriptedServer([400] * 6) as srv:  # the first six calls are refused, then the endpoint recovers
        run = penguin.evaluate(_spec(srv), [_spec(srv, "judge-a")], limit=4, concurrency=1, run_dir=tmp_path / "r",
                               report=False)
        errors = run.summary.counts.response_errors + run.summary.counts.judge_errors
        assert errors > 0
        srv.script.clear()  # the endpoint has recovered
        again = penguin.resume(tmp_path / "r", retry_errors=True, report=False)
    assert again.summary.counts.response_errors == again.summary.counts.judge_errors == 0
    assert again.summary.last_session.retried == errors and again.summary.last_session.recovered == errors
    assert again.summary.n_scored == 8
    history = _lines(tmp_path / "r" / "responses.jsonl") + _lines(tmp_path / "r" / "judgements.jsonl")
    assert sum(bool(r.get("error")) for r in history) == errors  # the error records are kept, superseded
    _no_duplicate_finished(tmp_path / "r")
    # a plain resume redoes nothing
    before = (tmp_path / "r" / "responses.jsonl").read_text()
    penguin.resume(tmp_path / "r", report=False)
    assert (tmp_path / "r" / "responses.jsonl").read_text() == before


def test_a_resume_without_retry_keeps_the_errors(tmp_path):
    with ScriptedServer([400] * 3) as srv:
        penguin.evaluate(_spec(srv), [_spec(srv, "judge-a")], limit=3, concurrency=1, run_dir=tmp_path / "r",
                         report=False)
        again = penguin.resume(tmp_path / "r", report=False)
    assert again.summary.counts.response_errors + again.summary.counts.judge_errors == 3


def test_subset_analyses_retry_their_errored_subsets(tmp_path):
    with ScriptedServer([400] * 5) as srv:
        run = penguin.analyze_subsets(2, ["static", "random"], model=_spec(srv), judges=[_spec(srv, "judge-a")],
                                      limit=2, concurrency=1, run_dir=tmp_path / "s", report=False)
        assert run.summary.counts.response_errors + run.summary.counts.judge_errors > 0
        srv.script.clear()
        again = penguin.resume(tmp_path / "s", retry_errors=True, report=False)
    assert again.summary.counts.response_errors == again.summary.counts.judge_errors == 0
    assert all(c.value is not None for c in again.analysis.choices)
    _no_duplicate_finished(tmp_path / "s")


def test_plans_that_met_errors_are_planned_again(tmp_path):
    with ScriptedServer([400] * 4) as srv:
        plan = penguin.plan("uct", model=_spec(srv), judges=[_spec(srv, "judge-a")], iterations=4, depth=1,
                            limit=2, concurrency=1, confirm=False, run_dir=tmp_path / "p", report=False)
        assert any(r.unscorable or r.reward is None for r in plan.library())
        srv.script.clear()
        again = penguin.resume(tmp_path / "p", retry_errors=True, report=False)
    records = again.library()
    assert len(records) == 2 and all(r.reward is not None and r.unscorable == 0 for r in records)
    assert len(_lines(tmp_path / "p" / "library.jsonl")) > 2  # the first plans stay in the file, superseded


def test_raise_dialogues_that_failed_are_run_again(tmp_path):
    with ScriptedServer([400] * 3) as srv:
        def answers(body: dict) -> str:
            if "evaluator" in body["messages"][0]["content"]:
                return srv.verdict(body)
            return '{"score": 5}' if "How complete is this background" in body["messages"][-1]["content"] else "An answer."

        srv.responder = answers
        rr = penguin.raise_eval(None, variants=["vanilla", "agent"], gate=False, benign=False, model=_spec(srv),
                                judges=[_spec(srv, "judge-a")], limit=2, concurrency=1, run_dir=tmp_path / "rr",
                                report=False)
        failed = rr.summary.counts.response_errors + rr.summary.counts.judge_errors
        assert failed > 0
        srv.script.clear()
        again = penguin.resume(tmp_path / "rr", retry_errors=True, report=False)
    assert again.summary.counts.response_errors == again.summary.counts.judge_errors == 0
    assert all(v.errors == 0 for v in again.raise_summary.variants.values())
    _no_duplicate_finished(tmp_path / "rr")


def test_a_kill_during_the_retry_loses_and_duplicates_nothing(tmp_path):
    """Errors first; then a retry against a slow endpoint, killed mid-way; then the retry again."""
    with ScriptedServer([400] * 12) as srv:
        penguin.evaluate(_spec(srv), [_spec(srv, "judge-a")], limit=6, concurrency=1, run_dir=tmp_path / "r",
                         report=False)
        errors = sum(r.error is not None for r in final_responses(tmp_path / "r").values()) + \
            sum(j.error is not None for j in final_judgements(tmp_path / "r").values())
        assert errors > 0
        srv.script.clear()
        srv.delay = 0.4
        cmd = [sys.executable, "-m", "penguin", "eval", "--resume", str(tmp_path / "r"), "--retry-errors",
               "--no-progress", "--no-report"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        start = len(srv.requests)
        deadline = time.time() + 60
        while len(srv.requests) < start + 3 and time.time() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        srv.delay = 0.0
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    run = penguin.read_run(tmp_path / "r")
    assert run.summary.counts.response_errors == run.summary.counts.judge_errors == 0
    assert run.summary.n_scored == 12
    _no_duplicate_finished(tmp_path / "r")
