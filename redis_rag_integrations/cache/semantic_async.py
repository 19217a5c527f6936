"""The asyncio half of :class:`~.semantic.SemanticCache`: every method an ``a``-prefixed twin of a sync one.

Why a mixin: the cache is one class to its users, but its sync and async methods differ only in how they reach
Redis; what they send is built by the shared helpers of :mod:`.semantic_entries` and :class:`~.semantic.SemanticCache`
(checks, embedding text, the MULTI body), so this file holds only the awaiting. The first async call (and the first
after a fault) creates the index the synchronous way in a worker thread: one code path, off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery

from .. import freshness, metrics
from ..connection import AsyncClient
from ..questions import aembed_question
from .entry import CacheHit, SourceRef, decode_hit
from .guard import REDIS_FAULTS, check_prompt
from .options import UNSET
from .order import unlist
from .semantic_entries import LLMScope, UserScope, entry_mapping, queue_refresh, scope_filter

if TYPE_CHECKING:
    from .semantic import SemanticCache

    _Cache = SemanticCache
else:
    _Cache = object


class AsyncSemanticMethods(_Cache):
    """Mixed into :class:`~.semantic.SemanticCache`; uses its attributes and sync helpers."""

    async def _async_index(self) -> tuple[AsyncClient, AsyncSearchIndex]:
        """The running loop's client and async index (one per loop: a client cannot serve two loops).

        The first call (and the first after a connection fault) resolves the URL and creates the index in Redis
        the synchronous way, in a worker thread: one code path, under one lock across threads, off the loop.
        """
        if self._index is None:
            await asyncio.to_thread(self._sync_index)
        client = await self._clients.aclient()
        return client, self._clients.on_loop("index", client, self._new_async_index)

    def _new_async_index(self, client: AsyncClient) -> AsyncSearchIndex:
        return AsyncSearchIndex(self.schema(), redis_client=client)

    @metrics.timed("cache.semantic.lookup")
    async def acheck(
        self,
        prompt: str,
        *,
        llm: LLMScope = None,
        scope: UserScope = None,
        vector: Sequence[float] | np.ndarray | None = None,
        distance_threshold: float | None = None,
    ) -> CacheHit | None:
        """Async :meth:`check`."""
        check_prompt(prompt, self.max_prompt_bytes)
        if not self.guard.available():
            self.stats.count("skipped")
            return None
        t0 = time.perf_counter()
        raw = await aembed_question(self.embedder, self._embed_text(prompt)[0]) if vector is None else vector
        vec = self._vector(raw)
        t1 = time.perf_counter()
        query = self._query(prompt, vec, llm, scope, distance_threshold)
        await self.asettle(prompt, llm, scope)  # this process' own pending write of this entry first
        try:
            client, index = await self._async_index()
            row = self._pick(prompt, await index.query(query))
            hit = decode_hit(row) if row is not None else None
            if row is not None and self.refresh_on_hit and row.get("ttl"):
                pipe = client.pipeline(transaction=False)
                queue_refresh(pipe, row)
                await pipe.execute()
        except REDIS_FAULTS as exc:
            self._fault("lookup", exc)
            return None
        self.guard.succeeded()
        self.stats.record_lookup(hit is not None, t1 - t0, time.perf_counter() - t1)
        return hit

    @metrics.timed("cache.semantic.store")
    async def astore(
        self,
        prompt: str,
        response: str,
        *,
        llm: LLMScope = None,
        scope: UserScope = None,
        payload: str | None = None,
        meta: Mapping[str, Any] | None = None,
        sources: Sequence[SourceRef] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        ttl: int | None = None,
        since: int | None = None,
    ) -> str | None:
        """Async :meth:`store`."""
        meta_json, entry_ttl = self._prepare_store(prompt, response, payload, meta, sources, ttl)
        if not self.guard.available():
            self.stats.count("skipped")
            await self.aunwatch(since)  # a watch taken before the fault must not stay in flight
            return None
        raw = await aembed_question(self.embedder, self._embed_text(prompt)[0]) if vector is None else vector
        vec = self._vector(raw)
        key = self.entry_key(prompt, llm, scope)
        mapping = entry_mapping(prompt, response, vec, llm, scope, payload, meta_json, entry_ttl)
        try:
            client, _ = await self._async_index()
            pipe = client.pipeline(transaction=True)
            ids = self._queue_store(pipe, key, mapping, entry_ttl, sources, since)
            is_stale = self._stored(await pipe.execute(), ids, since)
            if is_stale:
                await self.adrop([key])
        except REDIS_FAULTS as exc:
            self._fault("store", exc)
            return None
        return self._store_done(key, is_stale)

    async def awatch(self) -> int | None:
        """Async :meth:`watch`."""
        if not self.guard.available():
            return None
        try:
            client, _ = await self._async_index()
            return await freshness.awatch(client, self._fresh)
        except REDIS_FAULTS as exc:
            self._fault("watch", exc)
            return None

    async def aunwatch(self, token: int | None) -> None:
        if token is None:
            return
        try:
            client, _ = await self._async_index()
            await freshness.aunwatch(client, token, self._fresh)
        except REDIS_FAULTS as exc:
            self._fault("unwatch", exc)

    async def adrop(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        client, _ = await self._async_index()
        pipe = client.pipeline(transaction=False)
        pipe.delete(*keys)
        unlist(pipe, self.order_key, self.expiry_key, list(keys))
        return int((await pipe.execute())[0])

    async def ainvalidate(self, *, llm: LLMScope = UNSET, scope: UserScope = UNSET) -> int:
        expr = scope_filter(llm, scope)
        await self.aflush()
        _, index = await self._async_index()
        deleted = 0
        while True:
            rows = await index.query(FilterQuery(filter_expression=expr, return_fields=["id"], num_results=500))
            if not rows:
                return deleted
            deleted += await self.adrop([str(r["id"]) for r in rows])

    async def ainvalidate_documents(self, doc_ids: Sequence[str]) -> int:
        await self.aflush()
        client, _ = await self._async_index()
        return await freshness.ainvalidate_documents(client, doc_ids, self._fresh)

    async def aclear(self) -> int:
        await self.aflush()
        client, index = await self._async_index()
        count = await index.clear()
        await client.delete(self.order_key, self.expiry_key)
        return int(count)

    async def aclose(self) -> None:
        """Write what :meth:`astore_later` queued, then let go of the clients: shared ones stay open for other
        components, async ones close with their loop."""
        await self.aflush()
        self._clients.release()
