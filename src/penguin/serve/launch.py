"""How `penguin serve` starts: its settings become an app, in one process or in several workers.

The proxy keeps no state between requests, so N worker processes can share one listening
socket (uvicorn's supervisor) and use N cores. uvicorn starts workers fresh (spawn), so each
rebuilds the app from the settings, passed in an environment variable; API keys are not among
them: each worker reads them again from ``PENGUIN_API_KEYS`` or the key file.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

from ..agent.loop import AgentConfig
from ..errors import ConfigError, PenguinError
from .limits import Limits, load_keys

SETTINGS_ENV = "PENGUIN_SERVE_SETTINGS"


class ServeSettings(BaseModel):
    upstream: str
    base_url: str | None = None
    library: str | None = None
    agent: AgentConfig = AgentConfig()
    limits: Limits = Limits()
    api_key_file: str | None = None
    require_keys: bool = False
    """A public address: refuse to start without keys (each worker checks what it read)."""
    cors_origins: list[str] = []
    allowed_hosts: list[str] | None = None
    concurrency: int = 16
    timeout: float = 120.0
    attempts: int = 2
    """Upstream attempts per call: a person is waiting, so fail fast rather than back off for minutes."""
    served_model: str = "penguin-raise"
    log_level: int = logging.INFO


def build(settings: ServeSettings) -> FastAPI:
    """The app for these settings: the upstream model (no response cache: nothing users write
    reaches the disk), the path library's retriever if any, the keys."""
    from ..agent.retriever import Retriever
    from ..models import load_model
    from .app import create_app

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model = load_model(settings.upstream, base_url=settings.base_url, cache=False,
                       concurrency=settings.concurrency, timeout=settings.timeout, max_attempts=settings.attempts)
    retriever = Retriever(Path(settings.library)) if settings.library else None
    keys = keys_for(settings)
    app = create_app(model, settings.agent, retriever=retriever, keys=keys, limits=settings.limits,
                     cors_origins=settings.cors_origins, allowed_hosts=settings.allowed_hosts,
                     served_model=settings.served_model)
    gc.collect()
    gc.freeze()  # modules, model and index live as long as the server: no collection need scan them again
    return app


def keys_for(settings: ServeSettings) -> frozenset[str]:
    """The accepted API keys; none on a public address is an error."""
    keys = load_keys(Path(settings.api_key_file) if settings.api_key_file else None)
    if settings.require_keys and not keys:
        raise ConfigError("refusing to serve a public address without an API key: set PENGUIN_API_KEYS or "
                          "--api-key-file (or pass --insecure-no-auth if something else guards access)")
    return keys


def worker_app() -> FastAPI:
    """uvicorn's factory in each worker process."""
    try:
        return build(ServeSettings.model_validate_json(os.environ[SETTINGS_ENV]))
    except Exception as exc:  # noqa: BLE001 - say why in one line, then stop every worker
        logging.getLogger("penguin.serve").error("worker failed to start: %s",
                                                 exc if isinstance(exc, PenguinError) else type(exc).__name__)
        sys.exit(3)  # uvicorn's STARTUP_FAILURE: the supervisor stops instead of restarting it forever


def check_for_workers(settings: ServeSettings) -> None:
    """Fail here, once and clearly, rather than in N workers (the caller has checked the keys
    with ``keys_for``); and build the path library's index once, before N workers would each
    build it."""
    from ..agent.retriever import Retriever, embedding_model
    from ..models import load_model, parse_spec

    if parse_spec(settings.upstream).backend == "local":
        raise ConfigError("--workers needs a remote upstream: each worker would load the embedded model")
    load_model(settings.upstream, base_url=settings.base_url, cache=False)  # a bad spec or a missing key
    if settings.library:
        Retriever(Path(settings.library))
        embedding_model.cache_clear()  # the supervisor serves nothing: let the workers hold the model


def run(settings: ServeSettings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    options = dict(host=host, port=port, log_level=settings.log_level, access_log=False, server_header=False,
                   proxy_headers=False)
    if workers == 1:
        uvicorn.run(build(settings), **options)  # type: ignore[arg-type]
        return
    check_for_workers(settings)
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
