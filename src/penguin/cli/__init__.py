"""The ``penguin`` command: thin wrappers that parse options and call the Python API."""

from __future__ import annotations

from . import data, evaluation, models, planning, raising, serving  # noqa: F401 - they register their commands
from .app import app

__all__ = ["app"]
