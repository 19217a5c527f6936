"""Links from source documents to the cache entries built from them, so that changing a document drops them.

This is the contract between the vector store / ingestion (which know when a document changes) and the caches
(which know which answers came from which documents). Neither imports the other: both talk through these Redis
sets, ``{DEPS_PREFIX}{doc_id}`` -> keys of the cache entries whose answer used that document.

Invalidation errs on the safe side: ids are global across indexes, so an id reused in two indexes invalidates a
little more than strictly needed, never less.
"""

from __future__ import annotations

from collections.abc import Iterable

from .connection import AsyncClient, SyncClient

DEPS_PREFIX = "rag:deps:"


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
    entry_sets = pipe.execute()
    entries = {e for members in entry_sets for e in members}
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.delete(entry)
    for doc_id in ids:
        pipe.delete(deps_key(doc_id))
    results = pipe.execute()
    return int(sum(results[: len(entries)]))


async def ainvalidate_documents(client: AsyncClient, doc_ids: Iterable[str]) -> int:
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return 0
    pipe = client.pipeline(transaction=False)
    for doc_id in ids:
        pipe.smembers(deps_key(doc_id))
    entry_sets = await pipe.execute()
    entries = {e for members in entry_sets for e in members}
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.delete(entry)
    for doc_id in ids:
        pipe.delete(deps_key(doc_id))
    results = await pipe.execute()
    return int(sum(results[: len(entries)]))
