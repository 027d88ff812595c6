"""Shared fixtures. Tests use a private response cache so they never touch the user's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PENGUIN_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache shared across slow tests, so the embedded model answers each prompt once."""
    return tmp_path_factory.mktemp("shared-cache")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smollm2_path() -> Path:
    from penguin.models.local import bundled_path

    return bundled_path("smollm2")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    """A real OpenAI-compatible server (llama-cpp-python's) on 127.0.0.1 serving the embedded weights."""
    port = free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("llama_cpp.server exited: " + open(log.name, errors="replace").read()[-2000:])
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=1) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("llama_cpp.server did not start in 90 s")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def llama_spec(url: str) -> str:
    """A model spec for ``llama_server``'s URL."""
    return f"openai:smollm2?base_url={url}&json_format=json_object&grammar_field=grammar&concurrency=2"


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
