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
(``{CHANGED_PREFIX}{id}``, kept :data:`WATCH_SECONDS`) before it reads the links. The cache stores the entry, its
links and reads its sources' stamps in one MULTI (:func:`queue_links`, :func:`queue_stamp_reads`): a stamp newer
than its token means the answer may be stale and the entry is dropped; a change after that finds the links and
deletes the entry the usual way. With no answer in flight, invalidation writes no stamp at all, so bulk
ingestion pays one ``ZCARD``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import tags, tenancy
from .connection import AsyncClient, SyncClient, is_cluster
from .decoding import as_str

#: Where the links of untenanted components live; a tenant's live under its own root, ``rag:{acme}:``.
ROOT = "rag:"
DEPS_PREFIX = "rag:deps:"
CHANGED_PREFIX = "rag:changed:"
CLOCK_KEY = "rag:fresh:clock"
INFLIGHT_KEY = "rag:fresh:inflight"


@dataclass(frozen=True)
class FreshKeys:
    """The freshness keys of one namespace: untenanted (:data:`ROOT`) or one tenant's (``rag:{acme}:``).

    Why per tenant: document ids of two tenants are different documents (``faq`` of tenant A changing must not
    drop tenant B's answers), and on a cluster a script over a tenant's cache entries and their links must find
    them all in the tenant's slot, or it fails with CROSSSLOT.
    """

    root: str = ROOT

    @property
    def deps_prefix(self) -> str:
        return self.root + "deps:"

    @property
    def changed_prefix(self) -> str:
        return self.root + "changed:"

    @property
    def clock(self) -> str:
        return self.root + "fresh:clock"

    @property
    def inflight(self) -> str:
        return self.root + "fresh:inflight"

    def deps(self, doc_id: str) -> str:
        """The link set of ``doc_id``, named by the id's stored form (:mod:`.tags`): the write scripts read ids
        from the records' hashes and build the same names."""
        return f"{self.deps_prefix}{tags.encode(doc_id)}"

    def changed(self, doc_id: str) -> str:
        return f"{self.changed_prefix}{tags.encode(doc_id)}"


GLOBAL = FreshKeys()
assert (GLOBAL.deps_prefix, GLOBAL.changed_prefix, GLOBAL.clock, GLOBAL.inflight) == (
    DEPS_PREFIX,
    CHANGED_PREFIX,
    CLOCK_KEY,
    INFLIGHT_KEY,
), "the untenanted names are what earlier versions wrote"


def keys_for(tenant: tenancy.TenantLike) -> FreshKeys:
    """The freshness keys of ``tenant`` (``None``: the untenanted ones)."""
    t = tenancy.resolve(tenant)
    return GLOBAL if t is None else FreshKeys(t.root)


def keys_of(key: str) -> FreshKeys:
    """The freshness keys of the namespace ``key`` (a record, a cache entry, a key prefix) belongs to."""
    name = tenancy.tenant_of(as_str(key, "surrogateescape"))
    return GLOBAL if name is None else FreshKeys(tenancy.Tenant(name).root)


#: How long a watch (an answer being generated) and a change stamp live: longer than any LLM call.
WATCH_SECONDS = 900
#: What separates a semantic cache's name from an entry's digest in its key (``{name}:entry:{digest}``).
ENTRY_INFIX = ":entry:"

