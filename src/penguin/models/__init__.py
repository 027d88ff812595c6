"""Chat models: one async interface, local and remote backends, a persistent cache."""

from .base import ChatModel, ChatRequest, ChatResult, Message
from .cache import CachedModel, ResponseCache, cache_key
from .spec import BACKENDS, DEFAULT_MODEL, load_model, parse_spec
from .usage import MeteredModel, Usage, metered

__all__ = [
    "BACKENDS", "DEFAULT_MODEL", "CachedModel", "ChatModel", "ChatRequest", "ChatResult",
    "Message", "MeteredModel", "ResponseCache", "Usage", "cache_key", "load_model", "metered", "parse_spec",
]
