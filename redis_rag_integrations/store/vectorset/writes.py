"""Vector-set writes as plans (run by :func:`..executor.apply` / :func:`..executor.aapply`): upsert, delete,
delete by document. Each record is replaced by one script call, atomically: the element, its attributes (text and
metadata included: ``VADD ... SETATTR`` is one command), its document's chunk set, and, on a standalone server, the
semantic-cache entries built from it or its documents (:mod:`...freshness`, as the query-engine backend's scripts
do). A cluster cannot reach the cache links' keys from the script (other slots): there the scripts return the ids
that changed and the plan invalidates them from the client right after.

Every key a script touches is on the index's slot (:class:`.layout.VectorSetKeys`); the document sets a record
moves away from are named inside the script, from the element's old attributes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from ...freshness import FreshKeys, keys_of
from ..bulk import STREAM_BATCH, Command
from ..executor import Call, Invalidate, Pipeline, Plan, Stream
from ..layout import Checked
from ..writes import INVALIDATE_LUA
from .layout import AttributeCodec, VectorSetKeys, VectorSetOptions, encode_str

#: Lua helpers: the raw string of a filter-form one (``~hex``), and a raw string in :mod:`...tags`' stored form,
#: which names the cache links (``rag:deps:{stored id}``).
_FORMS_LUA = r"""
local function rawof(s)
  if string.sub(s, 1, 1) == '~' then
    return (string.gsub(string.sub(s, 2), '..', function(h) return string.char(tonumber(h, 16)) end))
  end
  return s
