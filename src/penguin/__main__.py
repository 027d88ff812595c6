"""python -m penguin: the same as the penguin command."""

from .cli import app

app(prog_name="penguin")
