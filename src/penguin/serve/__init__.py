"""`penguin serve`: the RAISE agent as an OpenAI-compatible safety proxy, with a web chat page."""

from .app import create_app
from .limits import Limits, load_keys

__all__ = ["Limits", "create_app", "load_keys"]
