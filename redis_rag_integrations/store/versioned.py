"""Versioned document writes: a document's whole chunk set replaced, or deleted, only by a newer version.

Why: streaming ingestion delivers events at least once and, across workers, in no fixed order. A worker killed (or
stalled) mid-batch has its events reclaimed by another, which may apply them after newer events of the same
documents. A version check made when a batch is prepared and a write made later leave a window in which an older
event overwrites a newer one, or a delete lands after a newer upsert. Here the check and the write are one Lua
script: whatever order events arrive in, the index ends holding the newest version of every document.

Per document, one *version record* (a small hash) at ``{prefix}~doc:{doc_id}``: under the index's key prefix, so
a hash tag in the prefix keeps it on the chunks' cluster slot, but outside the ``{prefix}:`` pattern the index
covers, so it is never indexed:

===========  ===========================================================================================
``v``        version of the last applied event, ``ms-seq`` (a stream entry id), compared as two integers
``hash``     content hash of that version (dedup: unchanged content needs neither embedding nor writes)
``chunks``   JSON list of that version's chunk ids: what the next version removes (no search, no cap)
``deleted``  ``1`` on a tombstone: the last applied event was a delete
===========  ===========================================================================================

A call takes two round trips: read the record (on a standalone server also every chunk the index holds under the
document id, so chunks written before versioning, or by plain ``upsert``, go too), then one ``EVALSHA`` that
declares every key it touches. The script refuses a version not newer than the stored one (``stale``, or
``current`` for a replay of the applied version); when the tracked chunk list changed since the read (an older
version got in between), it answers ``moved`` and the call reads again. Otherwise, atomically: removes the old
chunks the new version lacks, rewrites the new ones (``DEL`` + ``HSET``: no field of an older layout survives),
stores the record, and (standalone) deletes the cache entries built from the document (:mod:`..freshness`).

Tombstones expire after ``tombstone_ttl`` seconds (default 7 days) instead of being swept: a sweep would need a
registry of tombstones, one more key outside the document's slot, and knowing when no older event can still
arrive. An older event can only arrive after a newer delete while it sits pending in a consumer group (entries are
delivered in id order, so it was delivered before the delete); it is reclaimed after ``claim_idle_ms`` by any
live worker. Only an event left pending longer than the TTL (every worker down for a week) could resurrect a
deleted document. A live document's record has no TTL: it holds the chunk list.

Clusters: the script needs every key of a document on one slot. That holds whenever the index's prefix carries a
hash tag (``{tenant}:docs``), which this search build needs anyway (an index sees only its own shard's keys).
When a document's keys span slots, the call raises :class:`CrossSlotDocumentError` rather than write without the
guarantee. On a cluster the chunk list is the record's alone (no index lookup: ``FT.SEARCH`` cannot be routed to
the index's shard there), and the cache invalidation runs from the client right after the script: a client
killed in between leaves the invalidation to the replay of the event (``current``, see the ingestion worker).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from redis.crc import key_slot
from redis.exceptions import NoScriptError

from ..decoding import as_str
from ..errors import RedisRagError
from ..freshness import GLOBAL, FreshKeys, keys_of
from .bulk import Command
from .executor import Invalidate, Pipeline, Plan
from .filters import compile_filter
from .layout import DOC_ID, Checked, Layout
from .writes import INVALIDATE_LUA

Op = Literal["upsert", "delete", "advance"]
Status = Literal["applied", "unchanged", "stale", "current", "changed"]
Version = str | int
Steps = Plan["DocumentWrite"]

#: How long a delete's tombstone refuses older upserts (see the module docstring for why a TTL).
TOMBSTONE_TTL = 7 * 24 * 3600
#: Rounds of read + script before giving up when older versions keep landing in between (each round one did).
MAX_ROUNDS = 16
#: Chunks per page when the index is asked for a document's chunks.
_PAGE = 10_000


def version_gate_lua(hash_arg: int) -> str:
    """The opening both backends' document scripts share: ``newer`` (version order) and the gate that returns early
    for a version already applied (``current``), an older one (``stale``), or an ``advance`` (the content hash is
    ``ARGV[hash_arg]``). Expects the locals ``rec`` (the version record), ``op`` and ``version``; leaves
    ``stored`` and ``previous`` for the rest of the script."""
    return _NEWER_LUA + _GATE_LUA.replace("ARGV[HASH]", f"ARGV[{hash_arg}]")


_NEWER_LUA = """
local function newer(a, b)  -- version a > version b; decimal strings without leading zeros, so no float rounding
  local am, as = string.match(a, '^(%d+)%-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)%-(%d+)$')
  if not bm then return true end
  if #am ~= #bm then return #am > #bm end
  if am ~= bm then return am > bm end
  if #as ~= #bs then return #as > #bs end
  return as > bs
