"""Errors a user can act on. The CLI prints them as one line, without a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class PenguinError(Exception):
    """Base class: the message alone must tell the user what is wrong and where."""


class ConfigError(PenguinError):
    """A bad model spec, a missing file or key, an unknown option value."""


class DataError(PenguinError):
    """A data file that cannot be read; the message names file, line and field."""


class ModelError(PenguinError):
    """A model call that failed for good (after retries, or not retryable).

    ``status`` (the endpoint's last HTTP status), ``code`` (its error code, such as
    ``context_length_exceeded``), ``timed_out`` and ``retry_after`` (seconds, from a 429) let
    `penguin serve` answer with the right status code without parsing the message."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 timed_out: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.timed_out, self.retry_after = status, code, timed_out, retry_after


def describe_validation(exc: ValidationError, limit: int | None = None) -> str:
    """One clause per problem (the first ``limit``): ``field 'profile.Age': Field required``.
    Locations and pydantic's messages only, never the offending input."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        parts.append(f"field '{loc}': {err['msg']}")
    return "; ".join(parts)
