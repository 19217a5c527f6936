"""Metadata filters, framework-neutral: a small dict language compiled to a Redis query string.

Both adapters translate their own filter types (LangChain dicts, LlamaIndex ``MetadataFilters``) into this, so the
two frameworks filter the same way. The rules that matter: a filter that names a field the index cannot filter on is
an error, never a silent empty result; and a filter for a value finds exactly the records holding that value, for any
string (:mod:`.tags` says how), or is refused with an error saying why. Values never become query syntax.

Syntax (Mongo-like)::

    {"source": "faq"}                                  # equality (a list value: any of)
    {"year": {"$gte": 2020, "$lt": 2024}}              # several operators on one field: AND
    {"$or": [{"source": "faq"}, {"tags": {"$in": ["x", "y"]}}]}
    {"$and": [...]}, {"$not": {...}}

Operators: tag fields ``$eq $ne $in $nin``; numeric fields those and ``$gt $gte $lt $lte $between`` (ints beyond
2**53 are refused: the index holds doubles); text fields ``$like`` / ``$match``: every word present, ``word*`` a
prefix (equality is refused there: the engine matches words, so declare exact-match fields as tags; so are Redis
stopwords, which the index lacks); text and tag fields ``$substr``: an exact substring, resolved to ids before this
module compiles the filter (:mod:`.substring`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from redisvl.query.filter import FilterExpression

from .. import tags
from .field_values import kind_filter_value
from .layout import CONTENT_HASH, DOC_ID, ID, MAX_EXACT_INT, TEXT, Layout
from .stopwords import REDIS_STOPWORDS, UNPARSEABLE

FilterLike = FilterExpression | Mapping[str, Any] | str | None

_NUMERIC_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$between"}
_TAG_OPS = {"$eq", "$ne", "$in", "$nin"}
_TEXT_OPS = {"$like", "$match"}
#: A substring test, resolved to ids before compiling (:mod:`.substring`); the compiler itself cannot answer it.
_SUBSTR = {"$substr", "$isubstr"}


class FilterError(ValueError):
    """A filter the index cannot run: unknown field, wrong operator for the field's type, bad value."""


def filterable_fields(layout: Layout) -> dict[str, str]:
    """Every field a filter may name, with its index type."""
    return {ID: "tag", DOC_ID: "tag", CONTENT_HASH: "tag", TEXT: "text", **layout.metadata_fields}


def filter_key(flt: FilterLike) -> Any:
    """A hashable stand-in for ``flt``, for caches of compiled queries: dicts by their repr (types kept apart:
    1, 1.0 and True compile differently), expressions by their query string."""
    if flt is None or isinstance(flt, str):
        return flt
    if isinstance(flt, Mapping):
        return ("dict", repr(flt))
    return ("expr", str(flt))


def compile_filter(layout: Layout, flt: FilterLike) -> FilterExpression | str | None:
    """``flt`` as something redisvl runs: expressions and raw query strings pass through, dicts are compiled."""
    if flt is None or isinstance(flt, FilterExpression | str):
        return flt
    if not isinstance(flt, Mapping):
        raise FilterError(f"a filter is a dict, a redisvl FilterExpression or a query string, not {type(flt).__name__}")
    encoded = layout.dialect == "native"
    return _Compiler(filterable_fields(layout), encoded=encoded, kinds=layout.tag_kinds).compile(flt)


