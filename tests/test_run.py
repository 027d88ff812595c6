"""Evaluation runs end to end with the embedded model (slow): files, resume after kill -9,
and a report whose numbers match the JSONL."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from statistics import mean

import pytest

pytestmark = pytest.mark.slow

PENGUIN = str(Path(sys.executable).parent / "penguin")
ARGS = ["--limit", "3", "--max-tokens", "24", "--judge-max-tokens", "300", "--concurrency", "2", "--no-progress"]


def penguin(*args, cache: Path, wait=True):
    env = {**os.environ, "PENGUIN_CACHE_DIR": str(cache)}
    cmd = [PENGUIN, *args]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def records(run: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (run / name).read_text().splitlines()]


def comparable(run: Path):
    """What must not differ between an interrupted+resumed run and an uninterrupted one."""
    resp = sorted((r["scenario_id"], r["context"], r["text"]) for r in records(run, "responses.jsonl"))
    judg = sorted((j["scenario_id"], j["context"], j["judge"], json.dumps(j.get("scores"), sort_keys=True), j.get("error"))
                  for j in records(run, "judgements.jsonl"))
    return resp, judg


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache-a")
    res = penguin("eval", *ARGS, "--out", str(root), cache=cache)
    assert res.returncode == 0, res.stderr
    (run,) = root.iterdir()
    return run, cache


def test_run_folder_contents(full_run):
    full_run, _ = full_run
    manifest = json.loads((full_run / "manifest.json").read_text())
    assert manifest["config"]["model"] == "local:smollm2" and manifest["n_items"] == 6
    assert set(manifest["prompt_hashes"]) == {"respond_system", "respond_user", "judge_system", "judge_user"}
    assert len(manifest["dataset_sha256"]) == 64 and manifest["model_identities"]["local:smollm2"].startswith("gguf:")
    resp = records(full_run, "responses.jsonl")
    judg = records(full_run, "judgements.jsonl")
    assert Counter((r["scenario_id"], r["context"]) for r in resp).most_common(1)[0][1] == 1
    assert {r["context"] for r in resp} == {"free", "rich"} and len(resp) == 6 and len(judg) == 6
    assert all(r["text"] and r["completion_tokens"] <= 24 and r["seed"] == 0 for r in resp)
    for j in judg:
        assert (j.get("scores") is None) != (j.get("error") is None)  # a score or an error, never both


def test_summary_and_report_match_the_jsonl(full_run):
    full_run, _ = full_run
    judg = [j for j in records(full_run, "judgements.jsonl") if j.get("scores")]
    by_ctx: dict[str, list[float]] = {}
    for j in judg:
        s = j["scores"]
        pss = (s["risk_sensitivity"]["score"] + s["emotional_empathy"]["score"] + s["personalization"]["score"]) / 3
        by_ctx.setdefault(j["context"], []).append(pss)
    summary = json.loads((full_run / "summary.json").read_text())
    for ctx, values in by_ctx.items():
        assert summary["by_context"][ctx]["pss"]["mean"] == pytest.approx(mean(values), abs=1e-4)
        assert summary["by_context"][ctx]["pss"]["n"] == len(values)
    md = (full_run / "report.md").read_text()
    for ctx, values in by_ctx.items():
        label = {"free": "context-free", "rich": "context-rich"}[ctx]
        row = re.search(rf"\| local:smollm2 \| {label} \| (\d\.\d\d) \(", md)
        assert row and float(row.group(1)) == pytest.approx(mean(values), abs=0.006)
    html = (full_run / "report.html").read_text()
    assert "not validated" in html and "<svg" in html and "http://" not in html.split("<svg")[0].lower().replace(
        'xmlns="http://www.w3.org', "")


def test_rerun_is_served_from_the_cache(full_run, tmp_path):
    full_run, cache = full_run
    # the same config against the same cache: every model call is a cache hit
    res = penguin("eval", *ARGS, "--out", str(tmp_path), cache=cache)
    assert res.returncode == 0, res.stderr
    (run,) = tmp_path.iterdir()
    assert all(r["cached"] for r in records(run, "responses.jsonl"))
    assert comparable(run) == comparable(full_run)


def test_kill_9_then_resume_equals_an_uninterrupted_run(full_run, tmp_path):
    full_run, _ = full_run
    root = tmp_path / "runs"
    cache = tmp_path / "cache-b"  # a cold cache: the resumed run really recomputes
    proc = penguin("eval", *ARGS, "--out", str(root), cache=cache, wait=False)
    deadline = time.time() + 600
    while time.time() < deadline:
        runs = list(root.glob("*/judgements.jsonl")) if root.exists() else []
        if runs and len(runs[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (run,) = root.iterdir()
    assert len(records(run, "judgements.jsonl")) < 6  # really interrupted
    res = penguin("eval", "--resume", str(run), "--no-progress", cache=cache)
    assert res.returncode == 0, res.stderr
    assert comparable(run) == comparable(full_run)
