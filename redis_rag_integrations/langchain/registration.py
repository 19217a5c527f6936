"""``register()``: wire every Redis component into a LangChain app in one call."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache

from ..cache.options import validate_ttl
from ..embeddings import Embedder
from ..settings import Settings, get_settings
from ..store.layout import FieldType
from ..urls import redis_url as resolve_url
from .cache import RedisSemanticCache
from .embeddings import RagEmbeddings
from .history import RedisChatMessageHistory
from .vectorstore import RedisVectorStore

if TYPE_CHECKING:
    from .agents import AsyncRedisCheckpointSaver, RedisCheckpointSaver
    from .memory_store import RedisMemoryStore


def _agents_installed() -> bool:
    try:
        return importlib.util.find_spec("langgraph.checkpoint.redis") is not None
    except ImportError:  # langgraph itself is missing
        return False


@dataclass
class LangChainComponents:
    """What :func:`register` built: use ``vector_store.as_retriever(...)`` in a chain and ``get_session_history``
    with ``RunnableWithMessageHistory``; for LangChain 1.x agents, ``create_agent(..., checkpointer=checkpointer,
    store=store)`` (``async with async_checkpointer() as saver`` in async code, one per event loop). The agent
    parts are ``None`` when the ``agents`` extra is not installed."""

    vector_store: RedisVectorStore
    cache: RedisSemanticCache | None
    get_session_history: Callable[[str], RedisChatMessageHistory]
    redis_url: str
    checkpointer: RedisCheckpointSaver | None = None
    async_checkpointer: Callable[[], AsyncRedisCheckpointSaver] | None = None
    store: RedisMemoryStore | None = None


def register(
    *,
    embeddings: Embeddings | Embedder | None = None,
    index_name: str | None = None,
    redis_url: str | None = None,
    settings: Settings | None = None,
    metadata_fields: dict[str, FieldType] | None = None,
    distance_threshold: float | None = None,
    cache_ttl: int | None = None,
    history_ttl: int | None = None,
    semantic_cache: bool = True,
    agents: bool | None = None,
) -> LangChainComponents:
    """Set the global LLM cache to a Redis semantic cache and return the vector store and a history factory.

    Everything defaults to the shared settings: ``REDIS_URL`` or the embedded Redis, the local MiniLM embedder,
    the documented cache threshold. The URL is resolved (and checked) once, so all three components talk to the
    same server. The cache is named after the index (``{index}-llmcache``) so two apps on one Redis do not share
    answers by accident. ``semantic_cache=False`` leaves the global cache alone.

    With the ``agents`` extra installed (or ``agents=True``, which then requires it), it also builds a LangGraph
    checkpointer (sync, ready; and a factory for the async one), with ``history_ttl`` as checkpoint TTL, and a
    long-term memory store named ``{index}-memory``, searchable by meaning with the same embedder.
    """
    try:  # refused before anything is created (savers, sessions): a whole number of seconds, as Redis expires keys
        validate_ttl(history_ttl)
    except ValueError as exc:
        message = f"history_ttl must be a positive whole number of seconds or None, got {history_ttl!r}"
        raise ValueError(message) from exc
    settings = settings or get_settings()
    url = redis_url or resolve_url(settings)
    emb = embeddings if isinstance(embeddings, Embeddings) else RagEmbeddings(embeddings)
    store = RedisVectorStore(emb, index_name, metadata_fields=metadata_fields, redis_url=url, settings=settings)
    cache = None
    if semantic_cache:
        cache = RedisSemanticCache(
            embeddings=emb,
            redis_url=url,
            distance_threshold=distance_threshold,
            ttl=cache_ttl,
            name=f"{store.index.name}-llmcache",
            settings=settings,
        )
        set_llm_cache(cache)
    ttl = history_ttl if history_ttl is not None else settings.history_ttl

    def get_session_history(session_id: str) -> RedisChatMessageHistory:
        return RedisChatMessageHistory(session_id, redis_url=url, ttl=ttl)

    parts = LangChainComponents(store, cache, get_session_history, url)
    if agents or (agents is None and _agents_installed()):
        from .agents import async_checkpointer, checkpointer, memory_store

        parts.checkpointer = checkpointer(url, ttl=ttl, settings=settings)
        parts.async_checkpointer = lambda: async_checkpointer(url, ttl=ttl, settings=settings)
        parts.store = memory_store(url, embeddings=emb, name=f"{store.index.name}-memory", settings=settings)
    return parts
