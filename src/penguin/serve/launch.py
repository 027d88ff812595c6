"""How `penguin serve` starts: its settings become an app, in one process or in several workers.

The proxy keeps no state between requests, so N worker processes can share one listening
socket (uvicorn's supervisor) and use N cores. uvicorn starts workers fresh (spawn), so each
rebuilds the app from the settings, passed in an environment variable; API keys are not among
them: each worker reads them again from ``PENGUIN_API_KEYS`` or the key file.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, model_validator

from ..agent.loop import AgentConfig
from ..errors import ConfigError, PenguinError
from .limits import Limits, load_keys

if TYPE_CHECKING:
    from fastapi import FastAPI

SETTINGS_ENV = "PENGUIN_SERVE_SETTINGS"


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServeSettings(BaseModel):
    """Everything ``penguin serve`` needs; the security policy is derived here, once, from the
    address, for the CLI and the Python API alike:
    - on loopback, no key is required and only loopback Host names are accepted (a page on a
      public site cannot reach the server through DNS rebinding);
    - on any other address, keys are required (``PENGUIN_API_KEYS`` or ``api_key_file``): the
      server refuses to start without one, unless ``insecure_no_auth=True`` says something else
      guards access;
    - CORS is closed unless ``cors_origins`` names the pages allowed to call it."""

    upstream: str
    base_url: str | None = None
    library: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    agent: AgentConfig = AgentConfig()
    limits: Limits = Limits()
    api_key_file: str | None = None
    insecure_no_auth: bool = False
    cors_origins: list[str] = []
    concurrency: int = 16
    timeout: float = 120.0
    attempts: int = 2
    """Upstream attempts per call: a person is waiting, so fail fast rather than back off for minutes."""
    served_model: str = "penguin-raise"
    log_level: int = logging.INFO
    require_keys: bool = False
    """Derived: a public address without ``insecure_no_auth`` (each worker checks what it read)."""
    allowed_hosts: list[str] | None = None
    """Derived: the loopback names (and the host) on loopback; None (any) elsewhere."""

    @model_validator(mode="after")
    def _policy(self) -> "ServeSettings":
        loopback = is_loopback(self.host)
        self.require_keys = not loopback and not self.insecure_no_auth
        self.allowed_hosts = sorted({*LOOPBACK_NAMES, self.host}) if loopback else None
        if self.library is not None:
            self.library = str(Path(self.library).expanduser().resolve())
        return self


def build(settings: ServeSettings) -> "FastAPI":
    """The app for these settings: the upstream model (no response cache: nothing users write
    reaches the disk), the path library's retriever if any, the keys."""
    from ..agent.retriever import Retriever
    from ..models import load_model
    from .app import create_app

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model = load_model(settings.upstream, base_url=settings.base_url, cache=False,
                       concurrency=settings.concurrency, timeout=settings.timeout, max_attempts=settings.attempts)
    retriever = Retriever(Path(settings.library)) if settings.library else None
    if settings.agent.gate:  # load the router and its embedding model now, not on the first request
        from ..agent.embeddings import embed_cached
        from ..agent.router import default_model

        default_model().embedder.cached(["warm up"])  # the router's encoder session
        embed_cached(["warm up"])  # the base model, which the retriever uses
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


def worker_app() -> "FastAPI":
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
    from ..agent.embeddings import embedding_model
    from ..agent.retriever import Retriever
    from ..models import load_model, parse_spec

    if parse_spec(settings.upstream).backend == "local":
        raise ConfigError("--workers needs a remote upstream: each worker would load the embedded model")
    load_model(settings.upstream, base_url=settings.base_url, cache=False)  # a bad spec or a missing key
    if settings.library:
        Retriever(Path(settings.library))
        embedding_model.cache_clear()  # the supervisor serves nothing: let the workers hold the model


def run(settings: ServeSettings) -> None:
    """Serve until interrupted. Refuses to start on a public address without a key (``keys_for``)."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ConfigError("penguin serve needs the serve extra: pip install 'penguin-safety[serve]'") from exc

    keys_for(settings)
    options = dict(host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False,
                   server_header=False, proxy_headers=False)
    if settings.workers == 1:
        uvicorn.run(build(settings), **options)  # type: ignore[arg-type]
        return
    check_for_workers(settings)
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.workers, **options)  # type: ignore[arg-type]
