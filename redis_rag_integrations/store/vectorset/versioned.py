"""Versioned document writes on a vector set: the protocol of :mod:`..versioned`, in one script call.

The query-engine backend reads a document's chunks with ``FT.SEARCH`` before its script and retries when they
moved in between. Here a document's chunks are a SET the writes keep exact (:mod:`.writes`), on the index's slot,
so the script reads them itself: version check, removal of the chunks the new version lacks, ``VADD`` of the new
ones, the version record and (standalone) the cache invalidation are one atomic step, one round trip. The version
records, statuses and tombstones are the other backend's (:class:`..versioned.DocumentWrite`), so the ingestion
worker drives both alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from ...decoding import as_str
from ...freshness import keys_of
from .. import versioned as common
from ..executor import Pipeline, Plan
from ..layout import Checked
from .layout import AttributeCodec, VectorSetKeys, VectorSetOptions, encode_str
from .writes import FORMS_LUA

# KEYS[1] the vector set, KEYS[2] the version record, KEYS[3] the document's chunk set.
# ARGV[1] op; ARGV[2] version 'ms-seq'; ARGV[3] content hash; ARGV[4] doc id (filter form); ARGV[5] tombstone TTL;
# ARGV[6] deps prefix ('' = the client invalidates); ARGV[7] doc-set key prefix; ARGV[8] v; ARGV[9] REDUCE dims
# ('' = none), ARGV[10 .. 8+v] the VADD options; then per new chunk: element, FP32 vector, attributes.
# Returns {status, previous version or '', chunks removed, raw ids to invalidate...}.
WRITE_SCRIPT = (
    FORMS_LUA
    + """
local vset, rec, chunks, op, version = KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2]
"""
    + common.version_gate_lua(3)
    + """
local nopts = tonumber(ARGV[8])
local first = 9 + nopts
local new = {}
for i = first, #ARGV, 3 do
  local owner = olddoc(redis.call('VGETATTR', vset, ARGV[i]))
  if owner ~= '' and owner ~= ARGV[4] then
    local why = ' belongs to document ' .. rawof(owner) .. ', not ' .. rawof(ARGV[4])
    return redis.error_reply('record ' .. ARGV[i] .. why)
  end
  new[ARGV[i]] = true
end
local removed, raws = 0, {rawof(ARGV[4])}
for _, id in ipairs(redis.call('SMEMBERS', chunks)) do
  if not new[id] then
    removed = removed + redis.call('VREM', vset, id)
    redis.call('SREM', chunks, id)
    raws[#raws + 1] = id
  end
end
for i = first, #ARGV, 3 do
  vadd(vset, ARGV[9], ARGV[i + 1], ARGV[i], ARGV[i + 2], ARGV, 10, 8 + nopts)
  redis.call('SADD', chunks, ARGV[i])
  raws[#raws + 1] = ARGV[i]
end
redis.call('DEL', rec)
if op == 'delete' then
  redis.call('HSET', rec, 'v', version, 'deleted', '1')
  redis.call('EXPIRE', rec, tonumber(ARGV[5]))
else
  redis.call('HSET', rec, 'v', version, 'hash', ARGV[3])
end
local out = {}
forget(ARGV[6], raws, out)
return {'applied', previous, removed, unpack(out)}
"""
)
_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()


def write_steps(
    keys: VectorSetKeys,
    codec: AttributeCodec,
    options: VectorSetOptions,
    doc_id: str,
    op: common.Op,
    version: common.Version,
    checked: Sequence[Checked] = (),
    *,
    invalidate: bool,
    cluster: bool,
    content_hash: str = "",
    tombstone_ttl: int = common.TOMBSTONE_TTL,
) -> common.Steps:
    """One versioned write (same arguments and outcome as :func:`..versioned.write_steps`)."""
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"doc_id must be a non-empty string, got {doc_id!r}")
    if tombstone_ttl <= 0:
        raise ValueError(f"tombstone_ttl must be a positive number of seconds, got {tombstone_ttl}")
    for c in checked:
        if c.record.doc_id != doc_id:
            raise ValueError(f"record {c.record.id!r} belongs to {c.record.doc_id!r}, not {doc_id!r}")
    version = common.normalize(version)
    form = encode_str(doc_id)
    vadd = [options.reduce or "", *options.vadd_args()]
    in_script = invalidate and not cluster and op != "advance"
    deps = keys_of(keys.prefix).deps_prefix if in_script else ""
    args: list[Any] = [op, version, content_hash, form, int(tombstone_ttl), deps, keys.doc_prefix, len(vadd), *vadd]
    for c in checked:
        args += (c.record.id, c.vector, codec.encode(c))
    script_keys = [keys.vset, keys.version(form), keys.doc(form)]
    reply = (yield Pipeline([("EVALSHA", _SHA, 3, *script_keys, *args)], errors_in_place=True))[0]
    if isinstance(reply, NoScriptError):
        reply = (yield Pipeline([("EVAL", WRITE_SCRIPT, 3, *script_keys, *args)], errors_in_place=True))[0]
    if isinstance(reply, ResponseError):
        raise reply
    status, previous, removed = as_str(reply[0]), as_str(reply[1]) or None, int(reply[2])
    late: tuple[str, ...] = ()
    if status == "applied" and invalidate and cluster:
        late = tuple(
            dict.fromkeys(r.decode("utf-8", "surrogatepass") if isinstance(r, bytes) else r for r in reply[3:])
        )
    return common.DocumentWrite(status, previous, removed, late)  # type: ignore[arg-type]


def read_states(keys: VectorSetKeys, doc_ids: Sequence[str]) -> Plan[dict[str, common.DocumentState]]:
    commands = [("HMGET", keys.version(encode_str(d)), "v", "hash", "deleted") for d in doc_ids]
    return common.states(doc_ids, (yield Pipeline(commands)))
