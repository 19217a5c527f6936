"""Replace a record and forget the cache answers built from its old content, in one server-side step.

Why a script: an upsert must (1) drop fields the new version no longer has, (2) write the new fields, and (3) when
the content or the document changed, delete the semantic-cache entries that depend on the record or its document
and, while an answer is being generated, stamp the change (:mod:`redis_rag_integrations.freshness`). Done from
the client that is a read round trip, a MULTI/EXEC write and two more round trips for the invalidation; it made
ingestion 0.63x a raw pipelined ``HSET``. As one Lua script per record, queued in a plain pipeline, a batch costs
one round trip, each record is replaced atomically (no reader sees a half-written hash: scripts run without
interleaving), and a record whose content is unchanged triggers nothing.

The script reads the old ``doc_id`` to invalidate the document a record moves away from, a key it cannot declare
in advance. That is fine on a standalone server; a cluster cannot allow it, so :class:`RedisVectorIndex` keeps
its client-side path there (see :func:`uses_script`).
"""

from __future__ import annotations

from typing import Any

from redis.cluster import RedisCluster

from ..freshness import CHANGED_PREFIX, CLOCK_KEY, DEPS_PREFIX, INFLIGHT_KEY, WATCH_SECONDS
from .layout import CONTENT_HASH, DOC_ID

# KEYS[1] the record's hash.
# ARGV[1] deps-key prefix ('' = do not invalidate caches); ARGV[2] the new content hash; ARGV[3] the record id;
# ARGV[4] the new doc id ('' if none); ARGV[5] n, the number of optional fields; ARGV[6 .. 5+n] optional fields
# the new version lacks (dropped if present); then field, value pairs to write.
# Returns the number of cache entries deleted, or -1 when neither the content nor the document changed.
UPSERT_SCRIPT = """
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
local watching = redis.call('ZCARD', '@INFLIGHT@') > 0
local version = watching and redis.call('INCR', '@CLOCK@')
local dropped = 0
for _, id in ipairs({ARGV[3], ARGV[4], old[2]}) do
  if id and id ~= '' then
    local deps = ARGV[1] .. id
    local entries = redis.call('SMEMBERS', deps)
    if #entries > 0 then
      for _, entry in ipairs(entries) do dropped = dropped + redis.call('DEL', entry) end
      redis.call('DEL', deps)
    end
    if watching then redis.call('SET', '@CHANGED@' .. id, version, 'EX', @TTL@) end
  end
end
return dropped
"""
for _name, _value in (("@INFLIGHT@", INFLIGHT_KEY), ("@CLOCK@", CLOCK_KEY), ("@CHANGED@", CHANGED_PREFIX)):
    UPSERT_SCRIPT = UPSERT_SCRIPT.replace(_name, _value)
UPSERT_SCRIPT = UPSERT_SCRIPT.replace("@TTL@", str(WATCH_SECONDS))

assert CONTENT_HASH == "content_hash" and DOC_ID == "doc_id", "UPSERT_SCRIPT names these fields literally"


def uses_script(client: Any) -> bool:
    """True for standalone (and sentinel-managed) servers; cluster clients keep the client-side path."""
    return not (isinstance(client, RedisCluster) or hasattr(client, "nodes_manager"))


def script_args(mapping: dict[str, Any], optional_fields: tuple[str, ...], invalidate: bool) -> list[Any]:
    """The ARGV of :data:`UPSERT_SCRIPT` for one encoded record."""
    absent = [f for f in optional_fields if f not in mapping]
    args: list[Any] = [
        DEPS_PREFIX if invalidate else "",
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
