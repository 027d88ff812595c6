"""The ``penguin`` command and its groups; commands register themselves from their modules."""

from __future__ import annotations

import typer

from .. import __version__
from .common import console

SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# Plain help (click's formatter), not rich panels: it wraps long option names and help text at
# any terminal width, where the panels cut flag names short at 80 columns ("--judge-max-toke…").
PLAIN = None


def group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, context_settings=SETTINGS, rich_markup_mode=PLAIN)


app = typer.Typer(
    help="penguin: benchmark and improve the personalized safety of LLMs (PENGUIN + RAISE).",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, context_settings=SETTINGS,
    rich_markup_mode=PLAIN,
)
models_app = group("List backends and check that a model answers.")
cache_app = group("Inspect or clear the response cache.")
data_app = group("Build, import, export, validate, audit and describe PENGUIN data.")
analyze_app = group("Which attributes matter: one at a time, subsets, Shapley values.")
raise_app = group("Evaluate, calibrate and route the RAISE agent.")
for sub, name in ((models_app, "models"), (cache_app, "cache"), (data_app, "data"), (analyze_app, "analyze"),
                  (raise_app, "raise")):
    app.add_typer(sub, name=name)


def _version(value: bool) -> None:
    if value:
        console.print(f"penguin {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """penguin: personalized safety for LLMs."""
