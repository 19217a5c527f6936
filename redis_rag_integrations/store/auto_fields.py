"""``metadata_fields="auto"``: declare filterable fields from the metadata written, for users of in-memory stores.

LangChain's and LlamaIndex's in-memory stores filter on any metadata key; an index filters only on declared fields.
With ``"auto"``, each write looks at the metadata keys no field covers yet and declares them from their values,
before any record is written: every value a string (or a list of strings), or every value a bool -> ``tag`` (exact
match); every value a finite number within 2**53 -> ``numeric`` (ranges). A key whose values mix kinds (strings and
bools too), or hold objects, nulls only, or ints beyond 2**53, is left undeclared: it is stored and returned, and a
filter on it is refused naming it, as for any undeclared key (never a guess that filters wrongly). Keys holding a
NUL are left undeclared too. Declaring is :mod:`.evolution`'s ``FT.ALTER`` plus backfill, so records written before
(by any writer) are found too.

Once declared, a field keeps its type: a later record whose value the type cannot hold (``"n/a"`` in a numeric
field, a number in a tag field) is refused by the write's check, with nothing written. Fields are declared by the
writer, which needs the right to alter the index (``rag-admin`` under the package's ACL roles).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .layout import MAX_EXACT_INT, RESERVED_FIELDS, FieldType, Record

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
    """A metadata key a field can be declared for: a non-empty string, not a field of the layout, without a NUL
    (the engine cuts a field name there)."""
    return isinstance(key, str) and bool(key) and key not in RESERVED_FIELDS and "\x00" not in key


def infer(records: Iterable[Record], declared: Mapping[str, str]) -> dict[str, FieldType]:
    """The fields to declare for the metadata keys of ``records`` that ``declared`` lacks (see the module doc)."""
    seen: dict[str, set[str]] = {}
    for record in records:
        for key, value in (record.metadata or {}).items():
            if key in declared or not _declarable(key):
                continue
            kind = _kind(value)
            if kind is not None:
                seen.setdefault(key, set()).add(kind)
    return {key: _FIELD_OF[kinds.pop()] for key, kinds in seen.items() if len(kinds) == 1 and "mixed" not in kinds}


#: The field a key whose values are all of one kind gets.
_FIELD_OF: dict[str, FieldType] = {"str": "tag", "bool": "tag", "numeric": "numeric"}


def check_tag_values(records: Iterable[Record], declared: Mapping[str, str]) -> None:
    """Refuse a number written into a tag field under ``"auto"``: the tag holds ``1`` as ``"1"``, so a filter for the
    string would find the number and the other way round. (A key first written with numbers is numeric.)"""
    for record in records:
        for key, value in (record.metadata or {}).items():
            if declared.get(key) != "tag":
                continue
            values = value if isinstance(value, list | tuple) else [value]
            for v in values:
                if isinstance(v, int | float) and not isinstance(v, bool):
                    raise TypeError(
                        f"record {record.id!r}: metadata {key!r} is a tag field (declared from strings or booleans) "
                        f"and cannot hold the number {v!r}, which it would store as the string {str(v)!r}: pass "
                        "it as a string, or write numbers under another key"
                    )


def is_auto(metadata_fields: Any) -> bool:
    return isinstance(metadata_fields, str) and metadata_fields == AUTO


def check_spelling(metadata_fields: Any) -> None:
    """A string other than ``"auto"`` is a typo, not a field map: say so."""
    if isinstance(metadata_fields, str) and not is_auto(metadata_fields):
        raise ValueError(f'metadata_fields must be a {{name: type}} map or "auto", got {metadata_fields!r}')
