"""`penguin serve`: the RAISE agent as an OpenAI-compatible safety proxy, with a web chat page.

``create_app`` needs the serve extra (FastAPI); it is imported on first use, so the settings and
their security policy (``launch.ServeSettings``) load without it.
"""

from typing import Any

__all__ = ["Limits", "create_app", "load_keys"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - PEP 562
    if name == "create_app":
        try:
            from .app import create_app
        except ImportError as exc:
            from ..errors import ConfigError

            raise ConfigError("penguin serve needs the serve extra: pip install 'penguin-safety[serve]'") from exc
        return create_app
    if name in ("Limits", "load_keys"):
        from . import limits

        return getattr(limits, name)
    raise AttributeError(f"module 'penguin.serve' has no attribute {name!r}")