end
local function tagform(s)
  if s == '' or s == '_' or string.sub(s, 1, 1) == '~' or string.sub(s, 1, 1) == ' ' or string.sub(s, -1) == ' '
     or string.find(s, '[%z\1-\31\127]') then
    return '~' .. (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
  end
  return s
end
local function forget(prefix, raws, out)
  for _, r in ipairs(raws) do if r ~= '' then out[#out + 1] = r end end
  if prefix ~= '' then
    local stored = {}
    for _, r in ipairs(raws) do if r ~= '' then stored[#stored + 1] = tagform(r) end end
    invalidate(prefix, stored)
  end
end
local function vadd(key, reduce, blob, element, attrs, argv, first, last)
  if reduce ~= '' then
    return redis.call('VADD', key, 'REDUCE', reduce, 'FP32', blob, element, 'SETATTR', attrs, unpack(argv, first, last))
  end
  return redis.call('VADD', key, 'FP32', blob, element, 'SETATTR', attrs, unpack(argv, first, last))
end
local function olddoc(attrs)
  if not attrs then return '' end
  local doc = cjson.decode(attrs)['doc_id']
  if doc == nil or doc == cjson.null then return '' end
  return doc
end
"""
FORMS_LUA = INVALIDATE_LUA + _FORMS_LUA

# KEYS[1] the vector set. ARGV[1] deps prefix ('' = invalidate from the client); ARGV[2] doc-set key prefix;
# ARGV[3] element; ARGV[4] FP32 vector; ARGV[5] attributes; ARGV[6] doc id in filter form ('' none);
# ARGV[7] content hash; ARGV[8] REDUCE dims ('' = none); ARGV[9..] VADD options.
# Returns the raw ids whose cache entries must go ({} = unchanged).
UPSERT_SCRIPT = (
    FORMS_LUA
    + """
local old = redis.call('VGETATTR', KEYS[1], ARGV[3])
local prev, prev_hash = olddoc(old), old and cjson.decode(old)['content_hash']
vadd(KEYS[1], ARGV[8], ARGV[4], ARGV[3], ARGV[5], ARGV, 9, #ARGV)
if ARGV[6] ~= '' then redis.call('SADD', ARGV[2] .. ARGV[6], ARGV[3]) end
if prev ~= '' and prev ~= ARGV[6] then redis.call('SREM', ARGV[2] .. prev, ARGV[3]) end
local out = {}
if old and prev_hash == ARGV[7] and prev == ARGV[6] then return out end
forget(ARGV[1], {ARGV[3], rawof(ARGV[6]), rawof(prev)}, out)
return out
"""
)

# KEYS[1] the vector set. ARGV[1] deps prefix; ARGV[2] doc-set key prefix; ARGV[3..] elements.
# Returns {number removed, raw ids to invalidate...}.
DELETE_SCRIPT = (
    FORMS_LUA
    + """
local removed, raws = 0, {}
for i = 3, #ARGV do
  local old = redis.call('VGETATTR', KEYS[1], ARGV[i])
  if redis.call('VREM', KEYS[1], ARGV[i]) == 1 then
    removed = removed + 1
    local doc = olddoc(old)
    if doc ~= '' then redis.call('SREM', ARGV[2] .. doc, ARGV[i]); raws[#raws + 1] = rawof(doc) end
  end
  raws[#raws + 1] = ARGV[i]
end
local out = {}
forget(ARGV[1], raws, out)
return {removed, unpack(out)}
"""
)

# KEYS[1] the vector set. ARGV[1] deps prefix; ARGV[2] doc-set key prefix; ARGV[3..] doc ids in filter form.
# Returns {chunks removed, raw ids to invalidate...}.
DELETE_DOCS_SCRIPT = (
    FORMS_LUA
    + """
local removed, raws = 0, {}
for i = 3, #ARGV do
  local set = ARGV[2] .. ARGV[i]
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    removed = removed + redis.call('VREM', KEYS[1], id)
    raws[#raws + 1] = id
  end
  redis.call('DEL', set)
  raws[#raws + 1] = rawof(ARGV[i])
end
local out = {}
forget(ARGV[1], raws, out)
return {removed, unpack(out)}
"""
)


def sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


UPSERT_SHA, DELETE_SHA, DELETE_DOCS_SHA = sha(UPSERT_SCRIPT), sha(DELETE_SCRIPT), sha(DELETE_DOCS_SCRIPT)
#: Ids per delete script call: each call blocks the server while it runs.
DELETE_BATCH = 500


def scripted(commands: Iterable[Command], script: str, cluster: bool, batch_size: int = STREAM_BATCH) -> Plan[list]:
    """``EVALSHA`` commands of ``script``, streamed (standalone) or pipelined per batch (cluster); the script loaded
    again once if the server lost it; the first error raised naming the element. Result: the replies."""
    sent = list(commands) if cluster else []
    if cluster:
        replies: list[Any] = []
        for start in range(0, len(sent), batch_size):
            replies += yield Pipeline(sent[start : start + batch_size], errors_in_place=True)
    else:
        replies = yield Stream(_recording(commands, sent), batch_size)
    retry = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
    if retry:
        yield Call("script_load", [script])
        again = yield Pipeline([sent[i] for i in retry], errors_in_place=True)
        for i, reply in zip(retry, again, strict=True):
            replies[i] = reply
    for command, reply in zip(sent, replies, strict=True):
        if isinstance(reply, ResponseError):
            raise ResponseError(f"writing {_describe(command)}: {reply}")
    return replies


def _describe(command: Command) -> str:
    return f"element {command[6]!r}" if len(command) > 6 and command[1] == UPSERT_SHA else "the vector set"


def _recording(commands: Iterable[Command], sent: list[Command]) -> Iterator[Command]:
    for command in commands:
        sent.append(command)
        yield command


def upsert_commands(
    keys: VectorSetKeys, codec: AttributeCodec, options: VectorSetOptions, checked: Iterable[Checked], deps: str
) -> Iterator[Command]:
    """One ``EVALSHA`` of :data:`UPSERT_SCRIPT` per record, assembled as its batch is about to be sent."""
    vadd = [options.reduce or "", *options.vadd_args()]
    for c in checked:
        r = c.record
        doc = "" if r.doc_id is None else encode_str(r.doc_id)
        yield ("EVALSHA", UPSERT_SHA, 1, keys.vset, deps, keys.doc_prefix, r.id, c.vector, codec.encode(c), doc,
               r.content_hash, *vadd)  # fmt: skip


def upsert(
    keys: VectorSetKeys, codec: AttributeCodec, options: VectorSetOptions, checked: Sequence[Checked],
    invalidate: bool, cluster: bool, batch_size: int,
) -> Plan[None]:  # fmt: skip
    deps = keys_of(keys.prefix).deps_prefix if invalidate and not cluster else ""
    commands = upsert_commands(keys, codec, options, checked, deps)
    replies = yield from scripted(commands, UPSERT_SCRIPT, cluster, min(batch_size, STREAM_BATCH))
    if invalidate and cluster:
        yield from _late_invalidation((r for reply in replies for r in reply), keys_of(keys.prefix))


def delete(keys: VectorSetKeys, ids: Sequence[str], invalidate: bool, cluster: bool) -> Plan[int]:
    return (yield from _removal(keys, DELETE_SCRIPT, DELETE_SHA, list(ids), invalidate, cluster))


def delete_documents(keys: VectorSetKeys, doc_ids: Sequence[str], invalidate: bool, cluster: bool) -> Plan[int]:
    forms = [encode_str(d) for d in doc_ids]
    return (yield from _removal(keys, DELETE_DOCS_SCRIPT, DELETE_DOCS_SHA, forms, invalidate, cluster))


def _removal(
    keys: VectorSetKeys, script: str, script_sha: str, args: list[str], invalidate: bool, cluster: bool
) -> Plan[int]:
    deps = keys_of(keys.prefix).deps_prefix if invalidate and not cluster else ""
    commands = [
        ("EVALSHA", script_sha, 1, keys.vset, deps, keys.doc_prefix, *args[start : start + DELETE_BATCH])
        for start in range(0, len(args), DELETE_BATCH)
    ]
    if not commands:
        return 0
    replies = yield from scripted(commands, script, cluster)
    if invalidate and cluster:
        yield from _late_invalidation((r for reply in replies for r in reply[1:]), keys_of(keys.prefix))
    return sum(int(reply[0]) for reply in replies)


def _late_invalidation(raws: Iterable[Any], fresh: FreshKeys) -> Plan[None]:
    ids = list(dict.fromkeys(r.decode("utf-8", "surrogatepass") if isinstance(r, bytes) else r for r in raws))
    if ids:
        yield Invalidate(ids, fresh)
