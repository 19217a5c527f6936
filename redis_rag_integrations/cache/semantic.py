"""The framework-neutral semantic cache: "has a question that means the same been answered in this scope?".

Built on redisvl's ``SearchIndex`` / ``VectorRangeQuery`` rather than on redisvl's ``SemanticCache`` because that class
refreshes an entry's TTL on every hit (a popular stale answer then never expires), connects in its constructor (an
unreachable Redis would break the application at import time) and has no bound on entries. What we need from it --
the schema, the index lifecycle and the range query with a filter -- we use as is.

Matching rule, stated once: an entry is reused when the cosine DISTANCE between the two questions' embeddings is
``<= distance_threshold`` (0 = identical, 1 = unrelated, 2 = opposite), AND it belongs to the same LLM scope and user
scope. The scopes are a prefilter inside the vector query, so the nearest neighbour is chosen among same-scope
entries only. Prompts longer than ``max_semantic_chars`` are matched exactly (by hash), because the embedder only
sees their beginning and two long prompts that differ at the end would otherwise look identical.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import redis
from redisvl.index import SearchIndex
from redisvl.query import VectorRangeQuery
from redisvl.schema import IndexSchema

from .. import freshness, metrics, placement, tenancy
from ..clients import RedisClients
from ..connection import SyncClient, is_cluster
from ..embeddings import Embedder, default_embedder
from ..questions import embed_question
from ..settings import Settings, get_settings
from .entry import CacheHit, SourceRef, decode_hit, encode_meta
from .guard import REDIS_FAULTS, CacheInputError, FaultGuard, check_prompt, check_response
from .options import UNSET, validate_threshold, validate_ttl
from .scope import digest, llm_scope_tag, user_scope_tag
from .semantic_async import AsyncSemanticMethods
from .semantic_entries import (
    CANDIDATES,
    LLMScope,
    UserScope,
    entry_mapping,
    entry_prefix,
    entry_schema,
    expiry_key,
    lookup_query,
    order_key,
    pick,
    queue_refresh,
    queue_store,
    store_outcome,
)
from .semantic_maintenance import SemanticMaintenance
from .stats import CacheStats
from .write_behind import WriteBehind, WriteBehindMethods


class SemanticCache(SemanticMaintenance, AsyncSemanticMethods, WriteBehindMethods):
    """A semantic cache over one Redis search index, sync and async.

    Args:
        embedder: the question embedder (default: the settings' embedder, all-MiniLM-L6-v2 offline).
        name: index name and key prefix (``{name}:entry:*``); caches with different names never share entries.
        redis_url: Redis to use; ``None`` = ``REDIS_URL`` or the embedded server. Connected lazily.
        distance_threshold: max cosine DISTANCE (0..2) for a hit; default ``Settings.cache_distance_threshold``.
        ttl: seconds an entry lives; default ``Settings.cache_ttl`` (``None`` = forever).
        refresh_on_hit: extend an entry's TTL when it is hit. Off by default: a frequently hit entry would
            otherwise never expire, which is how caches serve stale answers forever.
        max_entries: bound on entries; the oldest are evicted first. Default ``Settings.cache_max_entries``.
        algorithm: ``flat`` (exact nearest neighbour, default: a cache must not miss its own entries) or ``hnsw``.
        max_semantic_chars: longer prompts are matched exactly, never by meaning.
        verify: check every candidate with the near-miss verifier (:mod:`.gate`): structural rules reject
            negation, a reversed relation (``string to number`` vs ``number to string``) and a swapped content word
            (``list`` vs ``tuple``), then a small learned gate weighs distance against which words changed. The
            default threshold is the radius the gate was tuned for; with ``verify=False`` pass a tighter one.
        retry_interval: seconds to skip Redis after a failure (lookups are misses meanwhile).
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        name: str = "llmcache",
        redis_url: str | None = None,
        settings: Settings | None = None,
        distance_threshold: float | None = None,
        ttl: int | None = UNSET,
        refresh_on_hit: bool = False,
        max_entries: int | None = UNSET,
        algorithm: str = "flat",
        max_semantic_chars: int = 1000,
        max_prompt_bytes: int = 1_000_000,
        max_response_bytes: int = 4_000_000,
        retry_interval: float = 1.0,
        verify: bool = True,
        tenant: tenancy.TenantLike = None,
    ) -> None:
        self.settings = settings or get_settings()
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"cache name must be a non-empty string without whitespace, got {name!r}")
        #: ``tenant``: the index, entries, eviction order and document links live under the tenant's hash tag.
        self.tenant = tenancy.resolve(tenant)
        name = tenancy.scoped(self.tenant, name)
        self._fresh = freshness.keys_for(self.tenant)
        threshold = self.settings.cache_distance_threshold if distance_threshold is None else distance_threshold
        self.distance_threshold = validate_threshold(threshold)
        self.ttl = validate_ttl(self.settings.cache_ttl if ttl is UNSET else ttl)
        self.max_entries = self.settings.cache_max_entries if max_entries is UNSET else max_entries
        if self.max_entries is not None and (not isinstance(self.max_entries, int) or self.max_entries < 1):
            raise ValueError(f"max_entries must be a positive int or None, got {self.max_entries!r}")
        if algorithm not in ("flat", "hnsw"):
            raise ValueError(f"algorithm must be 'flat' or 'hnsw', got {algorithm!r}")
        self.name = name
        self.embedder = embedder or default_embedder(self.settings)
        self.refresh_on_hit = refresh_on_hit
        self.verify = verify
        self.algorithm = algorithm
        self.max_semantic_chars = max_semantic_chars
        self.max_prompt_bytes = max_prompt_bytes
        self.max_response_bytes = max_response_bytes
        self.stats = CacheStats(kind="semantic", name=name)
        self.guard = FaultGuard(name, retry_interval)
        #: Every client comes from here; async ones per event loop, at call time (see :mod:`..clients`).
        self._clients = RedisClients(redis_url, settings=self.settings)
        self._index: SearchIndex | None = None  # set once the index exists in Redis (reset after a fault)
        self._lock = threading.Lock()
        #: :meth:`store_later`'s queue and worker (:mod:`.write_behind`); no thread until the first write.
        self._writes = WriteBehind(name, on_error=partial(self.stats.count, "errors"), release=self._unwatch_many)

    @classmethod
    def from_options(
        cls,
        cache: SemanticCache | None,
        embedder: Embedder | None,
        *,
        name: str,
        redis_url: str | None,
        settings: Settings | None,
        distance_threshold: float | None,
        ttl: int | None,
        max_entries: int | None = None,
        refresh_on_hit: bool = False,
        tenant: tenancy.TenantLike = None,
    ) -> SemanticCache:
        """``cache`` if one was given, else a cache from the framework adapters' options.

        The adapters' signatures use ``None`` for "the settings' default" (what LangChain and LlamaIndex users
        expect), where the core keeps ``ttl=None`` for "no TTL"; this is the one place that translates. A given
        cache is tested with ``is None``: an empty cache is falsy (``len`` 0) and must not be replaced.
        """
        if cache is not None:
            return cache
        return cls(
            embedder,
            name=name,
            redis_url=redis_url,
            settings=settings,
            distance_threshold=distance_threshold,
            ttl=UNSET if ttl is None else ttl,
            max_entries=UNSET if max_entries is None else max_entries,
            refresh_on_hit=refresh_on_hit,
            tenant=tenant,
        )

    # ------------------------------------------------------------------ layout
    @property
    def prefix(self) -> str:
        return entry_prefix(self.name)

    @property
    def order_key(self) -> str:
        """Sorted set of live entry keys by insertion time: the eviction order for ``max_entries``."""
        return order_key(self.name)

    @property
    def expiry_key(self) -> str:
        """Sorted set of TTL'd entry keys by expiry time, so expired ones leave the order (see :mod:`.order`)."""
        return expiry_key(self.name)

    def schema(self) -> IndexSchema:
        return entry_schema(self.name, self.embedder.dims, self.algorithm)

    def entry_key(self, prompt: str, llm: LLMScope = None, scope: UserScope = None) -> str:
        """The key of the entry for exactly this prompt in this scope (storing it again overwrites it)."""
        return f"{self.prefix}:{digest(llm_scope_tag(llm) + '|' + user_scope_tag(scope) + '|' + prompt)}"

    def _query(
        self, prompt: str, vector: np.ndarray, llm: LLMScope, scope: UserScope, threshold: float | None
    ) -> VectorRangeQuery:
        threshold = self.distance_threshold if threshold is None else validate_threshold(threshold)
        candidates = CANDIDATES if self.verify else 1
        return lookup_query(prompt, vector, llm, scope, threshold, self.max_semantic_chars, candidates)

    def _embed_text(self, prompt: str) -> list[str]:
        return [prompt[: self.max_semantic_chars]]

    def _vector(self, vector: Sequence[float] | np.ndarray) -> np.ndarray:
        arr = np.asarray(vector, dtype=np.float32).reshape(-1)
        if arr.shape[0] != self.embedder.dims:
            raise CacheInputError(f"vector has {arr.shape[0]} dims, the cache's embedder has {self.embedder.dims}")
        return arr

    def _prepare_store(
        self,
        prompt: str,
        response: str,
        payload: str | None,
        meta: Mapping[str, Any] | None,
        sources: Sequence[SourceRef] | None,
        ttl: int | None,
    ) -> tuple[str, int | None]:
        check_prompt(prompt, self.max_prompt_bytes)
        check_response(response, payload, self.max_response_bytes)
        entry_ttl = self.ttl if ttl is None else validate_ttl(ttl)
        return encode_meta(meta, sources), entry_ttl

    # ------------------------------------------------------------------ sync
    def _sync_index(self) -> tuple[SyncClient, SearchIndex]:
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    client = self._clients.client
                    if is_cluster(client) and not placement.has_coordinator(client):  # else a partial index
                        placement.check_single_slot(self.name, [self.prefix + ":"])
                    index = SearchIndex(self.schema(), redis_client=client)
                    index.create(overwrite=False)
                    self._index = index
        return self._clients.client, index

    @metrics.timed("cache.semantic.lookup")
    def check(
        self,
        prompt: str,
        *,
        llm: LLMScope = None,
        scope: UserScope = None,
        vector: Sequence[float] | np.ndarray | None = None,
        distance_threshold: float | None = None,
    ) -> CacheHit | None:
        """The closest same-scope entry within the threshold, or ``None``. Redis faults give ``None`` (logged)."""
        check_prompt(prompt, self.max_prompt_bytes)
        if not self.guard.available():
            self.stats.count("skipped")
            return None
        t0 = time.perf_counter()
        vec = self._vector(embed_question(self.embedder, self._embed_text(prompt)[0]) if vector is None else vector)
        t1 = time.perf_counter()
        query = self._query(prompt, vec, llm, scope, distance_threshold)
        self.settle(prompt, llm, scope)  # this process' own pending write of this entry first
        try:
            client, index = self._sync_index()
            row = self._pick(prompt, index.query(query))
            hit = decode_hit(row) if row is not None else None
            if row is not None and self.refresh_on_hit:
                self._refresh(client, row)
        except REDIS_FAULTS as exc:
            self._fault("lookup", exc)
            return None
        self.guard.succeeded()
        self.stats.record_lookup(hit is not None, t1 - t0, time.perf_counter() - t1)
        return hit

    def _pick(self, prompt: str, rows: list[dict[str, Any]]) -> Mapping[str, Any] | None:
        """The closest candidate the verifier accepts for ``prompt`` (:func:`.semantic_entries.pick`), counting the
        ones it rejected."""
        row, rejected = pick(rows, prompt, self.verify)
        if rejected:
            self.stats.count("rejected", rejected)
        return row

    def _refresh(self, client: SyncClient, row: Mapping[str, Any]) -> None:
        if row.get("ttl"):
            pipe = client.pipeline(transaction=False)
            queue_refresh(pipe, row)
            pipe.execute()

    @metrics.timed("cache.semantic.store")
    def store(
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
        """Store an answer; returns its key, or ``None`` when Redis is unavailable (logged, nothing half-written).

        ``sources`` link the entry to document ids (see :mod:`redis_rag_integrations.freshness`) so that changing
        a document through the vector store deletes the answers built from it. ``since`` is the token
        :meth:`watch` gave before the answer was generated: if a source changed after it, the answer is not kept
        (``None``; counted as ``stale``).
        """
        meta_json, entry_ttl = self._prepare_store(prompt, response, payload, meta, sources, ttl)
        if not self.guard.available():
            self.stats.count("skipped")
            self.unwatch(since)  # a watch taken before the fault must not stay in flight
            return None
        vec = self._vector(embed_question(self.embedder, self._embed_text(prompt)[0]) if vector is None else vector)
        key = self.entry_key(prompt, llm, scope)
        mapping = entry_mapping(prompt, response, vec, llm, scope, payload, meta_json, entry_ttl)
        return self._write_entry(key, mapping, entry_ttl, sources, since)

    def _write_entry(
        self,
        key: str,
        mapping: Mapping[str, Any],
        entry_ttl: int | None,
        sources: Sequence[SourceRef] | None,
        since: int | None,
    ) -> str | None:
        """The store's one MULTI and its outcome, for :meth:`store` and the write-behind worker
        (:meth:`store_later`)."""
        try:
            client, _ = self._sync_index()
            pipe = client.pipeline(transaction=True)
            ids = self._queue_store(pipe, key, mapping, entry_ttl, sources, since)
            is_stale = self._stored(pipe.execute(), ids, since)
            if is_stale:
                self.drop([key])
        except REDIS_FAULTS as exc:
            self._fault("store", exc)
            return None
        return self._store_done(key, is_stale)

    def _queue_store(
        self,
        pipe: Any,
        key: str,
        mapping: Mapping[str, Any],
        entry_ttl: int | None,
        sources: Sequence[SourceRef] | None,
        since: int | None,
    ) -> list[str]:
        """Queue the entry's MULTI body (:func:`.semantic_entries.queue_store`); returns the source ids."""
        ids = list(dict.fromkeys(s.id for s in sources or ()))
        queue_store(pipe, self.name, key, mapping, entry_ttl, ids, since, self.max_entries)
        return ids

    def _stored(self, results: list[Any], ids: list[str], since: int | None) -> bool:
        """Whether a source changed while the answer was generated (evictions are counted on the way)."""
        evicted, is_stale = store_outcome(results, ids, since)
        if evicted:
            self.stats.count("evicted", evicted)
        return is_stale

    def _store_done(self, key: str, is_stale: bool) -> str | None:
        self.guard.succeeded()
        self.stats.count("stale" if is_stale else "stores")
        return None if is_stale else key

    # ------------------------------------------------------------------ shared
    def _fault(self, operation: str, exc: BaseException) -> None:
        self.stats.count("errors")
        self.guard.failed(operation, exc)
        # Re-open (and re-create) next time after a lost connection, or when the index was dropped behind our back
        # (FT.DROPINDEX, FLUSHALL): otherwise every later lookup misses and every store writes an unindexed entry.
        message = str(exc).lower()
        if isinstance(exc, OSError | ConnectionError | redis.ConnectionError) or any(
            words in message for words in ("no such index", "unknown index")
        ):
            self._index = None

    def close(self) -> None:
        """Write what :meth:`store_later` queued, then let go of the clients (shared ones stay open for other
        components); the next call re-opens the index."""
        self.flush()
        self._clients.release()
        self._index = None

    def __repr__(self) -> str:
        return (
            f"SemanticCache(name={self.name!r}, distance_threshold={self.distance_threshold}, ttl={self.ttl}, "
            f"max_entries={self.max_entries}, embedder={self.embedder!r})"
        )
