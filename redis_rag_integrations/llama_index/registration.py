"""``register()``: wire every Redis component into LlamaIndex's global ``Settings`` in one call."""

from __future__ import annotations

from dataclasses import dataclass

from llama_index.core import Settings as LISettings
from llama_index.core import StorageContext
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM

from ..embeddings import Embedder, default_embedder
from ..settings import Settings, get_settings
from ..store.layout import FieldType
from ..urls import redis_url as resolve_url
from .chat_store import RedisChatStore
from .embeddings import RagEmbedding, as_embedder
from .llm import SemanticCacheLLM
from .vector_store import RedisVectorStore


@dataclass
class LlamaIndexComponents:
    """What :func:`register` built: ``VectorStoreIndex.from_documents(docs, storage_context=storage_context)``
    or ``VectorStoreIndex.from_vector_store(vector_store)``; ``chat_store`` for ``ChatMemoryBuffer``."""

    vector_store: RedisVectorStore
    storage_context: StorageContext
    chat_store: RedisChatStore
    llm: SemanticCacheLLM | None
    redis_url: str


def register(
    *,
    llm: LLM | None = None,
    embed_model: BaseEmbedding | Embedder | None = None,
    index_name: str | None = None,
    redis_url: str | None = None,
    settings: Settings | None = None,
    metadata_fields: dict[str, FieldType] | None = None,
    distance_threshold: float | None = None,
    cache_ttl: int | None = None,
    history_ttl: int | None = None,
) -> LlamaIndexComponents:
    """Set ``Settings.embed_model``, wrap the LLM in :class:`SemanticCacheLLM` as ``Settings.llm``, and return
    the vector store (with a ``StorageContext``) and the chat store.

    The LLM is ``llm`` when given, else whatever ``Settings.llm`` was explicitly set to; when neither, no cache
    wrapper is installed (LlamaIndex's default would try OpenAI). An LLM that is already a ``SemanticCacheLLM``
    is not wrapped twice.
    """
    settings = settings or get_settings()
    url = redis_url or resolve_url(settings)
    embed = (
        embed_model
        if isinstance(embed_model, RagEmbedding)
        else RagEmbedding(as_embedder(embed_model) or default_embedder())
    )
    LISettings.embed_model = embed
    store = RedisVectorStore(
        index_name, dims=embed.embedder.dims, metadata_fields=metadata_fields, redis_url=url, settings=settings
    )
    base_llm = llm if llm is not None else getattr(LISettings, "_llm", None)
    cached: SemanticCacheLLM | None = None
    if isinstance(base_llm, SemanticCacheLLM):
        cached = base_llm
    elif base_llm is not None:
        cached = SemanticCacheLLM(
            base_llm, embed_model=embed, redis_url=url, distance_threshold=distance_threshold, ttl=cache_ttl,
            name=f"{store.index_name}-llmcache", settings=settings,
        )  # fmt: skip
    if cached is not None:
        LISettings.llm = cached
    ttl = history_ttl if history_ttl is not None else settings.history_ttl
    return LlamaIndexComponents(
        vector_store=store,
        storage_context=StorageContext.from_defaults(vector_store=store),
        chat_store=RedisChatStore(redis_url=url, ttl=ttl),
        llm=cached,
        redis_url=url,
    )
