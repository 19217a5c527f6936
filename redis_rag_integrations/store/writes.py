"""How records are written: new ones as plain hashes, existing ones replaced by a server-side script.

An upsert must (1) drop fields the new version no longer has, (2) write the new fields, and (3) when the content or
the document changed, delete the semantic-cache entries that depend on the record or its document and, while an
answer is being generated, stamp the change (:mod:`redis_rag_integrations.freshness`). Three write paths:

- ``new-first`` (standalone Redis 8+, the default there). Bulk ingestion mostly writes records that do not exist
  yet, and for those (1) is moot. One script call finds which records are new and invalidates their documents (a
  document that gained a chunk may answer differently) *before* anything is written, so a client that dies
  mid-write leaves no answer built from the old document. ``HSETEX key FNX FIELDS ...`` then creates each new hash,
  only if none of its fields exist yet (one command the search index sees as a plain ``HSET``); one another writer
  created meanwhile, and every record that existed, go to the script below. The new records' documents are
  invalidated once more after the write, for answers retrieved in between. This path costs the server what raw
  pipelined ``HSET`` does; the script costs it ~14 us more per record (Lua call and checks).
- ``script`` (standalone servers without ``HSETEX``, and existing records on the path above). One Lua script per
  record, queued with the others: each record is replaced atomically (scripts run without interleaving) and a
  record whose content is unchanged triggers no invalidation.
- ``client-side`` (clusters). The script reads the old ``doc_id`` to invalidate the document a record moves away
  from, a key it cannot declare in advance; a cluster cannot allow that, so :class:`RedisVectorIndex` reads old
  hashes, writes in a pipeline and invalidates from the client there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import Any, Literal, TypeVar

from redis.exceptions import ResponseError

from .. import tags
from ..connection import is_cluster
from ..freshness import DEPS_PREFIX, GLOBAL, WATCH_SECONDS, FreshKeys, keys_of
from ..hello import hello, redis_major
from . import bulk
from .bulk import Command, first_error
from .executor import Call, Eval, Invalidate, Pipeline, Plan, Scripts, Search, Stream
from .find import keys_command, reply_keys
from .layout import CONTENT_HASH, DOC_ID, EXTRA, Checked, Layout


def _sha(script: str) -> str:
    """The SHA1 the server files ``script`` under (what ``SCRIPT LOAD`` answers)."""
    return hashlib.sha1(script.encode()).hexdigest()


WritePath = Literal["new-first", "script", "client-side"]
Encoded = tuple[str, dict[str, Any]]
T = TypeVar("T")

# Lua shared by both scripts: delete the cache entries linked to each id (and the links), stamping the ids while any
# answer is in flight. ``prefix`` is the deps-key prefix of a freshness namespace (:class:`..freshness.FreshKeys`:
# untenanted ``rag:deps:`` or a tenant's ``rag:{t}:deps:``); the clock, in-flight set and stamps share its root.
# Returns the number of entries deleted.
_INVALIDATE_LUA = """
local function invalidate(prefix, ids)
  local root = string.sub(prefix, 1, -6)  -- 'rag:deps:' -> 'rag:'
  local watching = redis.call('ZCARD', root .. 'fresh:inflight') > 0
  local version = watching and redis.call('INCR', root .. 'fresh:clock')
  local dropped = 0
  for _, id in ipairs(ids) do
    if id and id ~= '' then
      local deps = prefix .. id
      local entries = redis.call('SMEMBERS', deps)
      if #entries > 0 then
        for _, entry in ipairs(entries) do dropped = dropped + redis.call('DEL', entry) end
        redis.call('DEL', deps)
      end
      if watching then redis.call('SET', root .. 'changed:' .. id, version, 'EX', @TTL@) end
    end
  end
  return dropped
end
"""
_INVALIDATE_LUA = _INVALIDATE_LUA.replace("@TTL@", str(WATCH_SECONDS))
_probe = FreshKeys("R:")
_names = (_probe.inflight, _probe.clock, _probe.deps_prefix, _probe.changed_prefix)
assert _names == ("R:fresh:inflight", "R:fresh:clock", "R:deps:", "R:changed:"), "invalidate() in Lua builds these"
#: The Lua ``invalidate(prefix, ids)`` function, for other scripts that invalidate in their own atomic step
#: (:mod:`.versioned`).
INVALIDATE_LUA = _INVALIDATE_LUA

# KEYS[1] the record's hash.
# ARGV[1] deps-key prefix ('' = do not invalidate caches); ARGV[2] the new content hash; ARGV[3] the record id;
# ARGV[4] the new doc id ('' if none); ARGV[5] n, the number of optional fields; ARGV[6 .. 5+n] optional fields
# the new version lacks (dropped if present); then field, value pairs to write.
# Returns the number of cache entries deleted, or -1 when neither the content nor the document changed.
UPSERT_SCRIPT = (
    _INVALIDATE_LUA
    + """
