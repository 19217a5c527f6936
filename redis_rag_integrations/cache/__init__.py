"""Framework-neutral LLM caches: semantic (by meaning, scoped, bounded, fresh) and exact.

Nothing here imports LangChain or LlamaIndex; the adapters in :mod:`redis_rag_integrations.langchain` and
:mod:`redis_rag_integrations.llama_index` translate their types to ``(prompt, response, payload)`` and call these.
"""

from .entry import CacheHit, SourceRef, source_fingerprint
from .exact import ExactCache
from .guard import CacheInputError
from .scope import llm_scope_tag, user_scope_tag
from .semantic import SemanticCache, validate_threshold
from .stats import CacheStats

__all__ = [
    "CacheHit",
    "CacheInputError",
    "CacheStats",
    "ExactCache",
    "SemanticCache",
    "SourceRef",
    "llm_scope_tag",
    "source_fingerprint",
    "user_scope_tag",
    "validate_threshold",
]
