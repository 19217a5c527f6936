"""What a metadata value becomes in its indexed hash field (tag, numeric, geo, text), or why it cannot be indexed.

Why a module of its own: the same rules serve a write (:meth:`.layout.Layout.check`), the backfill of a field
added to an existing index (:mod:`.evolution`) and the filter compilers' limits (``MAX_EXACT_INT``); a value that
would be stored differently from what a filter later asks for is refused here, naming the record and the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .. import tags

#: Tag values of ``id`` / ``doc_id`` / declared tags are split on this character. ``,`` (Redis' default) appears
#: in real ids and titles; the ASCII unit separator does not.
TAG_SEPARATOR = "\x1f"


def check_tag_ids(record_id: str, doc_id: str | None) -> None:
    """Refuse an id or a doc_id too long for the engine to index whole (:data:`..tags.MAX_TAG_BYTES`): other values
    are stored as their digest, but these are read back from their tag, and a digest cannot be turned back."""
    for what, value in (("id", record_id), ("doc_id", doc_id)):
        if value is not None and tags.is_digest(tags.encode(value)):
            shown = record_id if len(record_id) <= 60 else record_id[:60] + "..."
            raise ValueError(
                f"record {shown!r}: its {what} is longer than the {tags.MAX_TAG_BYTES} bytes the search engine "
                "indexes whole (2048 for a value that must be hex-encoded: spaces at its ends, control characters), "
                "so it could not be found or deleted by it: use a shorter one (a hash of it, for example)"
            )


def kind_filter_value(name: str, kind: str | None, value: Any) -> Any:
    """A tag filter's value for a field of one ``kind`` (``metadata_fields="auto"`` notes it), as Python compares:
    on a field of bools ``True`` / ``1`` / ``1.0`` mean ``True`` (``1 == True``) and a string matches none of them;
    on a field of strings only a string can match. What matches nothing is refused (``ValueError``): the tag stores
    ``True`` as ``"true"``, so the filter ``"true"`` would silently find the bools."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise ValueError(
            f"tag field {name!r} holds booleans (declared by metadata_fields='auto'): {value!r} equals none of them; "
            "filter with True / False (or 1 / 0)"
        )
    if kind == "str" and not isinstance(value, str):
        raise ValueError(f"tag field {name!r} holds strings (declared by metadata_fields='auto'), not {value!r}")
    return value


def holds_values(value: Any) -> bool:
    """Whether a metadata value gets an index entry: ``None`` and empty lists hold nothing to filter on (so
    ``$eq`` never matches them and ``$ne`` / ``$nin`` always do)."""
    return value is not None and not (isinstance(value, list | tuple | set) and not value)


#: Beyond this an int is not exactly a double (filters refuse such values too).
MAX_EXACT_INT = 2**53
#: The latitudes Redis' geo index accepts (web-mercator limits); longitudes are -180..180.
_MAX_LAT = 85.05112878


def geo_value(record_id: str, name: str, value: Any) -> str:
    """``lon,lat`` after checking it: the engine silently leaves a record with an invalid geo value out of the index."""
    try:
        if isinstance(value, str):
            lon_s, lat_s = value.split(",")
            lon, lat = float(lon_s), float(lat_s)
        elif isinstance(value, list | tuple) and len(value) == 2 and not any(isinstance(v, bool) for v in value):
            lon, lat = float(value[0]), float(value[1])
        else:
            raise ValueError
    except (ValueError, TypeError):
        raise TypeError(
            f"record {record_id!r}: metadata {name!r} is geo; give 'lon,lat' or [lon, lat], got {value!r}"
        ) from None
    if not (-180.0 <= lon <= 180.0 and -_MAX_LAT <= lat <= _MAX_LAT):
        raise ValueError(
            f"record {record_id!r}: metadata {name!r} = {value!r} is outside longitude -180..180 / latitude "
            f"-{_MAX_LAT}..{_MAX_LAT}: Redis would leave the record out of the index"
        )
    return f"{lon!r},{lat!r}"


def index_value(record_id: str, name: str, ftype: str, value: Any) -> str | float:
    """The hash value that makes metadata ``name`` filterable; a value the field type cannot hold is an error."""
    if ftype == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TypeError(f"record {record_id!r}: metadata {name!r} is declared numeric but is {value!r}")
        if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
            raise ValueError(
                f"record {record_id!r}: metadata {name!r} = {value} is beyond 2**53: the numeric index holds doubles "
                "and would compare a rounded value. Declare the field as 'tag' to filter on it exactly"
            )
        return repr(float(value))
    if ftype == "tag":
        values = value if isinstance(value, list | tuple | set) else [value]
        out = []
        for v in values:
            if v is None or isinstance(v, dict | list | tuple | set):
                raise TypeError(f"record {record_id!r}: metadata {name!r} is a tag field but holds {v!r}")
            # Encoded (see .tags): a value the engine would trim or garble is still matched exactly by a filter.
            out.append(tags.encode(str(v).lower() if isinstance(v, bool) else str(v)))
        return TAG_SEPARATOR.join(out)
    if ftype == "geo":
        return geo_value(record_id, name, value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
