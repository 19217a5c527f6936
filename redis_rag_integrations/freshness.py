"""Links from source documents to the cache entries built from them, so that changing a document drops them.

This is the contract between the vector store / ingestion (which know when a document changes) and the caches
(which know which answers came from which documents). Neither imports the other: both talk through these Redis
sets, ``{DEPS_PREFIX}{doc_id}`` -> keys of the cache entries whose answer used that document.

Invalidation errs on the safe side: ids are global across indexes, so an id reused in two indexes invalidates a
little more than strictly needed, never less.

One race remains with dependency sets alone: a document that changes after a RAG chain retrieved it but before
its answer is stored would leave a stale answer behind (the invalidation ran when no entry was linked yet). So a
cache about to generate an answer first takes a *watch token* (:func:`watch`: a number from a counter, registered
as in flight); while any watch is in flight, every invalidation also stamps the changed ids with a newer number
(``{CHANGED_PREFIX}{id}``, kept :data:`WATCH_SECONDS`). After storing the entry and its links, the cache reads the
stamps of its sources (:func:`changed_since`): a stamp newer than its token means the answer may be stale and the
entry is dropped. A change after that read finds the links and deletes the entry the usual way. With no answer
in flight, invalidation writes no stamp at all, so bulk ingestion pays one ``ZCARD``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .connection import AsyncClient, SyncClient

DEPS_PREFIX = "rag:deps:"
CHANGED_PREFIX = "rag:changed:"
CLOCK_KEY = "rag:fresh:clock"
INFLIGHT_KEY = "rag:fresh:inflight"
#: How long a watch (an answer being generated) and a change stamp live: longer than any LLM call.
WATCH_SECONDS = 900

# KEYS[1] the clock, KEYS[2] the in-flight set; ARGV[1] the watch lifetime. Server time, so clients' clocks
# do not matter; expired watches (a crashed generator) are pruned here.
_WATCH_SCRIPT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local token = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), token)
return token
"""


def changed_key(doc_id: str) -> str:
    return f"{CHANGED_PREFIX}{doc_id}"


def watch(client: SyncClient) -> int:
    """A token to pass to :func:`changed_since` after storing an answer generated from now on."""
    return int(client.eval(_WATCH_SCRIPT, 2, CLOCK_KEY, INFLIGHT_KEY, WATCH_SECONDS))


async def awatch(client: AsyncClient) -> int:
    return int(await client.eval(_WATCH_SCRIPT, 2, CLOCK_KEY, INFLIGHT_KEY, WATCH_SECONDS))


def _stale(token: int, stamps: list[Any]) -> bool:
    return any(stamp is not None and int(stamp) > token for stamp in stamps)


def changed_since(client: SyncClient, token: int, doc_ids: Iterable[str]) -> bool:
    """True when any of ``doc_ids`` changed after :func:`watch` gave ``token``; ends that watch."""
    ids = list(dict.fromkeys(doc_ids))
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.get(changed_key(doc_id))
    pipe.zrem(INFLIGHT_KEY, token)
    return _stale(token, pipe.execute()[: len(ids)])


async def achanged_since(client: AsyncClient, token: int, doc_ids: Iterable[str]) -> bool:
    ids = list(dict.fromkeys(doc_ids))
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.get(changed_key(doc_id))
    pipe.zrem(INFLIGHT_KEY, token)
    return _stale(token, (await pipe.execute())[: len(ids)])


def unwatch(client: SyncClient, token: int) -> None:
    """End a watch whose answer is not stored (the generation failed or was not cacheable)."""
    client.zrem(INFLIGHT_KEY, token)


async def aunwatch(client: AsyncClient, token: int) -> None:
    await client.zrem(INFLIGHT_KEY, token)


def _stamp(pipe: Any, version: int, ids: list[str]) -> None:
    for doc_id in ids:
        pipe.set(changed_key(doc_id), version, ex=WATCH_SECONDS)


def deps_key(doc_id: str) -> str:
    return f"{DEPS_PREFIX}{doc_id}"


def record_dependencies(client: SyncClient, entry_key: str, doc_ids: Iterable[str], ttl: int | None = None) -> None:
    """Remember that the cache entry ``entry_key`` was built from ``doc_ids``."""
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.sadd(deps_key(doc_id), entry_key)
        if ttl is not None:
            pipe.expire(deps_key(doc_id), ttl, gt=True)
    pipe.execute()


async def arecord_dependencies(
    client: AsyncClient, entry_key: str, doc_ids: Iterable[str], ttl: int | None = None
) -> None:
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.sadd(deps_key(doc_id), entry_key)
        if ttl is not None:
            pipe.expire(deps_key(doc_id), ttl, gt=True)
    await pipe.execute()


def invalidate_documents(client: SyncClient, doc_ids: Iterable[str]) -> int:
    """Delete every cache entry built from any of ``doc_ids``; returns how many entry keys were deleted."""
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return 0
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.smembers(deps_key(doc_id))
    pipe.zcard(INFLIGHT_KEY)
    *entry_sets, watching = pipe.execute()
    entries = {e for members in entry_sets for e in members}
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.delete(entry)
    for doc_id in ids:
        pipe.delete(deps_key(doc_id))
    results = pipe.execute()
    if watching:
        pipe = client.pipeline(transaction=False)
        _stamp(pipe, int(client.incr(CLOCK_KEY)), ids)
        pipe.execute()
    return int(sum(results[: len(entries)]))


async def ainvalidate_documents(client: AsyncClient, doc_ids: Iterable[str]) -> int:
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return 0
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.smembers(deps_key(doc_id))
    pipe.zcard(INFLIGHT_KEY)
    *entry_sets, watching = await pipe.execute()
    entries = {e for members in entry_sets for e in members}
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.delete(entry)
    for doc_id in ids:
        pipe.delete(deps_key(doc_id))
    results = await pipe.execute()
    if watching:
        pipe = client.pipeline(transaction=False)
        _stamp(pipe, int(await client.incr(CLOCK_KEY)), ids)
        await pipe.execute()
    return int(sum(results[: len(entries)]))
