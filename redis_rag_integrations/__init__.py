"""Redis as the memory of LangChain and LlamaIndex applications.

Framework-neutral pieces live at the top level; the framework adapters are in
:mod:`redis_rag_integrations.langchain` and :mod:`redis_rag_integrations.llama_index` and are imported only when
used, so either framework stays optional.
"""

import os

# OpenMP threads that busy-wait between batches steal the CPU from everything else on a small machine (the
# embedder's torch, the local LLM): on 2 busy cores one query embedding took 80-100 ms p50 (p90 220-270 ms) with the
# default policy and 25-30 ms with PASSIVE, and batch throughput did not suffer. It must be set before torch loads
# its OpenMP runtime, hence here, first; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .connection import get_async_client, get_client
from .embeddings import Embedder, LocalEmbedder, OpenAIEmbedder, default_embedder
from .errors import (
    EmbeddedRedisError,
    IndexNotFoundError,
    MissingModuleError,
    RedisConnectionFailed,
    RedisRagError,
)
from .server import EmbeddedRedis
from .settings import Settings, get_settings
from .urls import redis_url

__all__ = [
    "EmbeddedRedis",
    "EmbeddedRedisError",
    "Embedder",
    "IndexNotFoundError",
    "LocalEmbedder",
    "MissingModuleError",
    "OpenAIEmbedder",
    "RedisConnectionFailed",
    "RedisRagError",
    "Settings",
    "default_embedder",
    "get_async_client",
    "get_client",
    "get_settings",
    "redis_url",
]
__version__ = "0.1.0"
