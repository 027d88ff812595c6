"""Prompt templates: one Jinja file each, versioned in its header, hashed into every run."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("penguin", "prompts"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
    autoescape=False,
    auto_reload=False,  # the templates ship with the package; checking their mtimes costs a stat per render
)


def render(name: str, **variables: object) -> str:
    """Render ``prompts/<name>.j2``; a missing variable is an error, never an empty string."""
    return _ENV.get_template(f"{name}.j2").render(**variables).strip()


@cache
def template_hash(name: str) -> str:
    text = resources.files("penguin").joinpath(f"prompts/{name}.j2").read_bytes()
    return hashlib.sha256(text).hexdigest()[:16]


def hashes(*names: str) -> dict[str, str]:
    return {n: template_hash(n) for n in names}
