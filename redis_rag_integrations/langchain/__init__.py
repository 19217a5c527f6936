"""LangChain adapters: thin translations between LangChain types and the framework-neutral cores.

Names are imported lazily, so ``import redis_rag_integrations.langchain`` stays cheap and a missing optional
dependency of one adapter does not break the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RagEmbeddings": ".embeddings",
    "RedisVectorStore": ".vectorstore",
    "RedisSemanticCache": ".cache",
    "RedisCache": ".cache",
    "CachedRAGChain": ".rag_cache",
    "RedisChatMessageHistory": ".history",
    "publish_documents": ".ingest",
    "register": ".registration",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
