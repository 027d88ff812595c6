"""An OpenAI-compatible chat server that answers every request after a fixed delay
(optionally jittered, as real model latencies are).

It stands in for a remote endpoint so the benchmarks measure penguin's own overhead. Judge
prompts get a well-formed verdict, everything else a short answer.

    python benchmarks/fixed_delay_server.py --port 8011 --delay 0.2 [--jitter 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

VERDICT = json.dumps({
    "risk_sensitivity": {"justification": "Names the main risk.", "score": 3},
    "emotional_empathy": {"justification": "Warm.", "score": 4},
    "personalization": {"justification": "Partly tailored.", "score": 2},
})


CASE = re.compile(r"\(case (-?\d+)\)")


def make_app(delay: float, jitter: float = 0.0) -> Starlette:
    """``jitter``: each delay lies in delay * [1 - jitter, 1 + jitter]: a function of n for a
    request that mentions "(case n)" (so a benchmark can send case n twice and see the same
    delay), else drawn at random."""

    def delay_for(body: dict) -> float:
        found = CASE.search(json.dumps(body["messages"]))
        u = (int(found.group(1)) * 0.6180339887) % 1.0 if found else random.random()  # golden-ratio spread
        return delay * (1 - jitter + 2 * jitter * u)

    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        await asyncio.sleep(delay_for(body))
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        content = VERDICT if "evaluator" in system else "Thank you for sharing this. Here is a careful answer."
        payload = {
            "id": "bench", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
        return Response(json.dumps(payload), media_type="application/json")

    async def models(request: Request) -> Response:
        return Response(json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}),
                        media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--jitter", type=float, default=0.0, help="Relative spread of the delay (0-1).")
    args = parser.parse_args()
    uvicorn.run(make_app(args.delay, args.jitter), host="127.0.0.1", port=args.port, log_level="warning", backlog=2048)