class FilterWalker:
    """The dict filter language both backends share: ``$and`` / ``$or`` / ``$not`` over field conditions, a field's
    bare value meaning ``$eq`` (``$in`` for a list), undeclared fields and wrong operators refused. A backend
    supplies only its output syntax (:meth:`join`, :meth:`negate`) and what a field condition compiles to."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields

    def join(self, parts: list[str], op: str) -> str:
        """``parts`` under ``op`` (``"and"`` / ``"or"``)."""
        raise NotImplementedError

    def negate(self, clause: str) -> str:
        raise NotImplementedError

    def allowed(self, ftype: str) -> set[str]:
        """The operators a field of type ``ftype`` takes."""
        raise NotImplementedError

    def undeclared(self, name: str) -> FilterError:
        """The error for a filter on ``name``, which is not a declared field."""
        raise NotImplementedError

    def condition(self, ftype: str, name: str, op: str, value: Any) -> str:
        raise NotImplementedError

    def check_op(self, ftype: str, name: str, op: str, allowed: set[str]) -> None:
        if op not in allowed:
            raise FilterError(
                f"operator {op!r} does not apply to {ftype} field {name!r}; it takes "
                f"{', '.join(sorted(allowed)) or 'no filter operator'}{self.op_hint(ftype, op)}"
            )

    def op_hint(self, ftype: str, op: str) -> str:
        return ""

    def compile(self, flt: Mapping[str, Any]) -> str:
        if not flt:
            raise FilterError("empty filter: pass None to search without one")
        parts: list[str] = []
        for key, value in flt.items():
            if not isinstance(key, str):
                raise FilterError(f"filter keys are field names (strings), got {key!r}")
            if key in ("$and", "$or"):
                if not isinstance(value, list | tuple) or not value:
                    raise FilterError(f"{key} takes a non-empty list of filters, got {value!r}")
                parts.append(self.join([self.compile(_mapping(key, v)) for v in value], key[1:]))
            elif key == "$not":
                parts.append(self.negate(self.compile(_mapping(key, value))))
            elif key.startswith("$"):
                raise FilterError(f"unknown logical operator {key!r}; use $and, $or, $not")
            else:
                parts.append(self._field(key, value))
        return self.join(parts, "and")

    def _field(self, name: str, cond: Any) -> str:
        ftype = self.fields.get(name)
        if ftype is None:
            raise self.undeclared(name)
        if isinstance(cond, Mapping):
            ops = dict(cond)
        else:
            ops = {"$in" if isinstance(cond, list | tuple | set) else "$eq": cond}
        allowed = self.allowed(ftype)
        parts = []
        for op, value in ops.items():
            self.check_op(ftype, name, op, allowed)
            parts.append(self.condition(ftype, name, op, value))
        if not parts:
            raise FilterError(f"no condition given for {name!r}")
        return self.join(parts, "and")


class _Compiler(FilterWalker):
    """Dict filter -> Redis query string. Every value is written by this module, never pasted into the query."""

    def __init__(self, fields: dict[str, str], encoded: bool, kinds: Mapping[str, str]) -> None:
        super().__init__(fields)
        self.encoded = encoded
        self.kinds = kinds  # the kind of each tag field "auto" declared (field_values.kind_filter_value)

    def join(self, parts: list[str], op: str) -> str:
        return _join(parts, " " if op == "and" else " | ")

    def negate(self, clause: str) -> str:
        return _negate(clause)

    def allowed(self, ftype: str) -> set[str]:
        ops = {"tag": _TAG_OPS, "numeric": _NUMERIC_OPS, "text": _TEXT_OPS}.get(ftype, set())
        return ops | _SUBSTR if ftype in ("tag", "text") else ops

    def undeclared(self, name: str) -> FilterError:
        return FilterError(
            f"cannot filter on {name!r}: it is not an indexed field. Filterable: {', '.join(sorted(self.fields))}. "
            "Declare it in metadata_fields={...} when opening the store: an existing index gains the field in "
            "place, records written before included."
        )

    def op_hint(self, ftype: str, op: str) -> str:
        return _TEXT_EQ_HINT if ftype == "text" and op in _TAG_OPS else ""

    def condition(self, ftype: str, name: str, op: str, value: Any) -> str:
        if op in _SUBSTR:
            raise FilterError(
                f"{op} (substring match) on {name!r} is answered by find, search, text_search, hybrid_search "
                "and mmr_search (and their async twins), which test it exactly first (store/substring.py); this "
                "call compiles the filter as it is: leave it out here"
            )
        if ftype == "tag":
            if name in self.kinds:  # a field "auto" declared from one kind: values compared as Python would
                kind = self.kinds[name]
                try:
                    if op in ("$in", "$nin"):
                        value = [kind_filter_value(name, kind, v) for v in list_operand(name, op, value)]
                    else:
                        value = kind_filter_value(name, kind, value)
                except ValueError as exc:
                    raise FilterError(str(exc)) from exc
            values = tag_values(name, value, many=op in ("$in", "$nin"))
            try:
                clause = tags.tag_clause(name, values, encoded=self.encoded)
            except tags.UnmatchableTagError as exc:
                raise FilterError(f"filter on {name!r}: {exc}") from exc
            return clause if op in ("$eq", "$in") else _negate(clause)
        if ftype == "numeric":
            return _numeric(name, op, value)
        return _text(name, op, value)


#: Why ``$eq`` is refused on a text field: the engine matches its words, not the whole value.
_TEXT_EQ_HINT = (
    ". A text field matches words ($like / $match), so equality on it could match other values: declare the field "
    "as 'tag' to filter on exact values"
)
_WORD = re.compile(r"\w+\*?")


def _text(name: str, op: str, value: Any) -> str:
    """``$like`` / ``$match``: records whose text field holds every word of ``value`` (``word*``: a prefix).

    The value is reduced to its words: Redis query syntax in it (``|``, ``-``, ``@field:``, parentheses) is never
    passed through, so a search string cannot widen the filter.

    A Redis stopword (``the``, ``it``...) is refused, not sent: the index never holds it, and the engine drops it
    from the query, so ``the`` alone filtered nothing (every record) and ``cat the`` matched text without ``the``.
    So is a word the query parser rejects (a lone ``_``: :data:`.stopwords.UNPARSEABLE`), which was a raw syntax
    error. A prefix (``the*``) is a prefix, and is kept.
    """
    if not isinstance(value, str):
        raise FilterError(f"text field {name!r} takes a string, got {value!r}")
    words = _WORD.findall(value)
    if not words:
        raise FilterError(f"{op} on text field {name!r} needs at least one word, got {value!r}")
    unmatchable = [w for w in words if w.lower() in REDIS_STOPWORDS or w.rstrip("*") in UNPARSEABLE]
    if unmatchable:
        raise FilterError(
            f"{op} on text field {name!r}: {', '.join(map(repr, unmatchable))} cannot be matched as a word (the "
            "engine does not index Redis stopwords, and cannot parse a lone '_'), so the filter would match other "
            "records; leave those words out, or declare the field as 'tag' to filter on exact values"
        )
    return f"@{tags.escape(name)}:({' '.join(words)})"


def _numeric(name: str, op: str, value: Any) -> str:
    field = f"@{tags.escape(name)}"
    if op in ("$in", "$nin"):
        items = list_operand(name, op, value)
        clause = _join([f"{field}:[{_number(name, v)} {_number(name, v)}]" for v in items], " | ")
        return clause if op == "$in" else _negate(clause)
    if op == "$between":
        low, high = list_operand(name, op, value, size=2)
        return f"{field}:[{_number(name, low)} {_number(name, high)}]"
    n = _number(name, value)
    return {
        "$eq": f"{field}:[{n} {n}]",
        "$ne": _negate(f"{field}:[{n} {n}]"),
        "$gt": f"{field}:[({n} +inf]",
        "$gte": f"{field}:[{n} +inf]",
        "$lt": f"{field}:[-inf ({n}]",
        "$lte": f"{field}:[-inf {n}]",
    }[op]


def _join(parts: list[str], sep: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + sep.join(parts) + ")"


def _mapping(op: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FilterError(f"{op} takes filters (dicts), got {value!r}")
    return value


def _negate(expr: str) -> str:
    """``NOT expr`` in Redis query syntax."""
    return f"(-{expr})"


def tag_text(value: Any) -> str:
    """The string a tag holds for a metadata value: strings as they are, booleans as ``true`` / ``false``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def tag_values(name: str, value: Any, *, many: bool) -> list[str]:
    """A tag condition's value(s) as the text both backends compare (``many``: an ``$in`` / ``$nin`` list)."""
    items = list_operand(name, "$in", value) if many else [value]
    out = []
    for v in items:
        if v is None or isinstance(v, dict | list | tuple | set):
            raise FilterError(f"tag field {name!r} takes strings, numbers or booleans, got {v!r}")
        out.append(tag_text(v))
    return out


def list_operand(name: str, op: str, value: Any, size: int | None = None) -> list[Any]:
    """The list an operator takes (``$in``, ``$between``...), or a :class:`FilterError` naming the field."""
    if not isinstance(value, list | tuple | set) or not value or (size is not None and len(value) != size):
        want = f"a list of {size}" if size else "a non-empty list"
        raise FilterError(f"{op} on {name!r} takes {want}, got {value!r}")
    return list(value)


def _number(name: str, value: Any) -> str:
    """``value`` written so the engine reads back exactly the double it stands for."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError(f"numeric field {name!r} compares with numbers, got {value!r}")
    if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
        raise FilterError(f"numeric field {name!r}: {value} is beyond 2**53 and cannot be compared exactly")
    if not math.isfinite(value):
        raise FilterError(f"numeric field {name!r} compares with finite numbers, got {value!r}")
    return repr(float(value))
