"""Errors a user can act on. The CLI prints them as one line, without a traceback."""


class PenguinError(Exception):
    """Base class: the message alone must tell the user what is wrong and where."""


class ConfigError(PenguinError):
    """A bad model spec, a missing file or key, an unknown option value."""


class DataError(PenguinError):
    """A data file that cannot be read; the message names file, line and field."""


class ModelError(PenguinError):
    """A model call that failed for good (after retries, or not retryable).

    ``status`` (the endpoint's last HTTP status) and ``timed_out`` let `penguin serve`
    answer with the right status code without parsing the message."""

    def __init__(self, message: str, *, status: int | None = None, timed_out: bool = False):
        super().__init__(message)
        self.status, self.timed_out = status, timed_out
