"""Metadata filters, framework-neutral: a small dict language compiled to a redisvl ``FilterExpression``.

Both adapters translate their own filter types (LangChain dicts, LlamaIndex ``MetadataFilters``) into this, so the
two frameworks filter the same way. The one rule that matters: a filter that names a field the index cannot filter
on is an error, never a silent empty result.

Syntax (Mongo-like)::

    {"source": "faq"}                                  # equality (a list value: any of)
    {"year": {"$gte": 2020, "$lt": 2024}}              # several operators on one field: AND
    {"$or": [{"source": "faq"}, {"tags": {"$in": ["x", "y"]}}]}
    {"$and": [...]}, {"$not": {...}}

Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $between`` and, on text fields, ``$like`` (Redis text syntax,
``*`` wildcards) and ``$match``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import Any

from redisvl.query.filter import FilterExpression, Num, Tag, Text

from .layout import CONTENT_HASH, DOC_ID, ID, TEXT, Layout

FilterLike = FilterExpression | Mapping[str, Any] | str | None

_NUMERIC_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$between"}
_TAG_OPS = {"$eq", "$ne", "$in", "$nin"}
_TEXT_OPS = {"$eq", "$ne", "$like", "$match"}


class FilterError(ValueError):
    """A filter the index cannot run: unknown field, wrong operator for the field's type, bad value."""


def filterable_fields(layout: Layout) -> dict[str, str]:
    """Every field a filter may name, with its index type."""
    return {ID: "tag", DOC_ID: "tag", CONTENT_HASH: "tag", TEXT: "text", **layout.metadata_fields}


def compile_filter(layout: Layout, flt: FilterLike) -> FilterExpression | str | None:
    """``flt`` as something redisvl runs: expressions and raw query strings pass through, dicts are compiled."""
    if flt is None or isinstance(flt, FilterExpression | str):
        return flt
    if not isinstance(flt, Mapping):
        raise FilterError(f"a filter is a dict, a redisvl FilterExpression or a query string, not {type(flt).__name__}")
    return _compile(filterable_fields(layout), flt)


def _compile(fields: dict[str, str], flt: Mapping[str, Any]) -> FilterExpression:
    if not flt:
        raise FilterError("empty filter: pass None to search without one")
    parts: list[FilterExpression] = []
    for key, value in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise FilterError(f"{key} takes a non-empty list of filters, got {value!r}")
            subs = [_compile(fields, _mapping(key, v)) for v in value]
            parts.append(functools.reduce(operator.and_ if key == "$and" else operator.or_, subs))
        elif key == "$not":
            parts.append(_negate(_compile(fields, _mapping(key, value))))
        elif key.startswith("$"):
            raise FilterError(f"unknown logical operator {key!r}; use $and, $or, $not")
        else:
            parts.append(_field(fields, key, value))
    return functools.reduce(operator.and_, parts)


def _mapping(op: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FilterError(f"{op} takes filters (dicts), got {value!r}")
    return value


def _field(fields: dict[str, str], name: str, cond: Any) -> FilterExpression:
    ftype = fields.get(name)
    if ftype is None:
        raise FilterError(
            f"cannot filter on {name!r}: it is not an indexed field. Filterable: {', '.join(sorted(fields))}. "
            "Declare it in metadata_fields when creating the store (a new field needs a new index)."
        )
    ops = dict(cond) if isinstance(cond, Mapping) else {"$in" if isinstance(cond, list) else "$eq": cond}
    allowed = {"tag": _TAG_OPS, "numeric": _NUMERIC_OPS, "text": _TEXT_OPS}.get(ftype, set())
    parts = []
    for op, value in ops.items():
        if op not in allowed:
            raise FilterError(
                f"operator {op!r} does not apply to {ftype} field {name!r}; it takes {', '.join(sorted(allowed))}"
            )
        parts.append(_condition(ftype, name, op, value))
    if not parts:
        raise FilterError(f"no condition given for {name!r}")
    return functools.reduce(operator.and_, parts)


def _condition(ftype: str, name: str, op: str, value: Any) -> FilterExpression:
    if ftype == "tag":
        values = _tag_values(name, value, many=op in ("$in", "$nin"))
        expr = Tag(name) == values
        return expr if op in ("$eq", "$in") else _negate(expr)
    if ftype == "numeric":
        if op in ("$in", "$nin"):
            items = _list(name, op, value)
            expr = functools.reduce(operator.or_, [Num(name) == _number(name, v) for v in items])
            return expr if op == "$in" else _negate(expr)
        if op == "$between":
            low, high = _list(name, op, value, size=2)
            return Num(name).between(_number(name, low), _number(name, high))
        n = _number(name, value)
        field = Num(name)
        return {
            "$eq": field == n,
            "$ne": field != n,
            "$gt": field > n,
            "$gte": field >= n,
            "$lt": field < n,
            "$lte": field <= n,
        }[op]
    if not isinstance(value, str):
        raise FilterError(f"text field {name!r} takes a string, got {value!r}")
    field_t = Text(name)
    return {"$eq": field_t == value, "$ne": field_t != value, "$like": field_t % value, "$match": field_t % value}[op]


def _negate(expr: FilterExpression) -> FilterExpression:
    """``NOT expr`` in Redis query syntax (redisvl has no negation of a compound expression)."""
    return FilterExpression(f"(-({expr}))")


def _tag_values(name: str, value: Any, *, many: bool) -> list[str]:
    items = _list(name, "$in", value) if many else [value]
    out = []
    for v in items:
        if v is None or isinstance(v, dict | list):
            raise FilterError(f"tag field {name!r} takes strings, numbers or booleans, got {v!r}")
        out.append(str(v).lower() if isinstance(v, bool) else str(v))
    return out


def _list(name: str, op: str, value: Any, size: int | None = None) -> list[Any]:
    if not isinstance(value, list | tuple | set) or not value or (size is not None and len(value) != size):
        want = f"a list of {size}" if size else "a non-empty list"
        raise FilterError(f"{op} on {name!r} takes {want}, got {value!r}")
    return list(value)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError(f"numeric field {name!r} compares with numbers, got {value!r}")
    return value
