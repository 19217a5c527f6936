"""Changing an existing index: add declared fields in place (``FT.ALTER``), refuse what cannot change in place.

What the engine does (measured on search 2.10.5, 20,000 hashes of 16 dims): ``FT.ALTER idx SCHEMA ADD f TAG``
answers in ~4 ms and then re-scans every hash under the prefix in the background (``FT.INFO indexing`` 1 for ~39 s
on this 2-core machine; each hash is indexed again, vectors included: the HNSW size grew 8.2 -> 9.6 MB). During the
scan a filter on ``f`` returns a growing part of the answer (0, 5, 10 ... 5000 of 5000), and afterwards it finds
only hashes that *hold* a field ``f``. Our records keep a declared field as its own hash field, written only while
the field is declared: a record written before holds the value in its ``metadata`` JSON alone, so the engine's scan
would find nothing in it and a filter on ``f`` would silently miss every old record.

So adding a field is three steps, each safe to repeat:

1. *Check* every record's value of the new fields (a value the type cannot hold, say ``"abc"`` for a numeric
   field, refuses the change naming the records; nothing is altered).
2. ``FT.ALTER ... SKIPINITIALSCAN SCHEMA ADD`` with the exact attributes ``FT.CREATE`` would use (the tag
   separator, case-sensitivity: from :meth:`.layout.Layout.schema`), sent to the index's node
   (:func:`..placement.ft_call`). The engine's own scan is skipped: step 3 rewrites every record that holds a value,
   and any write of a hash indexes it again, so the scan would only double the work.
3. *Backfill*: every record gets the new fields' hash values, encoded by the same function as a write
   (``field_values.index_value``: tags encoded by :mod:`..tags`, numbers as exact doubles). One small script per record
   writes them only if the record's ``content_hash`` is still the one read, so a record rewritten meanwhile keeps
   its newer values (it is read again and retried).

A marker hash ``{prefix}~fields`` (outside the index's key pattern) names the fields whose backfill is not finished:
set before step 2, removed after step 3. A process that dies in between leaves it, and the next opening of the index
finishes the backfill before anything is read. ``{prefix}~fields`` also carries ``kept`` after a drop that kept the
records (:func:`after_drop`): re-creating the index then backfills every declared field, since the records may have
been written under another declaration.

Processes that opened the index before the change still write records without the new field: reopen them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from .. import placement
from ..connection import SyncClient
from ..decoding import as_str
from .executor import Call, Pipeline, Plan, apply
from .field_values import holds_values, index_value
from .layout import CONTENT_HASH, METADATA, FieldType, Layout
from .opening import LayoutMismatchError

#: Records read or written per round trip.
BATCH = 500
#: How often a record rewritten during the backfill is read again before the change gives up (and says so).
RETRIES = 5
#: Refused records named in an error (the count says how many more).
SHOWN = 5

# KEYS[1] the record. ARGV[1] the content hash read with the values; then (field, '1', value) to set or
# (field, '0', '') to delete. Returns 1 when written, 0 when the record changed since it was read (or is gone).
BACKFILL_SCRIPT = """
if redis.call('HGET', KEYS[1], 'content_hash') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 3 do
  if ARGV[i + 1] == '1' then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  else redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
"""
_BACKFILL_SHA = hashlib.sha1(BACKFILL_SCRIPT.encode()).hexdigest()


class IncompatibleIndexError(LayoutMismatchError):
    """The existing index differs in something ``FT.ALTER`` cannot change (dims, metric, algorithm, a field's type,
    the key prefix); the message names the command or call that migrates or drops it."""


def drop_hint(name: str, *, records_too: bool = False) -> str:
    """The exact way out, for error messages."""
    if records_too:
        return (
            f"`redis-rag index drop {name} --delete-documents` (or RedisVectorIndex({name!r}, ...).drop()) and "
            "re-ingest with the new settings, or use a new index name"
        )
    return (
        f"`redis-rag index drop {name}` (keeps the records; or RedisVectorIndex({name!r}, ...).drop("
        "delete_records=False)) then open it again with the new settings (the index is re-created over the same "
        "records and every declared field re-encoded from each record's metadata), or use a new index name"
    )


def marker_key(layout: Layout) -> str:
    """The key naming an unfinished backfill (same hash tag as the records: one slot on a cluster)."""
    return f"{layout.key_prefix}~fields"


def kinds_key(layout: Layout) -> str:
    """The key holding the value kind (``str`` / ``bool``) of each tag field ``metadata_fields="auto"`` declared
    (:mod:`.auto_fields`); same hash tag as the records. Deleted with them."""
    return f"{layout.key_prefix}~kinds"


def pending(client: SyncClient, layout: Layout) -> dict[str, str]:
    """The marker's content: ``{field: type}`` of unfinished backfills, and ``kept`` after a drop that kept records."""
    return {as_str(k): as_str(v) for k, v in client.hgetall(marker_key(layout)).items()}