end
"""
_GATE_LUA = """
local stored = redis.call('HGET', rec, 'v')
if stored then
  if stored == version then return {'current', stored, 0} end
  if not newer(version, stored) then return {'stale', stored, 0} end
end
local previous = stored or ''
if op == 'advance' then
  if redis.call('HEXISTS', rec, 'deleted') == 1 or redis.call('HGET', rec, 'hash') ~= ARGV[HASH] then
    return {'changed', previous, 0}
  end
  redis.call('HSET', rec, 'v', version)
  return {'unchanged', previous, 0}
end
"""

# KEYS[1] the version record; KEYS[2 .. 1+n] chunk keys of older versions (removed); KEYS[2+n ..] the new chunks.
# ARGV[1] op; ARGV[2] version 'ms-seq'; ARGV[3] the record's chunks field as read ('=' .. value, '' if absent);
# ARGV[4] n; ARGV[5] the doc id as the chunks store it; ARGV[6] content hash; ARGV[7] new chunk ids (JSON);
# ARGV[8] tombstone TTL (s);
# ARGV[9] deps-key prefix ('' = no invalidation here); ARGV[10] m; ARGV[11 .. 10+m] ids to invalidate;
# then per new chunk: the number of field/value items, the items.
# Returns {status, previous version or '', chunks removed}.
WRITE_SCRIPT = (
    INVALIDATE_LUA
    + """
local rec, op, version = KEYS[1], ARGV[1], ARGV[2]
"""
    + version_gate_lua(6)
    + """
local tracked = redis.call('HGET', rec, 'chunks')
if (tracked and ('=' .. tracked) or '') ~= ARGV[3] then return {'moved', previous, 0} end
local n = tonumber(ARGV[4])
for i = 2 + n, #KEYS do
  local owner = redis.call('HGET', KEYS[i], 'doc_id')
  if owner and owner ~= ARGV[5] then
    return redis.error_reply('record ' .. KEYS[i] .. ' belongs to document ' .. owner .. ', not ' .. ARGV[5])
  end
end
local removed = 0
for i = 2, 1 + n do removed = removed + redis.call('DEL', KEYS[i]) end
local m = tonumber(ARGV[10])
local pos = 11 + m
for i = 2 + n, #KEYS do
  local items = tonumber(ARGV[pos])
  redis.call('DEL', KEYS[i])
  redis.call('HSET', KEYS[i], unpack(ARGV, pos + 1, pos + items))
  pos = pos + items + 1
end
redis.call('DEL', rec)
if op == 'delete' then
  redis.call('HSET', rec, 'v', version, 'chunks', '[]', 'deleted', '1')
  redis.call('EXPIRE', rec, tonumber(ARGV[8]))
else
  redis.call('HSET', rec, 'v', version, 'chunks', ARGV[7], 'hash', ARGV[6])
