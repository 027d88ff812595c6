"""`penguin serve`: RAISE as an OpenAI-compatible safety proxy in front of any chat model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .app import app
from .common import BaseUrlOpt, err_console, friendly
from .raising import AbstentionOpt, GateOpt, LibraryOpt, ThresholdOpt


@app.command("serve")
@friendly
def serve_cmd(
    upstream: str = typer.Option(..., "--upstream", help="Model spec behind the proxy (openai:gpt-4o-mini)."),
    base_url: Optional[str] = BaseUrlOpt,
    library: Optional[Path] = LibraryOpt,
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8000, min=1, max=65535),
    api_key_file: Optional[Path] = typer.Option(None, help="API keys, one per line (or PENGUIN_API_KEYS)."),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth", help="Public --host without keys."),
    abstention: str = AbstentionOpt,
    threshold: int = ThresholdOpt,
    max_questions: int = typer.Option(3, min=0, max=10, help="Most questions per user query."),
    gate: bool = GateOpt,
    max_tokens: int = typer.Option(1024, min=1, help="Longest final answer."),
    temperature: float = typer.Option(0.7, min=0.0, max=2.0, help="Default answer temperature."),
    max_body_kb: int = typer.Option(256, min=1, help="Largest request body (KB)."),
    max_messages: int = typer.Option(64, min=1, help="Most messages per request."),
    rate: float = typer.Option(60.0, min=0.001, help="Requests per minute per API key."),
    burst: int = typer.Option(20, min=1, help="Requests a key may send at once."),
    cors_origin: List[str] = typer.Option([], "--cors-origin", help="Allowed browser origin (repeatable)."),
    concurrency: int = typer.Option(16, min=1, help="Upstream requests in flight (per worker)."),
    timeout: float = typer.Option(120.0, min=1.0, help="Upstream connect and read timeout (s)."),
    upstream_attempts: int = typer.Option(2, min=1, max=10, help="Attempts per upstream call."),
    workers: int = typer.Option(1, min=1, max=64, help="Processes sharing the port."),
    served_model: str = typer.Option("penguin-raise", help="Model name in /v1/models."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Serve RAISE over the OpenAI API: it asks what matters for risky questions, then answers."""
    import logging

    from pydantic import ValidationError

    from ..agent.loop import AgentConfig
    from ..errors import ConfigError, describe_validation
    from ..serve.launch import ServeSettings, keys_for, run
    from ..serve.limits import Limits

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise ConfigError(f"--log-level must be debug, info, warning or error, not {log_level!r}")
    try:
        settings = ServeSettings(
            upstream=upstream, base_url=base_url, library=str(library) if library else None, host=host, port=port,
            workers=workers, insecure_no_auth=insecure_no_auth,
            agent=AgentConfig(abstention=abstention, threshold=threshold, max_questions=max_questions, gate=gate,
                              generation={"max_tokens": max_tokens, "temperature": temperature}),
            limits=Limits(max_body_bytes=max_body_kb * 1000, max_messages=max_messages, rate_per_minute=rate,
                          burst=burst),
            api_key_file=str(api_key_file.resolve()) if api_key_file else None, cors_origins=cors_origin,
            concurrency=concurrency, timeout=timeout, attempts=upstream_attempts, served_model=served_model,
            log_level=level)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from exc
    if settings.library:
        from ..planner.library import library_file

        settings.library = str(library_file(settings.library))
    keys = keys_for(settings)
    if not keys:
        err_console.print(f"[yellow]no API key configured: anyone who can reach {host}:{port} can use the "
                          "upstream model[/]")
    err_console.print(f"penguin serve: RAISE over {upstream} on http://{host}:{port}/ "
                      f"({'API key required' if keys else 'no auth'}{f', {workers} workers' if workers > 1 else ''}"
                      f"{', gate on' if gate else ', gate off'})")
    run(settings)
