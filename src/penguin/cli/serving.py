"""`penguin serve`: RAISE as an OpenAI-compatible safety proxy in front of any chat model."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import List, Optional

import typer

from . import BaseUrlOpt, app, err_console, friendly
from .raising import (
    AbstentionOpt,
    LibraryOpt,
    ThresholdOpt,
    _agent_config,
    _library_file,
)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
@friendly
def serve_cmd(
    upstream: str = typer.Option(..., "--upstream", help="Model spec answering behind the proxy, e.g. "
                                                         "openai:gpt-4o-mini or local:smollm2."),
    base_url: Optional[str] = BaseUrlOpt,
    library: Optional[Path] = LibraryOpt,
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8000, min=1, max=65535),
    api_key_file: Optional[Path] = typer.Option(None, help="Accepted API keys, one per line (also "
                                                           "PENGUIN_API_KEYS, comma-separated)."),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth",
                                          help="Allow a non-loopback --host without any API key."),
    abstention: str = AbstentionOpt,
    threshold: int = ThresholdOpt,
    max_questions: int = typer.Option(3, min=0, max=10, help="Most clarifying questions per user query."),
    max_tokens: int = typer.Option(1024, min=1, help="Longest final answer (a client may ask for less)."),
    temperature: float = typer.Option(0.7, min=0.0, max=2.0, help="Default temperature of the final answer."),
    max_body_kb: int = typer.Option(256, min=1, help="Largest request body accepted (KB)."),
    max_messages: int = typer.Option(64, min=1, help="Most messages per request."),
    rate: float = typer.Option(60.0, min=0.001, help="Requests per minute per API key (per address without keys)."),
    burst: int = typer.Option(20, min=1, help="Requests a key may send at once after a pause."),
    cors_origin: List[str] = typer.Option([], "--cors-origin", help="Browser origin allowed to call the API "
                                                                    "(repeatable; default none)."),
    concurrency: int = typer.Option(16, min=1, help="Upstream requests in flight (per worker)."),
    timeout: float = typer.Option(120.0, min=1.0, help="Seconds to connect upstream, and to wait for each read "
                                                       "(a 504 once retries are spent)."),
    upstream_attempts: int = typer.Option(2, min=1, max=10, help="Attempts per upstream call (429, 5xx, timeouts "
                                                                  "are retried; a person is waiting)."),
    workers: int = typer.Option(1, min=1, max=64, help="Processes serving requests (stateless, so they share "
                                                       "the port; each enforces --rate on its own)."),
    served_model: str = typer.Option("penguin-raise", help="Model name the proxy reports in /v1/models."),
    log_level: str = typer.Option("info", help="debug, info, warning or error (contents are never logged)."),
) -> None:
    """Serve RAISE over the OpenAI API: it asks what matters for risky questions, then answers upstream."""
    import logging

    from ..errors import ConfigError
    from ..serve import Limits
    from ..serve.launch import ServeSettings, keys_for, run

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise ConfigError(f"--log-level must be debug, info, warning or error, not {log_level!r}")
    loopback = _loopback(host)
    settings = ServeSettings(
        upstream=upstream, base_url=base_url, library=_library_file(library),
        agent=_agent_config(abstention, threshold, max_questions,
                            generation={"max_tokens": max_tokens, "temperature": temperature}),
        limits=Limits(max_body_bytes=max_body_kb * 1000, max_messages=max_messages, rate_per_minute=rate,
                      burst=burst),
        api_key_file=str(api_key_file.resolve()) if api_key_file else None,
        require_keys=not loopback and not insecure_no_auth, cors_origins=cors_origin,
        allowed_hosts=["127.0.0.1", "localhost", "::1", "[::1]", host] if loopback else None,
        concurrency=concurrency, timeout=timeout, attempts=upstream_attempts, served_model=served_model,
        log_level=level)
    keys = keys_for(settings)
    if not keys:
        err_console.print("[yellow]no API key configured: anyone who can reach "
                          f"{host}:{port} can use the upstream model[/]")
    err_console.print(f"penguin serve: RAISE over {upstream} on http://{host}:{port}/ "
                      f"({'API key required' if keys else 'no auth'}"
                      f"{f', {workers} workers' if workers > 1 else ''})")
    run(settings, host, port, workers)
