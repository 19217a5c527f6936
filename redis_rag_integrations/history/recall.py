"""Relevant recall: the earlier messages of a session most similar to a new question.

A long conversation should not be sent whole to the LLM: a pipeline sends the recent window plus the few earlier
turns that matter to the new question. This module keeps a vector index over messages (one HASH per message, a TAG
``session`` prefilter, so a KNN never even looks at another session) and answers ``get_relevant(query, k)``.

The index is *derived* data, built lazily at query time from the session LIST, which stays the one source of truth:
- appends stay as fast as plain history (no embedding on the write path), and work without the search module;
- messages written by any framework, any process, are recalled alike;
- deletes / rewrites set ``recall_dirty`` and the next recall drops stale entries.
Only messages not yet processed are embedded (in one batch), so steady-state recall costs one query embedding and
one FT.SEARCH. On Redis Cluster the index sees the keys of its own shard only (no coordinator in this search build):
plain history is cluster-safe, recall there is limited to sessions on the index's shard.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from redisvl.index import AsyncSearchIndex, SearchIndex
from redisvl.query import VectorQuery
from redisvl.schema import IndexSchema

from .. import metrics, placement, tags
from ..connection import is_cluster, require_modules
from ..decoding import as_str
from ..embeddings import Embedder, aembed_documents, default_embedder, embed_documents
from ..errors import MissingModuleError
from .checks import whole_number
from .errors import CorruptEntryError, CorruptEntryWarning
from .keys import SessionKeys
from .message import StoredMessage, decode, encode
from .store import ChatHistoryStore


class RelevantRecall:
    """``get_relevant`` / ``aget_relevant`` over the sessions of a :class:`ChatHistoryStore`.

    Needs the Redis query engine (Redis 8, Redis Stack, Redis Cloud, or the embedded server); without it the first
    call raises :class:`MissingModuleError` saying so. Plain history on the same store keeps working.
    """

    def __init__(self, store: ChatHistoryStore, embedder: Embedder | None = None, *, index_name: str | None = None):
        self.store = store
        self.embedder = embedder or default_embedder(store.settings)
        self.index_name = index_name or f"{store.layout.root}-recall"
        self._schema: IndexSchema | None = None
        self._index: SearchIndex | None = None

    # --- index ----------------------------------------------------------------------------------------------------
    @property
    def schema(self) -> IndexSchema:
        if self._schema is None:
            self._schema = IndexSchema.from_dict(
                {
                    "index": {
                        "name": self.index_name,
                        "prefix": self.store.layout.recall_key_prefix,
                        "key_separator": ":",
                        "storage_type": "hash",
                    },
                    "fields": [
                        # Exact: one value per entry, case kept (the default "," separator and case folding
                        # let session "a" recall the messages of sessions "A" and "a,b").
                        {"name": "session", "type": "tag", "attrs": _EXACT_TAG},
                        {"name": "role", "type": "tag"},
                        {
                            "name": "vector",
                            "type": "vector",
                            "attrs": {
                                "dims": self.embedder.dims,
                                "algorithm": "hnsw",
                                "distance_metric": "cosine",
                                "datatype": "float32",
                            },
                        },
                    ],
                }
            )
        return self._schema

    def _check_search(self) -> None:
        try:
            require_modules(self.store.client, self.store.url, ("search",))
        except MissingModuleError as exc:
            raise MissingModuleError(
                f"relevant recall needs the Redis query engine: {exc} Plain chat history works without it."
            ) from exc

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            self._check_search()
            client = self.store.client
            if is_cluster(client) and not placement.has_coordinator(client):  # else recall would see one shard
                placement.check_single_slot(self.index_name, [self.store.layout.recall_key_prefix])
            index = SearchIndex(self.schema, redis_client=client)
            if index.exists() and not _session_tag_exact(self.store.client, self.index_name):
                index.delete(drop=False)  # built by an older version: rebuilt over the same (derived) entries
            if not index.exists():
                index.create(overwrite=False)
            self._index = index
        return self._index

    async def _async_index(self) -> AsyncSearchIndex:
        """redisvl's async index on the running loop's client (one per loop, kept by the store's client holder).
        The module check and creation run once, the synchronous way, in a worker thread (never on the loop)."""
        if self._index is None:
            await asyncio.to_thread(lambda: self.index)
        client = await self.store.aclient()
        make = lambda c: AsyncSearchIndex(self.schema, redis_client=c)  # noqa: E731
        return self.store.clients.on_loop(f"recall:{self.index_name}", client, make)

    # --- sync -------------------------------------------------------------------------------------------------------
    @metrics.timed("history.recall")
    def get_relevant(self, session_id: str, query: str, k: int = 4, *, exclude_recent: int = 0) -> list[StoredMessage]:
        """The ``k`` messages of ``session_id`` (active and archived) most relevant to ``query``, best first,
        leaving out the ``exclude_recent`` newest ones (the window the caller already sends)."""
        keys = self.store.keys(session_id)
        k, exclude_recent = _check_args(query, k, exclude_recent)
        index = self.index
        self._sync(keys)
        vector = self.embedder.embed([query])[0]
        excluded = self._recent_ids(keys, exclude_recent)
        rows = index.query(self._query(session_id, vector, k + len(excluded)))
        return _pick(rows, excluded, k, keys)

    def _recent_ids(self, keys: SessionKeys, n: int) -> set[str]:
        raws = self.store.client.lrange(keys.active, -n, -1) if n else []
        return set(_ids(raws))

    def _sync(self, keys: SessionKeys) -> None:
        client = self.store.client
        pipe = client.pipeline(transaction=False)
        pipe.llen(keys.active)
        pipe.llen(keys.archived)
        pipe.scard(keys.recalled)
        pipe.get(keys.recall_dirty)
        pipe.exists(keys.recall_fresh)
        n_active, n_archived, n_done, dirty, fresh = pipe.execute()
        missing = n_active + n_archived - n_done
        stale: list[str] = []
        if dirty or missing < 0:
            client.delete(keys.recall_dirty)
            raws, stale = self._full_scan(keys)
        elif missing > 0:
            raws = client.lrange(keys.active, -missing, -1)
            if len(_unseen(raws, client.smismember(keys.recalled, _ids(raws) or [""]))) < missing:
                raws, stale = self._full_scan(keys)
        else:
            raws = []
        todo = self._todo(keys, raws, client.smismember(keys.recalled, _ids(raws)) if raws else [])
        vectors = embed_documents(self.embedder, [m.text for m in todo if m.text]) if todo else np.zeros((0, 0))
        refresh = [as_str(m) for m in client.smembers(keys.recalled)] if self.store.ttl and not fresh else None
        pipe = client.pipeline(transaction=True)
        self._queue_writes(pipe, keys, todo, vectors, stale, refresh)
        pipe.execute()

    def _full_scan(self, keys: SessionKeys) -> tuple[list[bytes], list[str]]:
        client = self.store.client
        raws = list(client.lrange(keys.archived, 0, -1)) + list(client.lrange(keys.active, 0, -1))
        done = {as_str(m) for m in client.smembers(keys.recalled)}
        return raws, sorted(done - set(_ids(raws)))

    # --- async ------------------------------------------------------------------------------------------------------
    @metrics.timed("history.recall")
    async def aget_relevant(
        self, session_id: str, query: str, k: int = 4, *, exclude_recent: int = 0
    ) -> list[StoredMessage]:
        keys = self.store.keys(session_id)
        k, exclude_recent = _check_args(query, k, exclude_recent)
        index = await self._async_index()
        await self._async_sync(keys)
        vector = (await self.embedder.aembed([query]))[0]
        client = await self.store.aclient()
        excluded = set(_ids(await client.lrange(keys.active, -exclude_recent, -1))) if exclude_recent else set()
        rows = await index.query(self._query(session_id, vector, k + len(excluded)))
        return _pick(rows, excluded, k, keys)

    async def _async_sync(self, keys: SessionKeys) -> None:
        client = await self.store.aclient()
        pipe = client.pipeline(transaction=False)
        pipe.llen(keys.active)
        pipe.llen(keys.archived)
        pipe.scard(keys.recalled)
        pipe.get(keys.recall_dirty)
        pipe.exists(keys.recall_fresh)
        n_active, n_archived, n_done, dirty, fresh = await pipe.execute()
        missing = n_active + n_archived - n_done
        stale: list[str] = []
        raws: list[bytes] = []
        full = bool(dirty) or missing < 0
        if not full and missing > 0:
            raws = await client.lrange(keys.active, -missing, -1)
            seen = await client.smismember(keys.recalled, _ids(raws) or [""])
            full = len(_unseen(raws, seen)) < missing
        if full:
            await client.delete(keys.recall_dirty)
            raws = list(await client.lrange(keys.archived, 0, -1)) + list(await client.lrange(keys.active, 0, -1))
            done = {as_str(m) for m in await client.smembers(keys.recalled)}
            stale = sorted(done - set(_ids(raws)))
        todo = self._todo(keys, raws, await client.smismember(keys.recalled, _ids(raws)) if raws else [])
        texts = [m.text for m in todo if m.text]
        vectors = await aembed_documents(self.embedder, texts) if texts else np.zeros((0, 0))
        refresh = [as_str(m) for m in await client.smembers(keys.recalled)] if self.store.ttl and not fresh else None
        pipe = client.pipeline(transaction=True)
        self._queue_writes(pipe, keys, todo, vectors, stale, refresh)
        await pipe.execute()

    # --- shared -----------------------------------------------------------------------------------------------------
    def _query(self, session_id: str, vector: np.ndarray, n: int) -> VectorQuery:
        return VectorQuery(
            vector=np.asarray(vector, dtype=np.float32).tobytes(),
            vector_field_name="vector",
            return_fields=["entry"],
            filter_expression=tags.tag_clause("session", [session_id]),
            num_results=max(1, n),
            dtype="float32",
        )

    def _todo(self, keys: SessionKeys, raws: Sequence[bytes], seen: Sequence[Any]) -> list[StoredMessage]:
        seen_ids = {i for i, flag in zip(_ids(raws), seen, strict=True) if flag}
        return [m for m in _decoded(raws, keys) if m.id not in seen_ids]

    def _queue_writes(
        self,
        pipe: Any,
        keys: SessionKeys,
        todo: list[StoredMessage],
        vectors: np.ndarray,
        stale: list[str],
        refresh: list[str] | None,
    ) -> None:
        """Queue the recall entries for ``todo`` (texts embedded in ``vectors``, in order), drop ``stale`` ones and,
        when ``refresh`` lists ids, push their TTLs out.

        Appends refresh the session's TTL without touching recall entries; recall refreshes them at most once per
        half-TTL (the ``recall_fresh`` marker), so they live as long as the session without an O(n) cost per query.
        """
        ttl = self.store.ttl
        row = 0
        for message in todo:
            if not message.text:
                continue
            key = keys.recall_prefix + message.id
            pipe.hset(
                key,
                mapping={
                    "session": tags.encode(keys.session_id),
                    "role": message.role,
                    "entry": encode(message, max_bytes=self.store.max_message_bytes),
                    "vector": np.asarray(vectors[row], dtype=np.float32).tobytes(),
                },
            )
            if ttl:
                pipe.expire(key, ttl)
            row += 1
        if todo:
            pipe.sadd(keys.recalled, *[m.id for m in todo])
        if stale:
            pipe.delete(*[keys.recall_prefix + i for i in stale])
            pipe.srem(keys.recalled, *stale)
        if ttl:
            pipe.expire(keys.recalled, ttl)
        if ttl and refresh is not None:
            for entry_id in refresh:
                pipe.expire(keys.recall_prefix + entry_id, ttl)
            pipe.set(keys.recall_fresh, b"1", ex=max(1, ttl // 2))


def _check_args(query: str, k: Any, exclude_recent: Any) -> tuple[int, int]:
    """``k`` and ``exclude_recent`` as whole numbers, checked before recall syncs or sends anything."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty string")
    return whole_number("k", k, minimum=1), whole_number("exclude_recent", exclude_recent, minimum=0)


