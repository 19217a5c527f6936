"""The sync maintenance half of :class:`~.semantic.SemanticCache`: freshness tokens, invalidation, clearing.

Why a mixin of its own: lookup and store (:mod:`.semantic`) are the hot path, tuned call by call; what is here runs
when documents or models change, or an operator cleans up, and shares nothing with that path but the index handle
(``_sync_index``). Async twins are in :mod:`.semantic_async`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from redisvl.query import FilterQuery

from .. import freshness
from .guard import REDIS_FAULTS
from .options import UNSET
from .order import unlist
from .semantic_entries import LLMScope, UserScope, scope_filter

if TYPE_CHECKING:
    from .semantic import SemanticCache

    _Cache = SemanticCache
else:
    _Cache = object


class SemanticMaintenance(_Cache):
    """Mixed into :class:`~.semantic.SemanticCache`; uses its attributes and ``_sync_index``."""

    def watch(self) -> int | None:
        """Call before generating an answer to store with sources: pass the token to :meth:`store` as ``since``.

        Closes the window in which a source document changes after retrieval but before the answer is linked to
        it (see :mod:`redis_rag_integrations.freshness`). ``None`` when Redis is unavailable (the store will be
        skipped anyway). A token whose answer is never stored expires by itself; :meth:`unwatch` ends it sooner.
        """
        if not self.guard.available():
            return None
        try:
            client, _ = self._sync_index()
            return freshness.watch(client, self._fresh)
        except REDIS_FAULTS as exc:
            self._fault("watch", exc)
            return None

    def unwatch(self, token: int | None) -> None:
        """End a watch whose answer will not be stored (the generation failed or was not cacheable)."""
        if token is None:
            return
        try:
            client, _ = self._sync_index()
            freshness.unwatch(client, token, self._fresh)
        except REDIS_FAULTS as exc:
            self._fault("unwatch", exc)

    def drop(self, keys: Sequence[str]) -> int:
        """Delete entries by key; returns how many existed."""
        if not keys:
            return 0
        client, _ = self._sync_index()
        pipe = client.pipeline(transaction=False)
        pipe.delete(*keys)
        unlist(pipe, self.order_key, self.expiry_key, list(keys))
        return int(pipe.execute()[0])

    def invalidate(self, *, llm: LLMScope = UNSET, scope: UserScope = UNSET) -> int:
        """Delete every entry of an LLM scope and/or a user scope (e.g. a model was upgraded, a tenant left)."""
        expr = scope_filter(llm, scope)
        self.flush()  # an entry still queued by store_later must not land after its invalidation
        _, index = self._sync_index()
        deleted = 0
        while True:
            rows = index.query(FilterQuery(filter_expression=expr, return_fields=["id"], num_results=500))
            if not rows:
                return deleted
            deleted += self.drop([str(r["id"]) for r in rows])

    def invalidate_documents(self, doc_ids: Sequence[str]) -> int:
        """Delete every entry whose answer used any of ``doc_ids`` (what the vector store calls on change)."""
        self.flush()
        client, _ = self._sync_index()
        return freshness.invalidate_documents(client, doc_ids, self._fresh)

    def clear(self) -> int:
        """Delete every entry of this cache (the index stays); returns how many were deleted."""
        self.flush()
        try:
            client, index = self._sync_index()
            count = index.clear()
            client.delete(self.order_key, self.expiry_key)
        except REDIS_FAULTS as exc:
            self._fault("clear", exc)
            raise
        return int(count)

    def __len__(self) -> int:
        self.flush()
        _, index = self._sync_index()
        return int(index.info()["num_docs"])

    def delete_index(self) -> None:
        """Drop the index and all entries (used by tests and by ``redis-rag`` maintenance)."""
        self.flush()
        client, index = self._sync_index()
        index.delete(drop=True)
        client.delete(self.order_key, self.expiry_key)
        self._index = None
