"""Reading and searching an index: records by id, by filter, and the ranked searches (KNN, BM25, hybrid, MMR).

Why a mixin of :class:`~.index.RedisVectorIndex` rather than a module of functions: the adapters call these as
methods of the index they hold, and every search needs the same handful of the index's attributes (layout, clients,
prebuilt KNN plans). The attributes are declared below; :class:`~.index.RedisVectorIndex` sets them. Nothing here
writes. The hot path (:meth:`IndexSearch.search`) is one ``FT.SEARCH`` built by :class:`.knn.KnnPlanner` and parsed
by :func:`.knn.parse_reply`, without redisvl's generic result processing in between. No read goes through redisvl:
``get`` is ``HMGET`` / ``HGETALL``, ``find`` :mod:`.find`, text :mod:`.text`, hybrid :mod:`.hybrid`, and every
search command goes to the index's node on a cluster (:func:`..placement.ft_call`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import metrics
from ..connection import AsyncClient, SyncClient
from ..placement import aft_call, aft_pipeline, ft_call, ft_pipeline
from ..settings import HybridFusion, Settings
from .filters import FilterLike
from .find import find_command, parse_find_reply
from .hybrid import HybridPlan, default_fetch_k
from .knn import KnnPlanner, parse_reply
from .layout import METADATA, QUERY_FIELDS, RETURN_FIELDS, VECTOR, Hit, Layout, Record
from .ranking import mmr_order
from .substring import exact_substrings
from .text import TextPlanner, parse_text_reply


class IndexSearch:
    """The read side of :class:`~.index.RedisVectorIndex`; every method has an ``a``-prefixed async twin."""

    settings: Settings
    layout: Layout
    client: SyncClient
    ef_runtime: int | None
    _knn: KnnPlanner
    _text: TextPlanner
    _similarity: Callable[[float], float]
    _cluster: bool

    @property
    def name(self) -> str:
        return self.layout.index_name

    @property
    def async_client(self) -> AsyncClient:
        raise NotImplementedError

    _READ = [*RETURN_FIELDS, VECTOR]

    def get(self, ids: Iterable[str], with_vectors: bool = False) -> list[Record]:
        """The records with these ids, in the order asked; ids that do not exist are left out."""
        wanted = check_ids(ids)
        pipe = self._queue_reads(self.client.pipeline(transaction=False), wanted)
        return self._records(wanted, pipe.execute(), with_vectors)

    async def aget(self, ids: Iterable[str], with_vectors: bool = False) -> list[Record]:
        wanted = check_ids(ids)
        pipe = self._queue_reads(self.async_client.pipeline(transaction=False), wanted)
        return self._records(wanted, await pipe.execute(), with_vectors)

    def _queue_reads(self, pipe: Any, ids: list[str]) -> Any:
        """Our layout's fields by name; a legacy record whole (its metadata fields are named by the record)."""
        for i in ids:
            if self.layout.dialect == "native":
                pipe.hmget(self.layout.key(i), self._READ)
            else:
                pipe.hgetall(self.layout.key(i))
        return pipe

    def _records(self, ids: list[str], rows: list[Any], with_vectors: bool) -> list[Record]:
        out = []
        vfield = self.layout.vector_field
        for record_id, values in zip(ids, rows, strict=True):
            if self.layout.dialect == "native":
                if values[RETURN_FIELDS.index(METADATA)] is None and values[-1] is None:
                    continue  # no such record
                fields, vector = dict(zip(RETURN_FIELDS, values[:-1], strict=True)), values[-1]
            else:
                if not values:
                    continue
                fields, vector = values, values.get(vfield.encode(), values.get(vfield))
            out.append(self.layout.read(self.layout.key(record_id), fields, vector if with_vectors else None))
        return out

    @exact_substrings
    def find(self, filter: FilterLike, limit: int = 1000) -> list[Record]:
        """Records matching ``filter`` (no ranking), at most ``limit`` (:mod:`.find`)."""
        cmd = find_command(self.layout, filter, limit)
        reply = ft_call(self.client, self.name, *cmd) if self._cluster else self.client.execute_command(*cmd)
        return parse_find_reply(self.layout, reply)

    @exact_substrings
    async def afind(self, filter: FilterLike, limit: int = 1000) -> list[Record]:
        cmd = find_command(self.layout, filter, limit)
        client = self.async_client
        reply = await (aft_call(client, self.name, *cmd) if self._cluster else client.execute_command(*cmd))
        return parse_find_reply(self.layout, reply)

    @metrics.timed("store.search")
    @exact_substrings
    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fields: Sequence[str] = QUERY_FIELDS,
    ) -> list[Hit]:
        """The ``k`` nearest records to ``vector`` (KNN, pre-filtered), closest first.

        ``fields`` are the record fields Redis sends back (a subset of ``doc_id``, ``text``, ``metadata``,
        ``extra``): an adapter that has no use for one saves its transfer and decoding.
        """
        args = self._knn.args(filter, k, fields, self.ef_runtime)
        blob = self.layout.vector_bytes(vector, "query vector")
        # On a cluster, sent to the index's node (:func:`..placement.ft_call`); as it is on a single server (the
        # flag, not a per-call is_cluster(): that costs ~3.6 us on a plain client, ~1% of a search).
        cmd = (*args, "PARAMS", 2, "vector", blob, "DIALECT", 2)
        reply = ft_call(self.client, self.name, *cmd) if self._cluster else self.client.execute_command(*cmd)
        return parse_reply(self.layout, reply, self._similarity)

    @metrics.timed("store.search")
    @exact_substrings
    async def asearch(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fields: Sequence[str] = QUERY_FIELDS,
    ) -> list[Hit]:
        args = self._knn.args(filter, k, fields, self.ef_runtime)
        blob = self.layout.vector_bytes(vector, "query vector")
        cmd = (*args, "PARAMS", 2, "vector", blob, "DIALECT", 2)
        client = self.async_client
        reply = await (aft_call(client, self.name, *cmd) if self._cluster else client.execute_command(*cmd))
        return parse_reply(self.layout, reply, self._similarity)

    @metrics.timed("store.text_search")
    @exact_substrings
    def text_search(self, text: str, k: int = 4, filter: FilterLike = None) -> list[Hit]:
        """BM25 over the chunk text; ``score`` is the BM25 score, ``distance`` its negation (lower is better)."""
        cmd = self._text.command(text, filter, k)
        reply = ft_call(self.client, self.name, *cmd) if self._cluster else self.client.execute_command(*cmd)
        return parse_text_reply(self.layout, reply)

    @metrics.timed("store.text_search")
    @exact_substrings
    async def atext_search(self, text: str, k: int = 4, filter: FilterLike = None) -> list[Hit]:
        cmd = self._text.command(text, filter, k)
        client = self.async_client
        reply = await (aft_call(client, self.name, *cmd) if self._cluster else client.execute_command(*cmd))
        return parse_text_reply(self.layout, reply)

    @metrics.timed("store.hybrid_search")
    @exact_substrings
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
        """BM25 and KNN results fused into one ranking (:func:`.ranking.relative_score_fuse` or ``"rrf"``).

        ``alpha`` weighs the vector side (1 = vectors only, 0 = BM25 only); ``alpha`` and ``fusion`` default to
        the settings' ``hybrid_alpha`` / ``hybrid_fusion``. Each side fetches ``fetch_k`` candidates (default
        :func:`.hybrid.default_fetch_k`: ``max(2k, 20)``); both
        commands go in one round trip and only the ``k`` winners are decoded (:mod:`.hybrid`).
        """
        plan = self.hybrid_plan(text, vector, k, filter, fetch_k, alpha, fusion)
        return plan.finish(ft_pipeline(self.client, self.name, plan.commands, self._cluster))

    @metrics.timed("store.hybrid_search")
    @exact_substrings
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
        plan = self.hybrid_plan(text, vector, k, filter, fetch_k, alpha, fusion)
        return plan.finish(await aft_pipeline(self.async_client, self.name, plan.commands, self._cluster))

    def hybrid_plan(
        self,
        text: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fetch_k: int | None = None,
        alpha: float | None = None,
        fusion: HybridFusion | None = None,
    ) -> HybridPlan:
        """The two commands of :meth:`hybrid_search` and how their replies become hits, for a caller that sends
        them in its own pipeline on :attr:`client` (the agent RAG middleware adds the cache lookup: one round
        trip for both). Not for clusters: there the commands must go to the index's node (:meth:`hybrid_search`)."""
        n = fetch_k or default_fetch_k(k)
        knn = (*self._knn.args(filter, n, QUERY_FIELDS, self.ef_runtime), "PARAMS", 2, "vector",
               self.layout.vector_bytes(vector, "query vector"), "DIALECT", 2)  # fmt: skip
        return HybridPlan(
            self.layout,
            knn,
            self._text.command(text, filter, n),
            k,
            self.settings.hybrid_alpha if alpha is None else alpha,
            fusion or self.settings.hybrid_fusion,
            self._similarity,
        )

    @metrics.timed("store.mmr_search")
    def mmr_search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[Hit]:
        """``k`` of the ``fetch_k`` nearest records, chosen for relevance and diversity (MMR)."""
        hits = self.search(vector, max(fetch_k, k), filter)
        vectors = self.get([h.record.id for h in hits], with_vectors=True)
        return _mmr(vector, hits, vectors, k, lambda_mult)

    @metrics.timed("store.mmr_search")
    async def ammr_search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[Hit]:
        hits = await self.asearch(vector, max(fetch_k, k), filter)
        vectors = await self.aget([h.record.id for h in hits], with_vectors=True)
        return _mmr(vector, hits, vectors, k, lambda_mult)


def check_ids(ids: Iterable[str] | None) -> list[str]:
    if ids is None:
        return []
    if isinstance(ids, str):
        raise TypeError("pass a list of ids, not a single string")
    out = list(ids)
    for i in out:
        if not isinstance(i, str) or not i:
            raise ValueError(f"ids must be non-empty strings, got {i!r}")
    return out


def _mmr(query: Sequence[float] | np.ndarray, hits: list[Hit], records: list[Record], k: int, lam: float) -> list[Hit]:
    by_id = {r.id: r.vector for r in records if r.vector is not None}
    kept = [h for h in hits if h.record.id in by_id]
    if not kept:
        return []
    matrix = np.stack([by_id[h.record.id] for h in kept])
    return [kept[i] for i in mmr_order(np.asarray(query, dtype=np.float32), matrix, k, lam)]
