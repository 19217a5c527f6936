"""What ``RedisMemoryStore`` accepts and how it matches: LangGraph's ``InMemoryStore`` exactly, or a clear refusal.

The in-memory store keeps values as Python objects; ours keeps them as JSON. JSON would silently change some values
(``{1: "a"}`` comes back as ``{"1": "a"}``, a tuple as a list, an ``IntEnum`` as an int, ``nan`` is not JSON), so a
value is checked before anything is written and refused, naming the path of the first value JSON cannot keep.

Filters are evaluated on the decoded value, as ``InMemoryStore`` does (``langgraph.store.memory._compare_values``):
nested dicts match key by key, lists and tuples element by element (so an operator or a partial dict inside a list
works), ``$eq $ne $gt $gte $lt $lte`` compare. Where the reference would fail inside the comparison we either refuse
the filter up front (``{"$gt": "3"}``: a range needs a number; an unknown operator; a non-string key), whatever the
stored data, or, when it is the stored item that cannot be compared (``$gt`` on a missing or non-numeric field, where
the reference raises from ``float(None)``), the item does not match, as in LangGraph's Postgres store.

Limits, offsets and TTLs that would silently drop results or keep an item forever (negative, zero TTL, ``nan``) are
refused too.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from langgraph.store.base import ListNamespacesOp, MatchCondition, Op, PutOp, SearchOp

from ..decoding import as_str

__all__ = [
    "check_filter",
    "check_index",
    "check_ops",
    "check_page",
    "check_value",
    "check_vectors",
    "matches_filter",
    "namespace_matches",
    "to_json",
    "ttl_ms",
]

_RANGE = ("$gt", "$gte", "$lt", "$lte")
_OPERATORS = ("$eq", "$ne", *_RANGE)
#: The longest TTL Redis can hold with certainty (an expiry is a 64-bit millisecond time; 2**53 ms is ~285,000 years).
_MAX_TTL_MS = 2**53
#: The fields every index of the store has (an index by the same name without them is not a memory store's).
_FIELDS = {"ns", "path", "updated_at"}


def check_ops(ops: list[Op]) -> None:
    """Check every operation of a batch before the first is run: a bad one refuses the batch, nothing is written."""
    for op in ops:
        if isinstance(op, PutOp):
            if not isinstance(op.key, str):
                raise TypeError(f"store keys are strings, got {type(op.key).__name__}")
            if op.value is not None:
                check_value(op.value)
                ttl_ms(op.ttl)
        elif isinstance(op, SearchOp):
            check_filter(op.filter)
            check_page(op.limit, op.offset)
        elif isinstance(op, ListNamespacesOp):
            check_page(op.limit, op.offset)


def matches_filter(value: dict[str, Any], flt: dict[str, Any] | None) -> bool:
    """LangGraph's filter semantics (``InMemoryStore``): every top-level key of ``flt`` compared with the value's."""
    return not flt or all(_compare(value.get(k), v) for k, v in flt.items())


def _compare(item: Any, flt: Any) -> bool:
    if isinstance(flt, dict):
        if any(k.startswith("$") for k in flt):
            return all(_operator(item, op, arg) for op, arg in flt.items())
        return isinstance(item, dict) and all(_compare(item.get(k), v) for k, v in flt.items())
    if isinstance(flt, list | tuple):
        return (
            isinstance(item, list | tuple)
            and len(item) == len(flt)
            and all(_compare(i, f) for i, f in zip(item, flt, strict=True))
        )
    return bool(item == flt)


def _operator(item: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return bool(item == arg)
    if op == "$ne":
        return bool(item != arg)
    try:  # as the reference: float() of the stored value (so "5" and True compare as 5.0 and 1.0)
        number = float(item)
    except (TypeError, ValueError, OverflowError):
        return False  # the reference raises here, on the data; a missing or non-numeric field does not match
    limit = float(arg)
    return {"$gt": number > limit, "$gte": number >= limit, "$lt": number < limit, "$lte": number <= limit}[op]


def check_filter(flt: Any) -> None:
    """Refuse, before any query, a filter whose comparison would fail or could never mean what it says."""
    if flt is None:
        return
    if not isinstance(flt, dict):
        raise TypeError(f"a search filter is a dict of field -> value or {{operator: value}}, got {type(flt).__name__}")
    _check_filter_part(flt, "filter")


def _check_filter_part(flt: Any, where: str) -> None:
    if isinstance(flt, list | tuple):
        for i, part in enumerate(flt):
            _check_filter_part(part, f"{where}[{i}]")
        return
    if not isinstance(flt, dict):
        return
    for key in flt:
        if not isinstance(key, str):
            raise TypeError(f"{where}: filter keys are strings (stored values have string keys), got {key!r}")
    if not any(k.startswith("$") for k in flt):
        for key, arg in flt.items():
            _check_filter_part(arg, f"{where}[{key!r}]")
        return
    for op, arg in flt.items():
        if op not in _OPERATORS:
            raise ValueError(f"{where}: unsupported filter operator {op!r} (use {' '.join(_OPERATORS)})")
        if op in _RANGE and (isinstance(arg, bool) or not isinstance(arg, int | float)):
            raise ValueError(f"{where}: {op} compares numbers, got {type(arg).__name__} {arg!r}")
        try:
            float(arg) if op in _RANGE else None
        except OverflowError:
            raise ValueError(f"{where}: {op} {arg!r} is too large to compare (comparisons are in floats)") from None


def check_value(value: Any) -> None:
    """Refuse a value that would not come back from JSON exactly as given (``BaseStore`` values are dicts)."""
    if not isinstance(value, dict):
        raise TypeError(f"a store value is a dict (LangGraph's BaseStore), got {type(value).__name__}")
    _check_json(value, "value")


def _check_json(value: Any, where: str) -> None:
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}: JSON keeps finite numbers only")
        return
    if kind is dict:
        for key, part in value.items():
            if type(key) is not str:
                raise TypeError(
                    f"{where} has the key {key!r} ({type(key).__name__}): JSON keys are strings, so it would come "
                    f"back as {str(key)!r}; use string keys"
                )
            _check_json(part, f"{where}[{key!r}]")
        return
    if kind is list:
        for i, part in enumerate(value):
            _check_json(part, f"{where}[{i}]")
        return
    hint = "; use a list (it would come back as a list)" if isinstance(value, tuple) else ""
    raise TypeError(f"{where} is a {kind.__name__}, which JSON does not keep exactly{hint}")


def check_page(limit: Any, offset: Any) -> None:
    """A negative limit or offset would silently slice from the end; a non-integer one is an error in the slice."""
    for name, n in (("limit", limit), ("offset", offset)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {n!r}")


def ttl_ms(ttl: Any) -> int | None:
    """A TTL in minutes (LangGraph's unit) as the Redis expiry in milliseconds; ``None`` keeps the item forever.

    Zero, negative and non-finite TTLs are refused (they used to mean "forever" silently); a positive TTL shorter
    than a millisecond rounds up to one, never down to "no expiry"."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"ttl is minutes > 0 (or None: no expiry), got {ttl!r}")
    if ttl > _MAX_TTL_MS / 60_000:
        raise ValueError(f"ttl {ttl!r} minutes is beyond what Redis can expire; use None for no expiry")
    return math.ceil(ttl * 60_000)


def to_json(value: dict[str, Any]) -> str:
    """UTF-8 JSON; ASCII escapes only when a string holds a lone surrogate (UTF-8 cannot encode it, JSON can)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, allow_nan=False)
    return text


def namespace_matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    """``list_namespaces``' prefix / suffix conditions (``*`` matches any one label), as ``InMemoryStore``."""
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(p == "*" or p == n for n, p in zip(part, path, strict=True))


def check_index(info: dict[str, Any], name: str, prefix: str, dims: int | None) -> None:
    """An existing index (``FT.INFO``) must be the store's, with vectors of ``dims``: otherwise every later put
    would succeed and its item fail indexing (found by ``get``, never by ``search`` or ``list_namespaces``)."""
    info = _pairs(info)  # a RESP3 client without decode_responses gives bytes keys at every level
    fields = {as_str(a["identifier"]): a for a in map(_pairs, info["attributes"])}
    definition = _pairs(info["index_definition"])
    prefixes = [as_str(p) for p in definition.get("prefixes", [])]
    fix = f"use another name, or delete it and its items (RedisMemoryStore(name={name!r}).drop())"
    if not set(fields) >= _FIELDS or prefixes != [prefix]:
        raise ValueError(f"the index {name!r} exists and is not a memory store's ({sorted(fields)}): {fix}")
    vector = fields.get("vector")
    held = int(vector["dim"]) if vector is not None else None
    if dims and held != dims:
        what = f"vectors of {held} dims" if held else "no vectors (it was made without an embedder)"
        raise ValueError(f"the memory store {name!r} holds {what}, the embedder gives {dims}: {fix}")


def _pairs(reply: Any) -> dict[str, Any]:
    """A flat ``[name, value, ...]`` reply (RESP2) or a map (RESP3) as a dict with str names."""
    items = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=False)
    return {as_str(k): v for k, v in items}


def check_vectors(vectors: Any, count: int, dims: int | None, name: str) -> np.ndarray:
    """The embedder's output as ``count`` float32 rows of the index's size: a vector of another size would be
    written and then fail indexing (the item invisible to search), so it is refused before anything is written."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != count or matrix.shape[1] != dims:
        got = matrix.shape[1] if matrix.ndim == 2 else f"shape {matrix.shape}"
        raise ValueError(
            f"the embedder returned vectors of {got} floats, the memory store {name!r} holds {dims} "
            "(index['dims'] or the existing index): give the embedder's real size"
        )
    return matrix
