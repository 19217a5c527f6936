"""The read side of :class:`~.index.VectorSetIndex` (a mixin, as :mod:`..search` is for the query-engine index).

A search is one ``VSIM ... WITHSCORES WITHATTRIBS`` (:mod:`.query`); ``get`` reads attributes (and ``VEMB``) in
one pipeline; ``find`` is an exhaustive filtered scan (``VSIM ... TRUTH``), so a filter finds every record it
matches, never an approximate subset. BM25 and hybrid search raise, naming the query-engine backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import numpy as np

from ... import metrics
from ...connection import AsyncClient, SyncClient
from ...settings import HybridFusion
from ..filters import FilterLike
from ..layout import QUERY_FIELDS, Hit, Layout, Record
from ..search import check_ids
from . import query
from .layout import AttributeCodec, VectorSetKeys, unsupported
from .query import VsimPlanner


class VectorSetReads:
    """Reads and searches of a vector-set index; every method has an ``a``-prefixed async twin."""

    client: SyncClient
    keys: VectorSetKeys
    layout: Layout
    _vsim: VsimPlanner
    async_client: AsyncClient  # the index's property (declared here only)

    def _queue_reads(self, pipe: Any, ids: list[str], with_vectors: bool) -> Any:
        for i in ids:
            pipe.execute_command("VGETATTR", self.keys.vset, i)
            if with_vectors:
                pipe.execute_command("VEMB", self.keys.vset, i)
        return pipe

    def _records(self, ids: list[str], replies: list[Any], with_vectors: bool) -> list[Record]:
        step = 2 if with_vectors else 1
        out = []
        for n, i in enumerate(ids):
            attrs = replies[n * step]
            if attrs is None:
                continue  # no such element (every element of ours has attributes)
            out.append(
                AttributeCodec.decode(i, attrs, query.embedding(replies[n * step + 1]) if with_vectors else None)
            )
        return out

    def get(self, ids: Iterable[str], with_vectors: bool = False) -> list[Record]:
        """The records with these ids, in the order asked; missing ids are left out. Vectors are the stored ones
        (``VEMB``: dequantised under ``q8`` / ``bin``, in the reduced space under ``REDUCE``)."""
        wanted = check_ids(ids)
        pipe = self._queue_reads(self.client.pipeline(transaction=False), wanted, with_vectors)
        return self._records(wanted, pipe.execute(), with_vectors)

    async def aget(self, ids: Iterable[str], with_vectors: bool = False) -> list[Record]:
        wanted = check_ids(ids)
        pipe = self._queue_reads(self.async_client.pipeline(transaction=False), wanted, with_vectors)
        return self._records(wanted, await pipe.execute(), with_vectors)

    def _find_args(self, filter: FilterLike, limit: int) -> tuple[Any, ...]:
        """An exhaustive filtered scan: ``VSIM ... TRUTH`` (linear, every element checked) from a fixed vector."""
        if filter is None:
            raise ValueError("a filter is required")
        probe = ("VALUES", self.layout.dims, 1, *([0] * (self.layout.dims - 1)))
        return ("VSIM", self.keys.vset, *probe, *self._vsim.args(filter, limit, truth=True))

    def find(self, filter: FilterLike, limit: int = 1000) -> list[Record]:
        """Records matching ``filter`` (no ranking), at most ``limit``: a linear scan of the set."""
        return [h.record for h in query.hits(self.client.execute_command(*self._find_args(filter, limit)))]

    async def afind(self, filter: FilterLike, limit: int = 1000) -> list[Record]:
        reply = await self.async_client.execute_command(*self._find_args(filter, limit))
        return [h.record for h in query.hits(reply)]

    def _search_args(
        self, vector: Sequence[float] | np.ndarray, k: int, filter: FilterLike, truth: bool = False
    ) -> tuple[Any, ...]:
        args = self._vsim.args(filter, k, truth=truth)
        return ("VSIM", self.keys.vset, "FP32", self.layout.vector_bytes(vector, "query vector"), *args)

    @metrics.timed("store.search")
    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fields: Sequence[str] = QUERY_FIELDS,
    ) -> list[Hit]:
        """The ``k`` nearest records to ``vector``, closest first, in one ``VSIM``; scores are cosine similarities
        (see :mod:`.query`). Every field comes back whatever ``fields`` says: they are one attribute string.

        A filtered ``VSIM`` examines ``FILTER-EF`` candidates around the query; when it comes back with fewer than
        ``k`` hits, the matches may lie elsewhere in the graph, so the search is run again as an exact scan
        (``TRUTH``): a search returns ``min(k, matches)`` hits, never silently fewer (one extra scan, only then).
        """
        found = query.hits(self.client.execute_command(*self._search_args(vector, k, filter)))
        if filter is not None and len(found) < k:
            found = query.hits(self.client.execute_command(*self._search_args(vector, k, filter, truth=True)))
        return found

    @metrics.timed("store.search")
    async def asearch(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fields: Sequence[str] = QUERY_FIELDS,
    ) -> list[Hit]:
        found = query.hits(await self.async_client.execute_command(*self._search_args(vector, k, filter)))
        if filter is not None and len(found) < k:
            reply = await self.async_client.execute_command(*self._search_args(vector, k, filter, truth=True))
            found = query.hits(reply)
        return found

    def text_search(self, text: str, k: int = 4, filter: FilterLike = None) -> list[Hit]:
        raise unsupported("BM25 text search")

    async def atext_search(self, text: str, k: int = 4, filter: FilterLike = None) -> list[Hit]:
        raise unsupported("BM25 text search")

    def hybrid_search(
        self,
        text: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fetch_k: int | None = None,
        alpha: float | None = None,
        fusion: HybridFusion | None = None,
    ) -> list[Hit]:
        raise unsupported("hybrid (BM25 + vector) search")

    async def ahybrid_search(
        self,
        text: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fetch_k: int | None = None,
        alpha: float | None = None,
        fusion: HybridFusion | None = None,
    ) -> list[Hit]:
        raise unsupported("hybrid (BM25 + vector) search")

    def hybrid_plan(
        self,
        text: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fetch_k: int | None = None,
        alpha: float | None = None,
        fusion: HybridFusion | None = None,
    ) -> NoReturn:
        raise unsupported("hybrid (BM25 + vector) search")

    def _vectors_pipe(self, pipe: Any, found: list[Hit]) -> Any:
        for h in found:
            pipe.execute_command("VEMB", self.keys.vset, h.record.id)
        return pipe

    @metrics.timed("store.mmr_search")
    def mmr_search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[Hit]:
        """``k`` of the ``fetch_k`` nearest records by MMR; candidates' vectors from ``VEMB`` (:func:`.query.mmr`)."""
        _check_lambda(lambda_mult)
        found = self.search(vector, max(fetch_k, k), filter)
        replies = self._vectors_pipe(self.client.pipeline(transaction=False), found).execute() if found else []
        return query.mmr(found, [query.embedding(r) for r in replies], k, lambda_mult)

    @metrics.timed("store.mmr_search")
    async def ammr_search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[Hit]:
        _check_lambda(lambda_mult)
        found = await self.asearch(vector, max(fetch_k, k), filter)
        pipe = self._vectors_pipe(self.async_client.pipeline(transaction=False), found)
        replies = await pipe.execute() if found else []
        return query.mmr(found, [query.embedding(r) for r in replies], k, lambda_mult)


def _check_lambda(lam: float) -> None:
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda_mult must be within [0, 1], got {lam}")
