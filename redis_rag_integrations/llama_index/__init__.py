"""LlamaIndex adapters: thin translations between LlamaIndex types and the framework-neutral cores.

Names are imported lazily, so ``import redis_rag_integrations.llama_index`` stays cheap and a missing optional
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
if not _installed("llama_index.core"):
    raise ImportError(
        "redis_rag_integrations.llama_index needs LlamaIndex (llama-index-core), an optional dependency: "
        "pip install 'redis-rag-integrations[llama-index]'"
    )

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
