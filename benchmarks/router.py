"""The router's cost and rates: what routing one message adds once the embedding model is loaded
(a new message; a reply turn, where the query is cached from the turn before and the conversation
read whole is new), the held-out rates the artefact measured when it was built (its card), and
why the router's encoder runs as int8 ONNX: one message through the base model's weights in
torch, in onnxruntime, and in onnxruntime with int8 weights, on one thread.

    .venv/bin/python benchmarks/router.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from _util import table

from penguin.agent.router import Router, RouterConfig
from penguin.agent.router_training import SECTIONS, eval_items

QUERIES = [it.texts[0] for it in eval_items() if len(it.texts) == 1]


async def main(n: int) -> None:
    router = Router(RouterConfig())
    t0 = time.perf_counter()
    await router.route("warm up: load the model")
    load = time.perf_counter() - t0
    fresh, replay = [], []
    for q in QUERIES[:n]:
        t = time.perf_counter()
        await router.route(q)
        fresh.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await router.route(q, ["I'd rather not say."])  # the query is cached; the conversation text is new
        replay.append((time.perf_counter() - t) * 1000)
    pct = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    table([{"messages": n, "first load s": load, "new message p50 ms": pct(fresh, 50),
            "new message p95 ms": pct(fresh, 95), "reply turn p50 ms": pct(replay, 50),
            "reply turn p95 ms": pct(replay, 95), "LLM calls": 0}],
          "Routing cost after load (2 cores; one intra-op thread for single messages)")
    card = router.model.card["card"]
    rows = []
    for split in (s for s in SECTIONS if s in card):
        rows.append({"set": split, **{k: "–" if v["rate"] is None else v["rate"] for k, v in card[split].items()
                                      if isinstance(v, dict) and "rate" in v}})  # not the categories, nor the fingerprint
    table(rows, "Held-out rates in router.json's card (measured at build time, or later by remeasure)")
    encoders(QUERIES[:n])


def encoders(queries: list[str]) -> None:
    import copy

    import numpy as np
    import torch

    from penguin.agent.embeddings import embedding_model, mean_pooled, onnx_encoder
    from penguin.agent.router_training import export_onnx

    model = embedding_model()
    torch_model = copy.deepcopy(model[0].auto_model).eval()
    torch.set_num_threads(1)

    def in_torch(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return mean_pooled(torch_model, model.tokenizer, texts).numpy()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ways = {"torch fp32": in_torch}
        for name, int8 in (("onnxruntime fp32", False), ("onnxruntime int8", True)):
            export_onnx(torch_model, Path(tmp) / f"{name}.onnx", int8=int8)
            ways[name] = onnx_encoder(Path(tmp) / f"{name}.onnx")
        reference = {q: in_torch([q])[0] for q in queries}
        for name, encode in ways.items():
            encode(["warm up"])
            ms, cos = [], []
            for q in queries:
                t = time.perf_counter()
                v = encode([q])[0]
                ms.append((time.perf_counter() - t) * 1000)
                cos.append(float(v @ reference[q]))
            rows.append({"encoder": name, "p50 ms": statistics.median(ms),
                         "p95 ms": statistics.quantiles(ms, n=100)[94], "mean cosine to torch": f"{np.mean(cos):.4f}",
                         "lowest cosine": f"{min(cos):.4f}"})
    table(rows, "One message through all-MiniLM-L6-v2 (base weights, one thread)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(30 if args.quick else 300))
