"""Model spec strings: ``local:smollm2``, ``local:/path/m.gguf``, ``openai:gpt-4o-mini``,
``azure:my-deployment``; options after ``?`` (``openai:m?base_url=http://...&concurrency=8``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode

from ..errors import ConfigError
from .base import ChatModel
from .cache import CachedModel, ResponseCache
from .usage import MeteredModel

DEFAULT_MODEL = "local:smollm2"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"

BACKENDS: dict[str, str] = {
    "local": "in-process GGUF via llama-cpp-python: local:smollm2 (bundled) or local:/path/model.gguf"
    " · options: n_ctx, threads",
    "openai": "any OpenAI-compatible server: openai:<model> with --base-url / OPENAI_BASE_URL, key from"
    " OPENAI_API_KEY · options: base_url, api_key_env, concurrency, timeout, max_attempts, grammar_field,"
    " json_format (json_schema | json_object | none)",
    "azure": "Azure OpenAI: azure:<deployment>, AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY,"
    " OPENAI_API_VERSION · options: endpoint, api_version, concurrency, timeout, max_attempts, json_format",
    "mock": "scripted replies for your own tests: mock:<name> after penguin.models.mock.register(name, replies),"
    " or mock:default (an echo; schema requests get their first allowed values); never cached",
}

_OPTIONS: dict[str, dict[str, type]] = {
    "local": {"n_ctx": int, "threads": int},
    "openai": {"base_url": str, "api_key_env": str, "concurrency": int, "timeout": float,
               "max_attempts": int, "grammar_field": str, "json_format": str},
    "azure": {"endpoint": str, "api_version": str, "concurrency": int, "timeout": float,
              "max_attempts": int, "json_format": str},
    "mock": {},
}


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    target: str
    options: dict[str, object] = field(default_factory=dict)
    text: str = ""


def parse_spec(text: str) -> ModelSpec:
    """Parse and validate a spec string; every mistake is a ConfigError naming the part."""
    raw = text.strip()
    if ":" not in raw:
        raise ConfigError(
            f"malformed model spec {text!r}: expected BACKEND:TARGET, e.g. local:smollm2 or openai:gpt-4o-mini"
        )
    backend, rest = raw.split(":", 1)
    backend = backend.lower()
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} in {text!r} (choose from: {', '.join(BACKENDS)})")
    target, _, query = rest.partition("?")
    if not target.strip():
        raise ConfigError(f"malformed model spec {text!r}: nothing after '{backend}:'")
    options: dict[str, object] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        kind = _OPTIONS[backend].get(key)
        if kind is None:
            allowed = ", ".join(_OPTIONS[backend]) or "none"
            raise ConfigError(f"unknown option {key!r} for {backend} in {text!r} (allowed: {allowed})")
        try:
            options[key] = kind(value)
        except ValueError as exc:
            raise ConfigError(f"option {key}={value!r} in {text!r} is not a valid {kind.__name__}") from exc
        if kind in (int, float) and options[key] <= 0:  # type: ignore[operator]
            raise ConfigError(f"option {key}={value!r} in {text!r} must be positive")
    return ModelSpec(backend, target.strip(), options, raw)


def load_model(
    text: str,
    *,
    base_url: str | None = None,
    cache: ResponseCache | bool = True,
    concurrency: int | None = None,
    timeout: float | None = None,
    max_attempts: int | None = None,
) -> ChatModel:
    """Build the model a spec names, wrapped in the response cache unless ``cache=False``,
    and metered (models/usage.py)."""
    spec = parse_spec(text)
    opts = dict(spec.options)
    if spec.backend == "mock":
        from .mock import MockModel

        return MeteredModel(MockModel(spec.text, spec.target))
    if spec.backend != "local":  # the in-process model serialises its calls anyway
        if concurrency is not None:
            opts.setdefault("concurrency", concurrency)
        if timeout is not None:
            opts.setdefault("timeout", timeout)
        if max_attempts is not None:
            opts.setdefault("max_attempts", max_attempts)
    model: ChatModel
    if spec.backend == "local":
        from .local import LocalModel

        model = LocalModel(spec.text, spec.target, **opts)  # type: ignore[arg-type]
    elif spec.backend == "openai":
        model = _openai(spec, opts, base_url)
    else:
        model = _azure(spec, opts)
    if cache is not False:
        model = CachedModel(model, cache if isinstance(cache, ResponseCache) else ResponseCache())
    return MeteredModel(model)


def _remote_kwargs(opts: dict[str, object]) -> dict[str, object]:
    return {k: opts[k] for k in ("concurrency", "timeout", "max_attempts", "grammar_field", "json_format") if k in opts}


def _openai(spec: ModelSpec, opts: dict[str, object], base_url: str | None) -> ChatModel:
    from .remote import RemoteModel

    url = str(opts.get("base_url") or base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL).rstrip("/")
    key_env = str(opts.get("api_key_env", "OPENAI_API_KEY"))
    key = os.environ.get(key_env)
    if not key and url == OPENAI_DEFAULT_URL:
        raise ConfigError(
            f"{spec.text}: no API key; set {key_env}, or point --base-url / OPENAI_BASE_URL "
            "at your own OpenAI-compatible server"
        )
    headers = {"Authorization": f"Bearer {key}"} if key else {}  # local servers usually need none
    for env, header in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
        if os.environ.get(env):  # as the openai client sends them
            headers[header] = os.environ[env]
    return RemoteModel(spec.text, f"{url}/chat/completions", spec.target, url, headers=headers,
                       **_remote_kwargs(opts))  # type: ignore[arg-type]


def _azure(spec: ModelSpec, opts: dict[str, object]) -> ChatModel:
    from .remote import RemoteModel

    endpoint = str(opts.get("endpoint") or os.environ.get("AZURE_OPENAI_ENDPOINT") or "").rstrip("/")
    key = os.environ.get("AZURE_OPENAI_API_KEY")
    if not endpoint:
        raise ConfigError(f"{spec.text}: set AZURE_OPENAI_ENDPOINT or add ?endpoint=https://... to the spec")
    if not key:
        raise ConfigError(f"{spec.text}: no API key; set AZURE_OPENAI_API_KEY")
    version = str(opts.get("api_version") or os.environ.get("OPENAI_API_VERSION") or "2024-10-21")
    url = f"{endpoint}/openai/deployments/{quote(spec.target, safe='')}/chat/completions?{urlencode({'api-version': version})}"
    return RemoteModel(spec.text, url, spec.target, endpoint, headers={"api-key": key},
                       **_remote_kwargs(opts))  # type: ignore[arg-type]
