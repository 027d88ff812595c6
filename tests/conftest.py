"""Shared fixtures. Tests use a private response cache so they never touch the user's."""

from __future__ import annotations

import os
import socket
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


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
