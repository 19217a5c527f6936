"""The framework-neutral vector index core: one layout, shared by the LangChain and LlamaIndex adapters."""

from .filters import FilterError, FilterLike, compile_filter
from .index import LayoutMismatchError, RedisVectorIndex
from .layout import Hit, Layout, Record, content_hash

__all__ = [
    "FilterError",
    "FilterLike",
    "Hit",
    "Layout",
    "LayoutMismatchError",
    "Record",
    "RedisVectorIndex",
    "compile_filter",
    "content_hash",
]