def _ids(raws: Sequence[bytes]) -> list[str]:
    """Entry ids in list order, read without a full decode (entries start with ``{"v":1,"id":"..."``)."""
    out: list[str] = []
    for raw in raws:
        text = as_str(raw)
        start = text.find('"id":"')
        end = text.find('"', start + 6) if start >= 0 else -1
        if end > 0:
            out.append(text[start + 6 : end])
    return out


def _unseen(raws: Sequence[bytes], seen: Sequence[Any]) -> list[str]:
    return [i for i, flag in zip(_ids(raws), seen, strict=True) if not flag]


def _decoded(raws: Sequence[bytes], keys: SessionKeys) -> list[StoredMessage]:
    out: list[StoredMessage] = []
    for i, raw in enumerate(raws):
        try:
            out.append(decode(raw, key=keys.active, index=i))
        except CorruptEntryError as exc:
            warnings.warn(f"relevant recall skips it: {exc}", CorruptEntryWarning, stacklevel=4)
    return out


def _pick(rows: list[dict[str, Any]], excluded: set[str], k: int, keys: SessionKeys) -> list[StoredMessage]:
    out: list[StoredMessage] = []
    for row in rows:
        message = decode(row["entry"], key=row.get("id", keys.recall_prefix), index=0)
        if message.id in excluded:
            continue
        out.append(message)
        if len(out) == k:
            break
    return out


_EXACT_TAG = {"separator": "\x1f", "case_sensitive": True}


def _session_tag_exact(client: Any, index_name: str) -> bool:
    """Whether the existing recall index keeps session tags exact (indexes made before this was fixed did not)."""
    field = SearchIndex.from_existing(index_name, redis_client=client).schema.fields.get("session")
    attrs = getattr(field, "attrs", None)
    return bool(attrs is not None and attrs.separator == "\x1f" and attrs.case_sensitive)
