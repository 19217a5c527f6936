"""LlamaIndex adapters: thin translations between LlamaIndex types and the framework-neutral cores.

Names are imported lazily, so ``import redis_rag_integrations.llama_index`` stays cheap and a missing optional
dependency of one adapter does not break the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RagEmbedding": ".embeddings",
    "RedisVectorStore": ".vector_store",
    "SemanticCacheLLM": ".llm",
    "CachedQueryEngine": ".rag_cache",
    "RedisChatStore": ".chat_store",
    "RedisAsyncChatStore": ".chat_store",
    "publish_documents": ".ingest",
    "register": ".registration",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
