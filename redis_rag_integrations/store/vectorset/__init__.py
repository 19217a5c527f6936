"""The vector-set backend: the vector store core on a Redis 8 vector set (``VADD`` / ``VSIM``), no search module.

Chosen with ``backend="vectorset"`` on :class:`~..index.RedisVectorIndex` and both framework stores, or the setting
``REDIS_RAG_BACKEND=vectorset``. Modules: :mod:`.layout` (keys, attributes, options), :mod:`.filters` (dict filters
to ``FILTER`` expressions), :mod:`.query` (``VSIM`` and its reply, scores, MMR), :mod:`.writes` and
:mod:`.versioned` (every write as a plan of script calls), :mod:`.index` (:class:`VectorSetIndex`).
"""

from .index import VectorSetIndex
from .layout import VectorSetKeys, VectorSetOptions, VectorSetUnsupported

__all__ = ["VectorSetIndex", "VectorSetKeys", "VectorSetOptions", "VectorSetUnsupported"]
