"""Redis as the memory of LangChain and LlamaIndex applications.

Framework-neutral pieces live at the top level; the framework adapters are in
:mod:`redis_rag_integrations.langchain` and :mod:`redis_rag_integrations.llama_index` and are imported only when
used, so either framework stays optional.
"""

from .clients import get_async_client, get_client
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
from .tenancy import Tenant, TenantError
from .tenant_admin import drop_tenant, list_tenants
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
    "Tenant",
    "TenantError",
    "default_embedder",
    "drop_tenant",
    "get_async_client",
    "get_client",
    "get_settings",
    "list_tenants",
    "redis_url",
]
__version__ = "0.1.0"
