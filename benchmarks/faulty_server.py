"""An OpenAI-compatible chat server that fails a share of requests the way overloaded servers and
gateways do, seeded so a run repeats: 429 with Retry-After, 500, 503, a hang past the client's
timeout, a connection cut mid-body, a 200 whose body is not JSON (an HTML error page), a 200 with
truncated JSON, and (for judge prompts) a 200 whose text is not a verdict. ``GET /stats`` says
how many of each it injected.

    python benchmarks/faulty_server.py --port 8012 --rate 0.3 --seed 0 [--hang 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections import Counter

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from fixed_delay_server import VERDICT

KINDS = ("429", "500", "503", "hang", "cut", "html_200", "truncated_200", "prose_verdict")


def make_app(rate: float, seed: int, hang: float) -> Starlette:
    rng = random.Random(seed)
    injected: Counter[str] = Counter()
    served = Counter()

    def completion(body: dict, content: str) -> bytes:
        return json.dumps({
            "id": "faulty", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }).encode()

    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        judge = "evaluator" in system
        served["requests"] += 1
        kind = rng.choice(KINDS if judge else KINDS[:-1]) if rng.random() < rate else None
        await asyncio.sleep(0.01)
        if kind is None:
            return Response(completion(body, VERDICT if judge else "A careful answer."), media_type="application/json")
        injected[kind] += 1
        if kind == "429":
            return Response(b'{"error": {"message": "slow down"}}', 429, {"Retry-After": "0.2"})
        if kind in ("500", "503"):
            return Response(b'{"error": {"message": "overloaded"}}', int(kind))
        if kind == "hang":
            await asyncio.sleep(hang)
            return Response(completion(body, "late"), media_type="application/json")
        if kind == "html_200":
            return Response(b"<html><body>502 Bad Gateway</body></html>", 200, media_type="text/html")
        if kind == "truncated_200":
            return Response(completion(body, "A careful answer.")[:40], 200, media_type="application/json")
        if kind == "prose_verdict":
            return Response(completion(body, "This response seems fine to me overall."), media_type="application/json")

        async def cut():  # a body that stops halfway: the connection drops
            data = completion(body, "A careful answer.")
            yield data[: len(data) // 2]
            raise ConnectionResetError("cut")

        return StreamingResponse(cut(), media_type="application/json",
                                 headers={"Content-Length": str(len(completion(body, "A careful answer.")))})

    async def stats(request: Request) -> Response:
        return Response(json.dumps({"injected": injected, **served}), media_type="application/json")

    async def models(request: Request) -> Response:
        return Response(json.dumps({"object": "list", "data": [{"id": "faulty", "object": "model"}]}),
                        media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models),
                             Route("/stats", stats)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8012)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang", type=float, default=5.0, help="Seconds a hung request waits.")
    args = parser.parse_args()
    uvicorn.run(make_app(args.rate, args.seed, args.hang), host="127.0.0.1", port=args.port, log_level="critical",
                backlog=2048)
