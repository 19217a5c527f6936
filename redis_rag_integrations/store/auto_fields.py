"""``metadata_fields="auto"``: declare filterable fields from the metadata written, for users of in-memory stores.

LangChain's and LlamaIndex's in-memory stores filter on any metadata key; an index filters only on declared fields.
With ``"auto"``, each write looks at the metadata keys no field covers yet and declares them from their values,
before any record is written: every value a string (or a list of strings), or every value a bool -> ``tag`` (exact
match); every value a finite number within 2**53 -> ``numeric`` (ranges). A key whose values mix kinds (strings and
bools too), or hold objects, nulls only, or ints beyond 2**53, is left undeclared: it is stored and returned, and a
filter on it is refused naming it, as for any undeclared key (never a guess that filters wrongly). Keys holding a
control character are left undeclared too. Declaring is :mod:`.evolution`'s ``FT.ALTER`` plus backfill, so records
written before (by any writer) are found too.

Once declared, a field keeps its type: a later record whose value the type cannot hold (``"n/a"`` in a numeric
field, a number in a tag field) is refused by the write's check, with nothing written. Fields are declared by the
writer, which needs the right to alter the index (``rag-admin`` under the package's ACL roles).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ..connection import SyncClient
from ..decoding import as_str
from . import evolution
from .layout import MAX_EXACT_INT, METADATA, RESERVED_FIELDS, FieldType, Layout, Record

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: The value of ``metadata_fields`` that declares fields on write.
AUTO = "auto"
MetadataFields = Mapping[str, FieldType] | Literal["auto"]


def _kind(value: Any) -> str | None:
    """``str`` / ``bool`` / ``numeric`` for one value, ``None`` for a value that holds nothing, ``mixed`` for what
    fits none. Strings and bools are kept apart: both become tags, where ``True`` is stored as ``"true"``, so one
    tag field holding both would equate them (a filter for ``"true"`` finding ``True``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "mixed"
        return "numeric" if abs(value) <= MAX_EXACT_INT else "mixed"
    if isinstance(value, list | tuple):
        kinds = {_kind(v) for v in value}
        return None if not value else kinds.pop() if len(kinds) == 1 and kinds <= {"str", "bool"} else "mixed"
    return "mixed"


def _declarable(key: Any) -> bool:
    """A metadata key a field can be declared for: a non-empty string, not a field of the layout, without control
    characters (a query cannot name such a field: :class:`.layout.Layout` refuses them)."""
    return isinstance(key, str) and bool(key) and key not in RESERVED_FIELDS and not _CONTROL.search(key)


def infer(records: Iterable[Record], declared: Mapping[str, str]) -> dict[str, FieldType]:
    """The fields to declare for the metadata keys of ``records`` that ``declared`` lacks (see the module doc)."""
    return {key: FIELD_OF[kind] for key, kind in infer_kinds(records, declared).items()}


def infer_kinds(records: Iterable[Record], declared: Mapping[str, str]) -> dict[str, str]:
    """The kind (``str`` / ``bool`` / ``numeric``) of each metadata key of ``records`` that ``declared`` lacks and
    whose values are all of one kind (see the module doc); :data:`FIELD_OF` is the field each kind gets."""
    seen: dict[str, set[str]] = {}
    for record in records:
        for key, value in (record.metadata or {}).items():
            if key in declared or not _declarable(key):
                continue
            kind = _kind(value)
            if kind is not None:
                seen.setdefault(key, set()).add(kind)
    return {key: kinds.pop() for key, kinds in seen.items() if len(kinds) == 1 and "mixed" not in kinds}


def agreeing(client: SyncClient, layout: Layout, kinds: Mapping[str, str]) -> dict[str, FieldType]:
    """The fields to declare for ``kinds``: those whose values in the records already written are of the same kind.

    A key left undeclared by an earlier write (``""`` and ``0``) must not become a tag from a later one (``False``):
    the backfill would then index the old ``0`` as the tag ``"0"``, equal to a string's. One ``SCAN`` of the
    records' metadata, run only when a write brings keys to declare.
    """
    wanted = dict(kinds)
    for keys in evolution.record_keys(client, layout):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, METADATA)
        for raw in pipe.execute():
            metadata = json.loads(as_str(raw)) if raw else None
            if not isinstance(metadata, dict):
                continue
            for key in [k for k in wanted if k in metadata]:
                if _kind(metadata[key]) not in (None, wanted[key]):
                    del wanted[key]
        if not wanted:
            break
    return {key: FIELD_OF[kind] for key, kind in wanted.items()}


#: The field a key whose values are all of one kind gets.
FIELD_OF: dict[str, FieldType] = {"str": "tag", "bool": "tag", "numeric": "numeric"}


def recorded_kinds(client: SyncClient, layout: Layout) -> dict[str, str]:
    """The kinds of the tag fields ``"auto"`` declared on this index (fields declared otherwise are not listed)."""
    return {as_str(k): as_str(v) for k, v in client.hgetall(evolution.kinds_key(layout)).items()}


def record_kinds(client: SyncClient, layout: Layout, kinds: Mapping[str, str]) -> None:
    """Note the kind of each tag field being declared, so later writes keep to it (:func:`check_tag_values`)."""
    tag_kinds = {key: kind for key, kind in kinds.items() if FIELD_OF.get(kind) == "tag"}
    if tag_kinds:
        client.hset(evolution.kinds_key(layout), mapping=tag_kinds)


def check_tag_values(records: Iterable[Record], declared: Mapping[str, str], kinds: Mapping[str, str]) -> None:
    """Refuse, under ``"auto"``, a value whose kind differs from its tag field's: a tag holds ``True`` as ``"true"``
    and ``1`` as ``"1"``, so a filter for the string would find the bool or the number, and the other way round.
    ``kinds``: the kind ``"auto"`` declared each field from (:func:`recorded_kinds`); a tag field it did not declare
    (declared by the caller, or before kinds were noted) refuses numbers only."""
    for record in records:
        for key, value in (record.metadata or {}).items():
            if declared.get(key) != "tag":
                continue
            want = kinds.get(key)
            for v in value if isinstance(value, list | tuple) else [value]:
                kind = _kind(v)
                if kind in (None, want) or (want is None and kind != "numeric"):
                    continue
                held = {"str": "strings", "bool": "booleans"}.get(want or "", "strings or booleans")
                raise TypeError(
                    f"record {record.id!r}: metadata {key!r} is a tag field of {held} (metadata_fields='auto') and "
                    f"cannot hold {v!r}: the tag would store it as {_tag_text(v)!r}, so a filter could not tell it "
                    "from a value of another type with that text. Write it as the field's type, or under another key"
                )


def _tag_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def is_auto(metadata_fields: Any) -> bool:
    return isinstance(metadata_fields, str) and metadata_fields == AUTO


def check_spelling(metadata_fields: Any) -> None:
    """A string other than ``"auto"`` is a typo, not a field map: say so."""
    if isinstance(metadata_fields, str) and not is_auto(metadata_fields):
        raise ValueError(f'metadata_fields must be a {{name: type}} map or "auto", got {metadata_fields!r}')