def after_drop(client: SyncClient, layout: Layout, records_deleted: bool) -> None:
    """Records kept: note it, so the index's next creation re-encodes every declared field from the metadata (the
    records may have been written under another declaration). Records deleted: nothing left to note."""
    if records_deleted:
        client.delete(marker_key(layout), kinds_key(layout))
    elif layout.dialect == "native":
        client.hset(marker_key(layout), "kept", "1")


async def aafter_drop(client: Any, layout: Layout, records_deleted: bool) -> None:
    if records_deleted:
        await client.delete(marker_key(layout), kinds_key(layout))
    elif layout.dialect == "native":
        await client.hset(marker_key(layout), "kept", "1")


def kept_records_checked(client: SyncClient, layout: Layout) -> bool:
    """Before creating an index: whether it goes over records kept by a drop (the marker), after checking that
    their values fit the declared types (refused, nothing created, otherwise)."""
    if "kept" not in pending(client, layout):
        return False
    check_values(client, layout, layout.metadata_fields)
    return True


def record_keys(client: SyncClient, layout: Layout) -> Iterator[list[str]]:
    """The keys under the index's prefix, in batches (``SCAN``: never ``KEYS``; on a cluster every primary)."""
    batch: list[str] = []
    pattern = _glob_escape(layout.key_prefix + layout.key_separator) + "*"
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(as_str(key, "surrogateescape"))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _encoded(
    layout: Layout, key: str, metadata_json: Any, fields: Mapping[str, FieldType]
) -> list[tuple[str, str | None]]:
    """``(field, hash value or None to delete)`` for one record, encoded exactly as a write would (raises on a value
    the type cannot hold, naming the record)."""
    record_id = key[len(layout.key_prefix) + 1 :]
    metadata = json.loads(as_str(metadata_json))
    out: list[tuple[str, str | None]] = []
    for name, ftype in fields.items():
        value = metadata.get(name) if isinstance(metadata, dict) else None
        out.append((name, str(index_value(record_id, name, ftype, value)) if holds_values(value) else None))
    return out


def check_values(client: SyncClient, layout: Layout, fields: Mapping[str, FieldType]) -> int:
    """Step 1: every record's values of ``fields`` can be encoded; returns how many records there are. Raises
    :class:`IncompatibleIndexError` naming the first refused records (and how many) before anything changes."""
    refused: list[str] = []
    total = 0
    for keys in record_keys(client, layout):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, METADATA)
        for key, metadata in zip(keys, pipe.execute(), strict=True):
            if metadata is None:
                continue  # not a record of ours (no metadata): the index does not hold it either
            total += 1
            try:
                _encoded(layout, key, metadata, fields)
            except (TypeError, ValueError) as exc:
                refused.append(str(exc))
    if refused:
        more = f" (and {len(refused) - SHOWN} more)" if len(refused) > SHOWN else ""
        raise IncompatibleIndexError(
            f"index {layout.index_name!r}: cannot declare {dict(fields)}: {len(refused)} record(s) hold values the "
            f"type cannot take: {'; '.join(refused[:SHOWN])}{more}. Nothing was changed: declare another type "
            "(e.g. 'tag'), or fix those records' metadata first"
        )
    return total


def alter(client: SyncClient, layout: Layout, fields: Mapping[str, FieldType]) -> None:
    """Step 2: ``FT.ALTER ... SKIPINITIALSCAN SCHEMA ADD`` with the attributes ``FT.CREATE`` would use, one field per
    call. A field already there (a run that died before its backfill, or another process) is not an error. If a
    call fails, the fields not added leave the marker and the error is raised; the ones added stay in it, so the
    next opening backfills them (an added field is never left without its old records)."""
    schema = layout.schema()
    for n, name in enumerate(fields):
        args = schema.fields[name].as_redis_field().redis_args()
        try:
            placement.ft_call(client, layout.index_name, "FT.ALTER", layout.index_name, "SKIPINITIALSCAN", "SCHEMA",
                              "ADD", *args)  # fmt: skip
        except ResponseError as exc:
            if "duplicate" in str(exc).lower():
                continue
            client.hdel(marker_key(layout), *list(fields)[n:])
            raise


def backfill(client: SyncClient, layout: Layout, fields: Mapping[str, FieldType]) -> int:
    """Step 3: write every record's hash values of ``fields`` from its metadata; returns how many records."""
    return apply(client, _backfill_plan(client, layout, fields))


