"""`penguin models` and `penguin cache`: the backends, a timed request, the response cache."""

from __future__ import annotations

import asyncio
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import cache_app, models_app
from .common import BaseUrlOpt, console, friendly


@models_app.command("list")
@friendly
def models_list() -> None:
    """Show the available backends and the bundled local models."""
    from ..models.local import BUNDLED
    from ..models.spec import BACKENDS

    table = Table(title="Backends", show_lines=True)
    table.add_column("backend")
    table.add_column("how to use")
    for name, text in BACKENDS.items():
        table.add_row(name, text)
    console.print(table)
    bundled = Table(title="Bundled local models")
    bundled.add_column("spec")
    bundled.add_column("model")
    for name, (_, _, _, desc) in BUNDLED.items():
        bundled.add_row(f"local:{name}", desc)
    console.print(bundled)


@models_app.command("check")
@friendly
def models_check(
    spec: str = typer.Argument(..., help="Model spec to check."),
    base_url: Optional[str] = BaseUrlOpt,
    max_tokens: int = typer.Option(48, help="Tokens to generate."),
) -> None:
    """Send one tiny request (bypassing the cache) and print latency and tokens/s."""
    from ..models import ChatRequest, load_model

    async def check() -> None:
        model = load_model(spec, base_url=base_url, cache=False)
        try:
            req = ChatRequest.chat(None, "In one sentence, what is a good way to start the day?",
                                   temperature=0.0, max_tokens=max_tokens, seed=0)
            result = await model.generate(req)
        finally:
            await model.aclose()
        rate = result.completion_tokens / result.latency_s if result.latency_s else 0.0
        console.print(f"[green]ok[/] {escape(f'{spec} ({model.identity[:40]})')}")
        console.print(f"answer: {escape(repr(result.text.strip()[:200]))}")
        console.print(f"latency {result.latency_s:.2f} s · prompt {result.prompt_tokens} tok · "
                      f"completion {result.completion_tokens} tok · {rate:.1f} tok/s")

    asyncio.run(check())


@cache_app.command("stats")
@friendly
def cache_stats() -> None:
    """Entries and size of the response cache, per model."""
    from ..models import ResponseCache

    stats = ResponseCache().stats()
    console.print(f"cache: {escape(str(stats['path']))}")
    console.print(f"entries: {stats['entries']} · on disk: {stats['bytes_on_disk'] / 1e6:.2f} MB")
    for model, n in stats["per_model"].items():  # type: ignore[union-attr]
        console.print(f"  {n:>8}  {model}")


@cache_app.command("clear")
@friendly
def cache_clear(model: Optional[str] = typer.Option(None, help="Only entries of this model identity.")) -> None:
    """Delete cached responses (all, or one model's)."""
    from ..models import ResponseCache

    n = ResponseCache().clear(model)
    console.print(f"removed {n} cached responses")
