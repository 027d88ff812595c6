"""Asking a model for JSON that follows a schema, with retries and honest failure.

Backends that can enforce a schema (llama.cpp grammars, OpenAI ``json_schema``) get it as a
constraint; the answer is always parsed and checked here too, because a constraint fixes
the format, not the content. Each retry changes the seed so the cache cannot replay it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..errors import ModelError
from .base import ChatModel, ChatRequest, Message

_DECODER = json.JSONDecoder(strict=False)


RETRY_TEMPERATURE = 0.5


def attempt_temperature(temperature: float, attempt: int) -> float:
    """The first attempt uses the caller's temperature; a retry samples at least at
    RETRY_TEMPERATURE, because greedy decoding would repeat the answer that just failed."""
    return temperature if attempt == 0 else max(temperature, RETRY_TEMPERATURE)


class StructuredOutputError(ModelError):
    """The model did not produce valid JSON for the schema after every attempt."""


def extract_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (code fences and prose around it are ignored)."""
    start = text.find("{")
    while start != -1:
        depth = 0
        in_str = escape = False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if escape:
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:  # strict=False: raw newlines inside strings are common and harmless
                        return _DECODER.decode(text[start : i + 1])
                    except json.JSONDecodeError:
                        break
        start = text.find("{", start + 1)
    raise ValueError("no JSON object found")


async def ask_json(
    model: ChatModel,
    system: str,
    user: str,
    schema: dict[str, Any],
    *,
    check: Callable[[Any], Any] | None = None,
    seed: int = 0,
    temperature: float = 0.0,
    max_tokens: int = 512,
    attempts: int = 3,
) -> tuple[Any, int]:
    """Return (parsed value, attempts used). ``check`` may transform the value or raise
    ValueError to reject it (e.g. a relational constraint), which triggers a retry."""
    problems: list[str] = []
    for attempt in range(attempts):
        request = ChatRequest(
            messages=(Message(role="system", content=system), Message(role="user", content=user)),
            temperature=attempt_temperature(temperature, attempt),
            max_tokens=max_tokens,
            seed=seed + attempt,
            json_schema=schema if model.supports_json_schema else None,
        )
        result = await model.generate(request)
        try:
            value = extract_json_object(result.text)
            if check is not None:
                value = check(value)
            return value, attempt + 1
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(str(exc)[:160])
    raise StructuredOutputError(f"{model.spec}: no valid answer after {attempts} attempts: " + " | ".join(problems))