def _backfill_plan(client: SyncClient, layout: Layout, fields: Mapping[str, FieldType]) -> Plan[int]:
    """The backfill as a plan of the write executor (:mod:`.executor`): batches of checked script calls."""
    yield Call("script_load", [BACKFILL_SCRIPT])
    written = 0
    for keys in record_keys(client, layout):
        todo = keys
        for _ in range(RETRIES + 1):
            if not todo:
                break
            rows = yield Pipeline([("HMGET", key, METADATA, CONTENT_HASH) for key in todo])
            calls = []
            for key, (metadata, digest) in zip(todo, rows, strict=True):
                if metadata is None or digest is None:
                    continue  # gone meanwhile, or not a record of ours
                args: list[str] = []
                for name, value in _encoded(layout, key, metadata, fields):
                    args += [name, "1", value] if value is not None else [name, "0", ""]
                calls.append((key, ("EVALSHA", _BACKFILL_SHA, 1, key, as_str(digest), *args)))
            replies = yield Pipeline([c for _, c in calls], errors_in_place=True)
            if any(isinstance(r, NoScriptError) for r in replies):  # the server lost the script (restart)
                yield Call("script_load", [BACKFILL_SCRIPT])
                replies = yield Pipeline([c for _, c in calls], errors_in_place=True)
            for reply in replies:
                if isinstance(reply, ResponseError):
                    raise reply
            written += sum(1 for r in replies if int(r) == 1)
            todo = [key for (key, _), r in zip(calls, replies, strict=True) if int(r) == 0]
        if todo:
            raise IncompatibleIndexError(
                f"index {layout.index_name!r}: {len(todo)} record(s) kept changing during the backfill of "
                f"{sorted(fields)} (e.g. {todo[0]!r}); open the index again to finish it"
            )
    return written


def add_fields(client: SyncClient, layout: Layout, fields: Mapping[str, FieldType]) -> int:
    """Declare ``fields`` on the existing index of ``layout`` (which already lists them) and backfill every record.

    Returns how many records were backfilled. Refuses, changing nothing, when a record holds a value a new field's
    type cannot take. Safe to call again after a failure (the marker resumes it).
    """
    check_values(client, layout, fields)
    client.hset(marker_key(layout), mapping=dict(fields))
    alter(client, layout, fields)
    return finish(client, layout, fields)


def finish(client: SyncClient, layout: Layout, fields: Mapping[str, FieldType]) -> int:
    """Backfill ``fields`` and clear them (and ``kept``) from the marker."""
    count = backfill(client, layout, fields)
    client.hdel(marker_key(layout), *fields, "kept")
    return count


def resume(client: SyncClient, layout: Layout, *, checked: bool = False) -> int | None:
    """Finish what the marker says is unfinished (a backfill, or a re-creation over kept records); ``None`` if
    nothing was. Declared fields of ``layout`` only: a marker field the index no longer declares is dropped.
    ``checked``: the values were checked already (:func:`kept_records_checked`)."""
    marked = pending(client, layout)
    if not marked:
        return None
    if "kept" in marked:
        fields = dict(layout.metadata_fields)
        if not checked:
            check_values(client, layout, fields)
    else:
        fields = {n: t for n, t in layout.metadata_fields.items() if n in marked}
    return finish(client, layout, fields)


def compare(existing: Layout, wanted: Layout, explicit: set[str]) -> None:
    """Refuse a change ``FT.ALTER`` cannot make: dims (always), and the vector algorithm, metric, datatype or the key
    prefix when the caller asked for them (``explicit``: the names set in the settings or passed), each with the way
    out (:func:`drop_hint`). Changed field types are refused by :func:`changed_types`."""
    name = wanted.index_name
    if existing.dims != wanted.dims:
        raise IncompatibleIndexError(
            f"index {name!r} holds {existing.dims}-dimensional vectors but the embedding model makes {wanted.dims}: "
            f"use the model the index was built with, or {drop_hint(name, records_too=True)}"
        )
    for attr, setting in (("algorithm", "vector_algorithm"), ("distance_metric", "distance_metric"),
                          ("datatype", "vector_datatype")):  # fmt: skip
        have, want = getattr(existing, attr), getattr(wanted, attr)
        if setting in explicit and have != want:
            raise IncompatibleIndexError(
                f"index {name!r} was built with {setting}={have!r}, not {want!r}; an index cannot change it in "
                f"place: {drop_hint(name)}"
            )
    if "prefix" in explicit and existing.key_prefix != wanted.key_prefix:
        raise IncompatibleIndexError(
            f"index {name!r} holds the records under {existing.key_prefix!r}, not {wanted.key_prefix!r}: open it "
            f"without prefix= (or with prefix={existing.key_prefix!r}), or `redis-rag index drop {name}` (keeps "
            f"the records under {existing.key_prefix!r}) and open it again, or use a new index name"
        )


def changed_types(name: str, have: Mapping[str, str], wanted: Mapping[str, FieldType]) -> None:
    """Refuse a declared field whose type differs from the existing index's (``tag`` -> ``numeric``...)."""
    changed = {n: (have[n], t) for n, t in wanted.items() if n in have and have[n] != t}
    if changed:
        shown = ", ".join(f"{n!r} is {old}, not {new}" for n, (old, new) in changed.items())
        raise IncompatibleIndexError(
            f"index {name!r}: {shown}; a field's type cannot change in place: {drop_hint(name)}"
        )
