"""What every command shares: consoles, the one-line error handler, option declarations.

Library errors name parameters (``per_domain``); ``friendly`` shows them as the flags a user
types (``--per-domain``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Callable, List, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import PenguinError

F = TypeVar("F", bound=Callable[..., object])

console = Console()
err_console = Console(stderr=True)
_FIELD = re.compile(r"(?:^|(?<=; ))field '(?:[a-z_]+\.)*([a-z_]+)'")


def as_flags(message: str) -> str:
    """``field 'per_domain': ...`` -> ``--per-domain: ...`` (nested fields by their last name):
    the library's words in the CLI's terms. Only a parameter's error starts with ``field``; a data
    file's names its location first, and its fields stay as they are."""
    return _FIELD.sub(lambda m: "--" + m.group(1).replace("_", "-"), message)


def friendly(fn: F) -> F:
    """Turn PenguinErrors (and Ctrl-C) into one clear line and a non-zero exit. Messages are
    escaped: an install line's ``[local]`` is text, not rich markup."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)
        except PenguinError as exc:
            err_console.print(f"[bold red]error:[/] {escape(as_flags(str(exc)))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # unwritable output folder, full disk...
            where = f": {exc.filename}" if exc.filename else ""
            err_console.print(f"[bold red]error:[/] {escape(f'{exc.strerror or exc}{where}')}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: finished records are saved (continue with --resume RUN)")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def split(text: Optional[str]) -> Optional[list[str]]:
    """A comma-separated option as a list (None stays None)."""
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


ModelOpt = typer.Option("local:smollm2", "--model", "-m", help="Model spec (local:smollm2, openai:gpt-4o...).")
JudgeOpt = typer.Option(["local:smollm2"], "--judge", "-j", help="Judge spec; repeat for a jury.")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible server URL (else OPENAI_BASE_URL).")
DatasetOpt = typer.Option(None, "--dataset", help="Scenario file or hf:OWNER/NAME; default: bundled.")
DomainsOpt = typer.Option(None, "--domains", help="Comma-separated domains (any case).")
LimitOpt = typer.Option(None, "--limit", help="First N scenarios.")
SampleOpt = typer.Option(None, "--sample", help="N scenarios drawn at random (with --seed).")
PerDomainOpt = typer.Option(None, "--per-domain", help="N scenarios drawn per domain (with --seed).")
SeedOpt = typer.Option(0, "--seed", help="Seed for sampling and generation.")
JudgeMaxTokensOpt = typer.Option(1024, "--judge-max-tokens", help="Max tokens per judgement.")
ConcurrencyOpt = typer.Option(8, "--concurrency", min=1, help="Scenarios in flight.")
OutOpt = typer.Option(Path("runs"), "--out", help="Folder for run folders.")
ResumeOpt = typer.Option(None, "--resume", help="Continue this run folder.")
RetryOpt = typer.Option(False, "--retry-errors", help="With --resume: retry what failed.")
ProgressOpt = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")
ReportOpt = typer.Option(True, "--report/--no-report", help="Write report.html.")
SamplesOpt = typer.Option(True, "--samples/--no-samples", help="Sample items in the report.")
SplitOpt = typer.Option("online", "--split", help="Query split: plan, dev, online or all.")
JudgesList = List[str]
