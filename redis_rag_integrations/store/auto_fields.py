"""``metadata_fields="auto"``: declare filterable fields from the metadata written, for users of in-memory stores.

LangChain's and LlamaIndex's in-memory stores filter on any metadata key; an index filters only on declared fields.
With ``"auto"``, each write looks at the metadata keys no field covers yet and declares them from their values,
before any record is written: every value a string or a bool (or a list of those) -> ``tag`` (exact match);
every value a finite number within 2**53 -> ``numeric`` (ranges). A key whose values mix kinds, or hold objects,
nulls only, or ints beyond 2**53, is left undeclared: it is stored and returned, and a filter on it is refused
naming it, as for any undeclared key (never a guess that filters wrongly). Declaring is :mod:`.evolution`'s
``FT.ALTER`` plus backfill, so records written before (by any writer) are found too.

Once declared, a field keeps its type: a later record whose value the type cannot hold (``"n/a"`` in a numeric
field) is refused by the write's check, with nothing written. Fields are declared by the writer, which needs the
right to alter the index (``rag-admin`` under the package's ACL roles).
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
    """``tag`` / ``numeric`` for one value, ``None`` for a value that holds nothing, ``mixed`` for what fits neither."""
    if value is None:
        return None
    if isinstance(value, bool | str):
        return "tag"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "mixed"
        return "numeric" if abs(value) <= MAX_EXACT_INT else "mixed"
    if isinstance(value, list | tuple):
        if not value:
            return None
        return "tag" if all(isinstance(v, bool | str) for v in value) else "mixed"
    return "mixed"


def infer(records: Iterable[Record], declared: Mapping[str, str]) -> dict[str, FieldType]:
    """The fields to declare for the metadata keys of ``records`` that ``declared`` lacks (see the module doc)."""
    seen: dict[str, set[str]] = {}
    for record in records:
        for key, value in (record.metadata or {}).items():
            if key in declared or key in RESERVED_FIELDS or not isinstance(key, str) or not key:
                continue
            kind = _kind(value)
            if kind is not None:
                seen.setdefault(key, set()).add(kind)
    return {key: kinds.pop() for key, kinds in seen.items() if len(kinds) == 1 and "mixed" not in kinds}  # type: ignore[misc]


def is_auto(metadata_fields: Any) -> bool:
    return isinstance(metadata_fields, str) and metadata_fields == AUTO


def check_spelling(metadata_fields: Any) -> None:
    """A string other than ``"auto"`` is a typo, not a field map: say so."""
    if isinstance(metadata_fields, str) and not is_auto(metadata_fields):
        raise ValueError(f'metadata_fields must be a {{name: type}} map or "auto", got {metadata_fields!r}')