# KEYS[1] the clock, KEYS[2] the in-flight set; ARGV[1] the watch lifetime, ARGV[2..] watches to end. Server
# time, so clients' clocks do not matter; expired watches (a crashed generator) are pruned here.
_WATCH_SCRIPT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for i = 2, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
local token = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), token)
return token
"""


def changed_key(doc_id: str, keys: FreshKeys = GLOBAL) -> str:
    return keys.changed(doc_id)


def watch(client: SyncClient, keys: FreshKeys = GLOBAL) -> int:
    """A token for :func:`queue_stamp_reads` when storing an answer generated from now on."""
    return int(client.eval(_WATCH_SCRIPT, 2, keys.clock, keys.inflight, WATCH_SECONDS))


def watch_command(keys: FreshKeys = GLOBAL, ending: Sequence[int] = ()) -> tuple[Any, ...]:
    """:func:`watch` as a command to queue in a caller's pipeline (its reply is the token); it also ends the
    watches ``ending`` (tokens whose answers were not stored: a cache hit's), which then cost no command of
    their own."""
    return ("EVAL", _WATCH_SCRIPT, 2, keys.clock, keys.inflight, WATCH_SECONDS, *ending)


async def awatch(client: AsyncClient, keys: FreshKeys = GLOBAL) -> int:
    return int(await client.eval(_WATCH_SCRIPT, 2, keys.clock, keys.inflight, WATCH_SECONDS))


def queue_stamp_reads(pipe: Any, token: int, doc_ids: Sequence[str], keys: FreshKeys = GLOBAL) -> None:
    """Queue the reads :func:`stale` judges (one ``GET`` per id), then the end of the watch ``token``.

    Queue them after the entry's links (:func:`queue_links`) in the same MULTI: an invalidation then either ran
    before (its stamps are read here) or runs after (it finds the links and deletes the entry).
    """
    for doc_id in doc_ids:
        pipe.get(keys.changed(doc_id))
    pipe.zrem(keys.inflight, token)


def stale(token: int, stamps: Sequence[Any]) -> bool:
    """True when any stamp read by :func:`queue_stamp_reads` is newer than ``token``."""
    return any(stamp is not None and int(stamp) > token for stamp in stamps)


def unwatch(client: SyncClient, token: int, keys: FreshKeys = GLOBAL) -> None:
    """End a watch whose answer is not stored (the generation failed or was not cacheable)."""
    client.zrem(keys.inflight, token)


def unwatch_many(client: SyncClient, tokens: Sequence[int], keys: FreshKeys = GLOBAL) -> None:
    """End several watches in one command."""
    if tokens:
        client.zrem(keys.inflight, *tokens)


async def aunwatch(client: AsyncClient, token: int, keys: FreshKeys = GLOBAL) -> None:
    await client.zrem(keys.inflight, token)


# KEYS[1] the in-flight set, KEYS[2] the clock; ARGV[1] the change-stamp prefix, ARGV[2..] the changed ids.
# Stamps only while an answer is in flight; watches that expired (their generator crashed) are pruned first, or
# they would make every later change stamp.
_STAMP_SCRIPT = f"""
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(redis.call('TIME')[1]))
if redis.call('ZCARD', KEYS[1]) == 0 then return 0 end
local version = redis.call('INCR', KEYS[2])
for i = 2, #ARGV do redis.call('SET', ARGV[1] .. ARGV[i], version, 'EX', {WATCH_SECONDS}) end
return version
"""


def deps_key(doc_id: str, keys: FreshKeys = GLOBAL) -> str:
    """The link set of ``doc_id`` (:meth:`FreshKeys.deps`)."""
    return keys.deps(doc_id)


#: Members of a link set checked for a dead entry each time an entry is linked to it. 16, not 64: a set of n
#: members with d dead loses 16 * d / n dead per link (distinct members: SRANDMEMBER with a positive count) and
#: gains one member, so it settles where d = n / 16, within 16/15 of its live entries (64: 64/63), and a burst of
#: d deaths is gone after about d / 15 links; each check is a Lua call into Redis (~1.5 us), and with 64 the link
#: scripts were most of a store's server time (~0.6 of ~0.8 ms for an answer citing 6 ids, in
#: benchmarks/bench_agents.py), in the MULTI every other client of the server waits behind.
LINK_SAMPLE = 16

# KEYS[1] a document's link set; ARGV[1] the entry key, ARGV[2] its TTL ('' = none), ARGV[3] the sample size.
# Why a script: entries die by TTL or eviction without telling the sets that link to them, and a document that is
# cited again and again would keep its set alive forever, growing. So every link first drops the dead members of
# a sample (all of them while the set holds at most ARGV[3]): a set grows only through links, and each link
# prunes, so it stays within about ARGV[3] / (ARGV[3] - 1) times its live entries. The set lives as long as its
# longest-lived entry: TTL'd entries extend it (EXPIRE ... GT would not: it treats a set without TTL as
# infinite, so a new set never got one), an entry without TTL makes it persistent (its link must not expire).
_LINK_SCRIPT = """
for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[1], tonumber(ARGV[3]))) do
  if member ~= ARGV[1] and redis.call('EXISTS', member) == 0 then redis.call('SREM', KEYS[1], member) end
