"""LangChain adapters: thin translations between LangChain types and the framework-neutral cores.

Names are imported lazily, so ``import redis_rag_integrations.langchain`` stays cheap and a missing optional
dependency of one adapter does not break the others.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a missing parent package (or an import hook refusing it)
        return False


# Checked here, once, with find_spec (no import of the framework: the names below stay lazy), so that a missing
# framework fails at the first import of this package with the install command, not deep inside an adapter.
if not _installed("langchain_core"):
    raise ImportError(
        "redis_rag_integrations.langchain needs LangChain (langchain-core), an optional dependency: "
        "pip install 'redis-rag-integrations[langchain]'"
    )

_EXPORTS = {
    "RagEmbeddings": ".embeddings",
    "RedisVectorStore": ".vectorstore",
    "RedisSemanticCache": ".cache",
    "RedisCache": ".cache",
    "CachedRAGChain": ".rag_cache",
    "RedisChatMessageHistory": ".history",
    "publish_documents": ".ingest",
    "register": ".registration",
    "RedisMemoryStore": ".memory_store",
    "RedisCheckpointSaver": ".agents",
    "AsyncRedisCheckpointSaver": ".agents",
    "checkpointer": ".agents",
    "async_checkpointer": ".agents",
    "memory_store": ".agents",
    "RedisRAGMiddleware": ".middleware",
    "retriever_tool": ".middleware",
    "SemanticCacheMiddleware": ".agent_cache",
    "SessionMirrorMiddleware": ".threads",
    "export_thread_to_session": ".threads",
    "seed_thread_from_session": ".threads",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