end
if ARGV[9] ~= '' then
  local ids = {}
  for i = 11, 10 + m do ids[#ids + 1] = ARGV[i] end
  invalidate(ARGV[9], ids)
end
return {'applied', previous, removed}
"""
)


class CrossSlotDocumentError(RedisRagError, ValueError):
    """On a cluster, a document's chunk keys and version record live on several slots: no atomic write."""


class Target(NamedTuple):
    """What a versioned write needs to know about its index."""

    layout: Layout
    index_name: str
    invalidate: bool
    cluster: bool


@dataclass(frozen=True)
class DocumentWrite:
    """The outcome of a versioned write.

    ``status``: ``applied`` (written), ``unchanged`` (content already indexed; version advanced), ``stale`` (a
    newer version is indexed: nothing written), ``current`` (this very version is indexed: a replay), ``changed``
    (advance refused: the indexed content is no longer the expected one; embed and replace instead).
    """

    status: Status
    previous: str | None
    removed: int = 0
    #: Ids whose cache entries the caller still has to drop (clusters: the script cannot reach the links' keys).
    invalidate: tuple[str, ...] = ()

    @property
    def applied(self) -> bool:
        return self.status in ("applied", "unchanged")


@dataclass(frozen=True)
class DocumentState:
    """What the version record says: the applied version, and its content hash (``None`` after a delete)."""

    version: str
    content_hash: str | None

    @property
    def deleted(self) -> bool:
        return self.content_hash is None


def normalize(version: Version) -> str:
    """``version`` as canonical ``ms-seq``: a stream entry id, ``"ms"`` or a non-negative int (``n`` -> ``n-0``)."""
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise TypeError(f"version must be a stream entry id ('ms-seq') or an int, got {version!r}")
    ms, _, seq = str(version).partition("-")
    if not (ms.isdigit() and ms.isascii() and (seq == "" or (seq.isdigit() and seq.isascii()))):
        raise ValueError(f"version must look like a stream entry id 'ms-seq' (or an int), got {version!r}")
    return f"{int(ms)}-{int(seq or 0)}"


def parse(version: str) -> tuple[int, int]:
    """``ms-seq`` as two integers, the order stream entry ids have (``"10-0" > "9-5"``, unlike the strings)."""
    ms, _, seq = normalize(version).partition("-")
    return int(ms), int(seq)


def chunks_hash(records: Sequence[Any]) -> str:
    """A content hash for a chunk set whose caller names none: the chunks' ids and content, in order."""
    payload = json.dumps([[r.id, r.content_hash] for r in records], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def record_key(layout: Layout, doc_id: str) -> str:
    return f"{layout.key_prefix}~doc:{doc_id}"


def records_pattern(layout: Layout) -> str:
    """A SCAN pattern matching every version record of ``layout`` (the prefix's glob characters escaped)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", layout.key_prefix) + "~doc:*"


def read_commands(layout: Layout, doc_ids: Sequence[str]) -> list[Command]:
    return [("HMGET", record_key(layout, d), "v", "hash", "deleted") for d in doc_ids]


def states(doc_ids: Sequence[str], replies: Sequence[Any]) -> dict[str, DocumentState]:
    """Replies of :func:`read_commands` as states; documents without a record are left out."""
    out: dict[str, DocumentState] = {}
    for doc_id, (version, digest, deleted) in zip(doc_ids, replies, strict=True):
        if version is not None:
            digest = None if deleted is not None or digest is None else as_str(digest)
            out[doc_id] = DocumentState(as_str(version), digest)
    return out


def write_steps(
    target: Target,
    doc_id: str,
    op: Op,
    version: Version,
    checked: Sequence[tuple[str, Checked]] = (),
    *,
    content_hash: str = "",
    tombstone_ttl: int = TOMBSTONE_TTL,
) -> Steps:
    """The commands of one versioned write, as a generator: it yields commands, receives their replies.

    Why a generator: the sync and the async client run the same steps (:func:`.executor.apply`,
    :func:`.executor.aapply`), so the protocol is written once.
    """
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"doc_id must be a non-empty string, got {doc_id!r}")
    if tombstone_ttl <= 0:
        raise ValueError(f"tombstone_ttl must be a positive number of seconds, got {tombstone_ttl}")
    for _, c in checked:
        if c.record.doc_id != doc_id:
            raise ValueError(f"record {c.record.id!r} belongs to {c.record.doc_id!r}, not {doc_id!r}")
    version = normalize(version)
    layout, rec = target.layout, record_key(target.layout, doc_id)
    head = len(layout.key_prefix) + 1
    new_keys = [key for key, _ in checked]
    for _ in range(MAX_ROUNDS):
        reads: list[Command] = [("HMGET", rec, "v", "chunks")]
        lookup = op != "advance" and not target.cluster
        if lookup:
            reads.append(_lookup(target, doc_id, 0, _PAGE))
        replies = yield Pipeline(reads, errors_in_place=True)
        _raise_errors(replies)
        stored, tracked = (None if v is None else as_str(v) for v in replies[0])
        if stored is not None and parse(version) <= parse(stored):
            return DocumentWrite("current" if stored == version else "stale", stored)
        found: list[str] = []
        if lookup:
            total, found = _found(replies[1])
            if total > len(found):
                more = yield Pipeline([_lookup(target, doc_id, len(found), total - len(found))], errors_in_place=True)
                _raise_errors(more)
                found += _found(more[0])[1]
        old = dict.fromkeys([layout.key(i) for i in json.loads(tracked or "[]")] + found)
        old_keys = [k for k in old if k not in set(new_keys)]
        ids = list(dict.fromkeys([doc_id, *(k[head:] for k in old_keys), *(c.record.id for _, c in checked)]))
        keys = [rec, *old_keys, *new_keys]
        if target.cluster and len({key_slot(k.encode()) for k in keys}) > 1:
            raise CrossSlotDocumentError(
                f"document {doc_id!r}: its chunks and version record live on several cluster slots, so no atomic "
                f"versioned write is possible; put the index's key prefix under a hash tag (e.g. '{{tenant}}:docs')"
            )
        in_script = target.invalidate and not target.cluster and op != "advance"
        args: list[Any] = [
            op, version, "" if tracked is None else "=" + tracked, len(old_keys), doc_id, content_hash,
            json.dumps([c.record.id for _, c in checked], ensure_ascii=False), int(tombstone_ttl),
            keys_of(target.layout.key_prefix).deps_prefix if in_script else "",
            len(ids) if in_script else 0, *(ids if in_script else ()),
        ]  # fmt: skip
        for _, c in checked:
            mapping = Layout.assemble(c)
            args[4] = mapping[DOC_ID]  # the stored form, which the ownership check compares with
            args.append(2 * len(mapping))
            for field, value in mapping.items():
                args += (field, value)
        reply = (yield Pipeline([("EVALSHA", _SHA, len(keys), *keys, *args)], errors_in_place=True))[0]
        if isinstance(reply, NoScriptError):
            reply = (yield Pipeline([("EVAL", WRITE_SCRIPT, len(keys), *keys, *args)], errors_in_place=True))[0]
        _raise_errors([reply])
        status, previous, removed = as_str(reply[0]), as_str(reply[1]) or None, int(reply[2])
        if status == "moved":
            continue
        late = tuple(ids) if status == "applied" and target.invalidate and target.cluster else ()
        return DocumentWrite(status, previous, removed, late)  # type: ignore[arg-type]
    raise RedisRagError(f"document {doc_id!r}: its chunk list kept changing under {MAX_ROUNDS} attempts to write it")


def settled(steps: Steps, fresh: FreshKeys = GLOBAL) -> Steps:
    """``steps``, then (clusters) the cache invalidation the script could not do: it cannot reach the links' keys.
    ``fresh``: the index's freshness namespace (its tenant's, :func:`..freshness.keys_of`)."""
    result = yield from steps
    if result.invalidate:
        yield Invalidate(result.invalidate, fresh)
    return result


def read_states(layout: Layout, doc_ids: Sequence[str]) -> Plan[dict[str, DocumentState]]:
    """The applied version and content hash of each document that has a version record (others are left out)."""
    return states(doc_ids, (yield Pipeline(read_commands(layout, doc_ids))))


def _lookup(target: Target, doc_id: str, offset: int, count: int) -> Command:
    query = str(compile_filter(target.layout, {DOC_ID: doc_id}))  # the filters' own tag encoding and escaping
    return ("FT.SEARCH", target.index_name, query, "NOCONTENT", "LIMIT", offset, count, "DIALECT", 2)


def _found(reply: Any) -> tuple[int, list[str]]:
    return int(reply[0]), [as_str(k) for k in reply[1:]]


def _raise_errors(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
            raise reply


_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()