local key = KEYS[1]
local n = tonumber(ARGV[5])
local old = redis.call('HMGET', key, 'content_hash', 'doc_id', unpack(ARGV, 6, 5 + n))
local stale = {}
for i = 1, n do
  if old[2 + i] then stale[#stale + 1] = ARGV[5 + i] end
end
if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
redis.call('HSET', key, unpack(ARGV, 6 + n))
if ARGV[1] == '' or (old[1] == ARGV[2] and (old[2] or '') == ARGV[4]) then return -1 end
return invalidate(ARGV[1], {ARGV[3], ARGV[4], old[2] or ''})
"""
)

# ARGV[1] deps-key prefix; ARGV[2..] ids (of new records and their documents). Returns entries deleted.
INVALIDATE_SCRIPT = (
    _INVALIDATE_LUA
    + """
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end  -- not unpack(): a bulk add can pass more ids than Lua's stack holds
return invalidate(ARGV[1], ids)
"""
)

# KEYS the records' hashes. ARGV[1] deps-key prefix ('' = do not invalidate caches); ARGV[2i], ARGV[2i + 1] the id
# and doc id ('' if none) of record i. Returns, per record, 1 if its hash does not exist yet, else 0; invalidates the
# ids and documents of those new records first.
NEW_RECORDS_SCRIPT = (
    _INVALIDATE_LUA
    + """
local flags, ids, seen = {}, {}, {}
for i = 1, #KEYS do
  flags[i] = 1 - redis.call('EXISTS', KEYS[i])
  if flags[i] == 1 then
    for _, id in ipairs({ARGV[2 * i], ARGV[2 * i + 1]}) do
      if id ~= '' and not seen[id] then seen[id] = true; ids[#ids + 1] = id end
    end
  end
end
if ARGV[1] ~= '' and #ids > 0 then invalidate(ARGV[1], ids) end
return flags
"""
)

UPSERT_SHA = _sha(UPSERT_SCRIPT)
NEW_RECORDS_SHA = _sha(NEW_RECORDS_SCRIPT)
INVALIDATE_SHA = _sha(INVALIDATE_SCRIPT)

assert CONTENT_HASH == "content_hash" and DOC_ID == "doc_id", "UPSERT_SCRIPT names these fields literally"


def default_path(client: Any) -> WritePath:
    """The fastest correct path for ``client``'s server (one ``INFO server`` round trip on a standalone one).

    ``HSETEX`` (with ``FNX``) arrived in Redis 8.0. Forks that report an older ``redis_version`` (Valkey says
    7.2.4) take the script path, which every server with Lua has.
    """
    if is_cluster(client):
        return "client-side"
    try:
        version = str(client.info("server").get("redis_version", "0"))
    except ResponseError:  # INFO denied by an ACL (the package's roles): HELLO says the product and version
        try:
            major = redis_major(hello(client))
        except ResponseError:  # denied too: assume the oldest server we support
            return "script"
        return "new-first" if major is not None and major >= 8 else "script"
    major = version.split(".", 1)[0]
    return "new-first" if major.isdigit() and int(major) >= 8 else "script"


def create_commands(checked: Iterable[tuple[str, Checked]], encoded: list[Encoded]) -> Iterator[Command]:
    """One ``HSETEX key FNX FIELDS n f v ...`` per record: written only where none of its fields exist yet.

    A generator that assembles each record as its batch is about to be sent, appending it to ``encoded`` (the
    records that turn out to exist already are replaced by the script next).
    """
    for key, record in checked:
        mapping = Layout.assemble(record)
        encoded.append((key, mapping))
        command: list[Any] = ["HSETEX", key, "FNX", "FIELDS", len(mapping)]
        for field, value in mapping.items():
            command.append(field)
            command.append(value)
        yield command


def split_created(encoded: Sequence[Encoded], replies: Sequence[Any]) -> tuple[list[Encoded], list[Encoded]]:
    """(records that already existed and still need the script, records just created); raises the first error."""
    error = first_error(replies, [key for key, _ in encoded])
    if error is not None:
        raise error
    created, existing = _partition(encoded, replies)
    return existing, created


def new_records_args(checked: Sequence[tuple[str, Checked]], invalidate: bool, deps: str = DEPS_PREFIX) -> list[str]:
    """ARGV of :data:`NEW_RECORDS_SCRIPT` (its KEYS are the keys of ``checked``)."""
    args = [deps if invalidate else ""]
    for _, c in checked:  # in their stored form, as the other scripts read them from the hashes
        args.append(tags.encode(c.record.id))
        args.append("" if c.record.doc_id is None else tags.encode(str(c.record.doc_id)))
    return args


def split_new(
    checked: Sequence[tuple[str, Checked]], flags: Sequence[Any]
) -> tuple[list[tuple[str, Checked]], list[tuple[str, Checked]]]:
    """(records whose hash did not exist, records that exist) by :data:`NEW_RECORDS_SCRIPT`'s flags."""
    return _partition(checked, flags)


def _partition(items: Sequence[T], flags: Sequence[Any]) -> tuple[list[T], list[T]]:
    """(items whose flag is 1, items whose flag is 0): the servers' 1/0 replies, in order."""
    ones: list[T] = []
    zeros: list[T] = []
    for item, flag in zip(items, flags, strict=True):
        (ones if int(flag) else zeros).append(item)
    return ones, zeros


def invalidate_args(created: Sequence[Encoded], deps: str = DEPS_PREFIX) -> list[str]:
    """ARGV of :data:`INVALIDATE_SCRIPT` for new records: their ids and documents, each once."""
    ids = dict.fromkeys(str(m["id"]) for _, m in created)
    ids.update(dict.fromkeys(str(m[DOC_ID]) for _, m in created if m.get(DOC_ID)))
    return [deps, *ids]


def script_args(
    mapping: dict[str, Any], optional_fields: tuple[str, ...], invalidate: bool, deps: str = DEPS_PREFIX
) -> list[Any]:
    """The ARGV of :data:`UPSERT_SCRIPT` for one encoded record."""
    absent = [f for f in optional_fields if f not in mapping]
    args: list[Any] = [
        deps if invalidate else "",
        mapping[CONTENT_HASH],
        mapping["id"],
        mapping.get(DOC_ID, ""),
        len(absent),
        *absent,
    ]
    for field, value in mapping.items():
        args.append(field)
        args.append(value)
    return args


def script_commands(
    encoded: Iterable[Encoded], optional_fields: tuple[str, ...], invalidate: bool, deps: str = DEPS_PREFIX
) -> Iterator[Command]:
    """One ``EVALSHA`` of :data:`UPSERT_SCRIPT` per encoded record, built as its batch is about to be sent."""
    for key, mapping in encoded:
        yield ["EVALSHA", UPSERT_SHA, 1, key, *script_args(mapping, optional_fields, invalidate, deps)]


# --- the plans: what each write sends, run by :func:`.executor.apply` / :func:`.executor.aapply` -------------------


def upsert(
    layout: Layout, checked: Sequence[tuple[str, Checked]], path: WritePath, small_write: int, invalidate: bool,
    batch_size: int,
) -> Plan[None]:  # fmt: skip
    """Write checked records on ``path``; below ``small_write`` records the new-first path takes the script alone
    (one round trip, where creating new records first takes two)."""
    stream = min(batch_size, bulk.STREAM_BATCH)
    optional = (DOC_ID, EXTRA, *layout.metadata_fields)
    fresh = keys_of(layout.key_prefix)  # a tenant's records invalidate that tenant's caches only
    if path == "client-side":
        yield from _client_side(checked, invalidate, batch_size, fresh)
    elif path == "new-first" and len(checked) >= small_write:
        args = new_records_args(checked, invalidate, fresh.deps_prefix)
        keys = [k for k, _ in checked]
        new, old = split_new(checked, (yield Eval(NEW_RECORDS_SCRIPT, NEW_RECORDS_SHA, keys, args)))
        encoded: list[Encoded] = []
        existing, created = split_created(encoded, (yield Stream(create_commands(new, encoded), stream)))
        if created and invalidate:
            yield Eval(INVALIDATE_SCRIPT, INVALIDATE_SHA, [], invalidate_args(created, fresh.deps_prefix))
        if existing or old:
            commands = script_commands(chain(existing, _assembled(old)), optional, invalidate, fresh.deps_prefix)
            yield Scripts(commands, stream, UPSERT_SCRIPT)
    elif checked:
        commands = script_commands(_assembled(checked), optional, invalidate, fresh.deps_prefix)
        yield Scripts(commands, stream, UPSERT_SCRIPT)


def _client_side(
    checked: Sequence[tuple[str, Checked]], invalidate: bool, batch_size: int, fresh: FreshKeys = GLOBAL
) -> Plan[None]:
    """Clusters: read the old hashes, rewrite each batch in a pipeline (DEL + HSET), then invalidate what changed."""
    encoded = [(key, Layout.assemble(c)) for key, c in checked]
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        old = (yield Pipeline([("HMGET", key, CONTENT_HASH, DOC_ID) for key, _ in batch])) if invalidate else []
        changed = changed_ids(batch, old)
        rewrite = [c for key, mapping in batch for c in (("DEL", key), ("HSET", key, *chain(*mapping.items())))]
        yield Pipeline(rewrite, atomic=True)
        if changed:
            yield Invalidate(changed, fresh)


def changed_ids(batch: Sequence[Encoded], old: Sequence[Any]) -> list[str]:
    """Ids and document ids whose content changed: the caches must forget answers built from them."""
    out: list[str] = []
    for (_, mapping), (old_hash, old_doc) in zip(batch, old, strict=False):
        same_doc = (old_doc.decode() if old_doc else None) == mapping.get(DOC_ID)
        if old_hash is not None and old_hash.decode() == mapping[CONTENT_HASH] and same_doc:
            continue
        out.append(str(mapping["id"]))
        out.extend(str(d) for d in (mapping.get(DOC_ID), old_doc and old_doc.decode()) if d)
    return list(dict.fromkeys(tags.decode(i) for i in out))  # stored forms -> the callers' ids


def delete(layout: Layout, ids: Sequence[str], invalidate: bool) -> Plan[int]:
    """Delete records by id (their document ids read first, for the caches); the result is how many existed."""
    keys = [layout.key(i) for i in ids]
    if not keys:
        return 0
    doc_ids = yield Pipeline([("HGET", key, DOC_ID) for key in keys])
    deleted = int((yield Call("delete", keys)))  # redis-py splits a multi-key DEL across a cluster's slots
    if invalidate:
        stale = [k[len(layout.key_prefix) + 1 :] for k in keys]
        stale.extend(tags.decode(d.decode()) for d in doc_ids if d)
        yield Invalidate(list(dict.fromkeys(stale)), keys_of(layout.key_prefix))
    return deleted


def delete_documents(layout: Layout, doc_ids: Sequence[str], invalidate: bool) -> Plan[int]:
    """Delete every chunk of the given documents; the result is how many chunks went."""
    if not doc_ids:
        return 0
    deleted = yield from drop_where(layout, tags.tag_clause(DOC_ID, doc_ids, encoded=layout.dialect == "native"))
    if invalidate:
        yield Invalidate(doc_ids, keys_of(layout.key_prefix))
    return deleted


#: Keys read and unlinked per round of a delete by filter (redisvl's ``drop_by_filter`` / ``clear`` batch).
DROP_BATCH = 500


def drop_where(layout: Layout, where: str) -> Plan[int]:
    """Delete every record the index returns for the query string ``where`` (``*``: all); the result is how many.

    Rounds of :data:`DROP_BATCH`: the keys only (``NOCONTENT``), searched on the index's node (the op is
    :class:`.executor.Search`), then ``UNLINK``; a deleted hash leaves the index at once, so every round searches
    from the start. A round that deletes nothing (keys listed but gone) ends it rather than loop.
    """
    command = keys_command(layout, where, DROP_BATCH)
    deleted = 0
    while keys := reply_keys((yield Search(layout.index_name, command))):
        removed = int((yield Call("unlink", keys)))  # redis-py splits a multi-key UNLINK across a cluster's slots
        deleted += removed
        if not removed:
            break
    return deleted


def _assembled(checked: Iterable[tuple[str, Checked]]) -> Iterator[Encoded]:
    """Hash fields of checked records, assembled lazily (as their batch is about to be sent)."""
    for key, c in checked:
        yield key, Layout.assemble(c)
