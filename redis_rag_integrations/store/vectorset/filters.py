"""The store's dict filters compiled to a vector-set ``FILTER`` expression, with the query-engine backend's meaning.

The same dict language as :mod:`..filters` (LangChain dicts as they are, LlamaIndex ``MetadataFilters`` through the
adapter's translation), the same rules: a field that is not declared is an error, and a filter for a value finds
exactly the records holding it, for any string or number, or is refused saying why. Values never become syntax:

* strings are written in their filter form (:func:`.layout.encode_str`: a string with ``"``, ``\\``, control
  characters, or starting with ``~`` is compared as hex), always between double quotes, which that form never holds;
* numbers are written positionally with the shortest digits that read back as the same double (ints beyond 2**53
  refused, as the other backend does);
* tags are lists in the attributes, so ``$eq`` is ``"v" in .f`` (a list-valued tag matches any of its values);
  records without the value hold ``[]`` / ``null`` there, so ``$ne`` / ``$nin`` match them, as in the other backend.

What the expression language cannot do is refused naming the query-engine backend: text (word) matching, geo,
and raw query strings or redisvl expressions (those are the query engine's syntax).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..filters import FilterError, FilterLike, FilterWalker, list_operand, tag_values
from ..layout import CONTENT_HASH, DOC_ID, ID, MAX_EXACT_INT, FieldType
from .layout import QUERY_ENGINE, literal, number

_NUMERIC_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$between"}
_TAG_OPS = {"$eq", "$ne", "$in", "$nin"}
#: Fields held as one string (or null) rather than a list of tags.
_SINGLE = frozenset({ID, DOC_ID})
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def compile_vs_filter(fields: Mapping[str, FieldType], flt: FilterLike) -> str | None:
    """``flt`` as a ``FILTER`` expression (``None``: no filter); raises :class:`FilterError` on anything else."""
    if flt is None:
        return None
    if not isinstance(flt, Mapping):
        raise FilterError(
            f"the vector-set backend takes dict filters ({{'year': {{'$gte': 2020}}}}), not {type(flt).__name__}: "
            f"query strings and redisvl expressions are the query engine's syntax ({QUERY_ENGINE})"
        )
    return _Compiler({ID: "tag", DOC_ID: "tag", **fields}).compile(flt)


class _Compiler(FilterWalker):
    """Dict filter -> ``FILTER`` expression, through the shared walker (:class:`..filters.FilterWalker`)."""

    def join(self, parts: list[str], op: str) -> str:
        return _join(parts, op)

    def negate(self, clause: str) -> str:
        return f"(not ({clause}))"

    def allowed(self, ftype: str) -> set[str]:
        return _TAG_OPS if ftype == "tag" else _NUMERIC_OPS

    def undeclared(self, name: str) -> FilterError:
        why = " (the vector-set backend keeps no content hash in a filterable form)" if name == CONTENT_HASH else ""
        return FilterError(
            f"cannot filter on {name!r}: it is not a declared field{why}. Filterable: "
            f"{', '.join(sorted(self.fields))}. Declare it in metadata_fields when creating the store."
        )

    def check_op(self, ftype: str, name: str, op: str, allowed: set[str]) -> None:
        if op in ("$like", "$match", "$substr", "$isubstr"):
            what = "substring matching, TEXT_MATCH" if op.endswith("substr") else "word matching"
            raise FilterError(f"{op} ({what}) is not supported by the vector-set backend: use {QUERY_ENGINE}")
        super().check_op(ftype, name, op, allowed)

    def condition(self, ftype: str, name: str, op: str, value: Any) -> str:
        return self._tag(name, op, value) if ftype == "tag" else _numeric(name, op, value)

    def _tag(self, name: str, op: str, value: Any) -> str:
        values = tag_values(name, value, many=op in ("$in", "$nin"))
        if name in _SINGLE:
            clause = (
                f".{name} in [{', '.join(map(literal, values))}]"
                if len(values) > 1
                else f".{name} == {literal(values[0])}"
            )
        else:
            clause = _join([f"{literal(v)} in .{name}" for v in values], "or")
        return clause if op in ("$eq", "$in") else f"(not ({clause}))"


def _numeric(name: str, op: str, value: Any) -> str:
    if op in ("$in", "$nin"):
        # Equalities, not ``in [...]``: an array literal takes no expression, which big numbers need (`number`).
        clause = _join([f"(.{name} == {_number(name, v)})" for v in list_operand(name, op, value)], "or")
        return clause if op == "$in" else f"(not ({clause}))"
    if op == "$between":
        low, high = list_operand(name, op, value, size=2)
        return f"(.{name} >= {_number(name, low)} and .{name} <= {_number(name, high)})"
    n = _number(name, value)
    if op == "$eq":
        return f"(.{name} == {n})"
    if op == "$ne":
        return f"(not (.{name} == {n}))"
    return f"(.{name} {_COMPARE[op]} {n})"


def _number(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError(f"numeric field {name!r} compares with numbers, got {value!r}")
    if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
        raise FilterError(f"numeric field {name!r}: {value} is beyond 2**53 and cannot be compared exactly")
    if value != value or value in (float("inf"), float("-inf")):
        raise FilterError(f"numeric field {name!r} compares with finite numbers, got {value!r}")
    return number(value)


def _join(parts: list[str], op: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"