end
local ttl = redis.call('TTL', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
elseif ttl == -2 or (ttl >= 0 and ttl < tonumber(ARGV[2])) then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


def queue_links(pipe: Any, entry_key: str, doc_ids: Sequence[str], ttl: int | None = None) -> None:
    """Queue the links from ``doc_ids`` to the cache entry ``entry_key`` on ``pipe`` (one reply per id).

    Linking again (an entry whose TTL was refreshed) extends the links to the new TTL. The links live in the
    entry's namespace (a tenant's entry links to that tenant's documents, :func:`keys_of`).
    """
    keys = keys_of(entry_key)
    for doc_id in doc_ids:
        # execute_command, not pipe.eval: a cluster pipeline refuses eval() (a tenant's keys share one slot)
        pipe.execute_command(
            "EVAL", _LINK_SCRIPT, 1, keys.deps(doc_id), entry_key, "" if ttl is None else int(ttl), LINK_SAMPLE
        )


def record_dependencies(client: SyncClient, entry_key: str, doc_ids: Iterable[str], ttl: int | None = None) -> None:
    """Remember that the cache entry ``entry_key`` was built from ``doc_ids``."""
    ids = list(dict.fromkeys(doc_ids))
    if ids:
        pipe = client.pipeline(transaction=False)
        queue_links(pipe, entry_key, ids, ttl)
        pipe.execute()


def _queue_reads(client: Any, ids: list[str], keys: FreshKeys) -> tuple[Any, int]:
    """Stamp ``ids`` (while answers are in flight) BEFORE reading their links: a store that links after the
    read must find the stamp. On a cluster only a tenant's keys share a slot: untenanted ones cannot run the stamp
    script across slots (nor host the semantic cache's MULTI, so nothing is in flight to stamp for)."""
    pipe = client.pipeline(transaction=False)
    stamped = not is_cluster(client) or keys.root != ROOT
    if stamped:  # execute_command, not pipe.eval: a cluster pipeline refuses eval()
        stamp = (keys.inflight, keys.clock, keys.changed_prefix, *(tags.encode(i) for i in ids))
        pipe.execute_command("EVAL", _STAMP_SCRIPT, 2, *stamp)
    for doc_id in ids:
        pipe.smembers(keys.deps(doc_id))
    return pipe, int(stamped)


def listing_keys(entry_key: str) -> tuple[str, ...]:
    """The sorted sets that list a semantic-cache entry ``{name}:entry:{digest}`` -- ``{name}:order`` and
    ``{name}:expiry`` (see :mod:`redis_rag_integrations.cache.order`) -- so that an invalidation, which knows only
    entry keys, unlists what it deletes instead of leaving dead members that count against ``max_entries``."""
    name, infix, _ = as_str(entry_key, "surrogateescape").rpartition(ENTRY_INFIX)
    return (f"{name}:order", f"{name}:expiry") if infix and name else ()


def _queue_deletes(client: Any, ids: list[str], entry_sets: Sequence[Any], keys: FreshKeys) -> tuple[Any, int]:
    entries = {e for members in entry_sets for e in members}
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.delete(entry)
    for entry in entries:
        for listing in listing_keys(entry):
            pipe.zrem(listing, entry)
    for doc_id in ids:
        pipe.delete(keys.deps(doc_id))
    return pipe, len(entries)


def invalidate_documents(client: SyncClient, doc_ids: Iterable[str], keys: FreshKeys = GLOBAL) -> int:
    """Delete every cache entry built from any of ``doc_ids`` (documents of the namespace ``keys``); returns how
    many entry keys were deleted."""
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return 0
    pipe, skip = _queue_reads(client, ids, keys)
    pipe, n = _queue_deletes(client, ids, pipe.execute()[skip:], keys)
    return int(sum(pipe.execute()[:n]))


async def ainvalidate_documents(client: AsyncClient, doc_ids: Iterable[str], keys: FreshKeys = GLOBAL) -> int:
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        return 0
    pipe, skip = _queue_reads(client, ids, keys)
    pipe, n = _queue_deletes(client, ids, (await pipe.execute())[skip:], keys)
    return int(sum((await pipe.execute())[:n]))
