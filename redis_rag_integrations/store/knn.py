"""The KNN hot path: one ``FT.SEARCH`` built from cached arguments, its reply read straight into :class:`Hit`.

Why not redisvl's ``VectorQuery`` or redis-py's ``ft().search``: on a 0.5 ms search, building the query object,
redis-py's ``Result`` / ``Document`` objects and redisvl's generic row processing cost as much as Redis itself.
Here the query string is formatted once per (filter, k, fields) and kept; each call only adds the vector bytes.
The reply is read as it comes (RESP2 flat list or RESP3 map, bytes or str), and only the fields the caller asked
for are returned by Redis: never the vector blob.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..tags import ENCODED_MARK
from ..tags import decode as decode_tag
from .filters import FilterLike, compile_filter, filter_key
from .layout import DOC_ID, EXTRA, METADATA, TEXT, Hit, Layout, Record

SCORE_FIELD = "vector_distance"
#: Plans kept per index; past this the cache is emptied (a caller building unbounded distinct filters).
_MAX_PLANS = 1024


class KnnPlanner:
    """Cached ``FT.SEARCH`` argument prefixes for one layout, keyed by filter, ``k``, returned fields."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._plans: dict[Any, tuple[Any, ...]] = {}

    def args(self, flt: FilterLike, k: int, fields: Sequence[str], ef_runtime: int | None) -> tuple[Any, ...]:
        """``FT.SEARCH`` arguments up to (not including) ``PARAMS``: raises ``FilterError`` on a bad filter."""
        key = (filter_key(flt), k, tuple(fields), ef_runtime)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._build(flt, k, tuple(fields), ef_runtime if self.layout.algorithm == "hnsw" else None)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _build(self, flt: FilterLike, k: int, fields: tuple[str, ...], ef_runtime: int | None) -> tuple[Any, ...]:
        check_k(k)
        compiled = compile_filter(self.layout, flt)
        where = str(compiled) if compiled is not None else "*"
        where = "*" if where in ("", "*") else f"({where})"
        ef = f" EF_RUNTIME {ef_runtime}" if ef_runtime else ""
        query = f"{where}=>[KNN {k} @{self.layout.vector_field} $vector{ef} AS {SCORE_FIELD}]"
        returned = (*fields, SCORE_FIELD)
        # Legacy layouts keep metadata in fields whose names only the records know: those rows come back whole.
        ret = ("RETURN", len(returned), *returned) if self.layout.dialect == "native" else ()
        return ("FT.SEARCH", self.layout.index_name, query, *ret,
                "SORTBY", SCORE_FIELD, "ASC", "LIMIT", 0, k)  # fmt: skip


def check_k(k: int) -> None:
    """The result count every search planner takes (``k``, ``limit``): a positive int, ``True`` refused."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")


_BYTES = {name: name.encode() for name in (TEXT, METADATA, DOC_ID, EXTRA, SCORE_FIELD)}
_STRS = {name: name for name in _BYTES}


def parse_reply(layout: Layout, reply: Any, similarity: Callable[[float], float]) -> list[Hit]:
    """The hits of a KNN ``FT.SEARCH`` reply, closest first; ``similarity`` turns Redis' distance into the score.

    Field names are looked up in the reply's own type (bytes, or str for ``decode_responses`` clients) rather
    than decoding every name; values are decoded only for the fields a record holds. This runs once per hit on
    every search, so it avoids slices and keyword calls: it was a sixth of a search's time.
    """
    if layout.dialect == "native" and isinstance(reply, list) and len(reply) > 1 and isinstance(reply[1], bytes):
        return _native_resp2(layout, reply, similarity)
    rows = reply_rows(reply)
    if not rows:
        return []
    if layout.dialect != "native":
        return [_legacy_hit(layout, key, attrs, similarity) for key, attrs in rows]
    head = layout.key_prefix + ":"
    cut = len(head)
    names = _BYTES if isinstance(rows[0][0], bytes) else _STRS
    text_n, meta_n, doc_n, extra_n, score_n = (names[n] for n in (TEXT, METADATA, DOC_ID, EXTRA, SCORE_FIELD))
    loads = _decode_json
    hits: list[Hit] = []
    for key, f in rows:
        skey = key.decode() if isinstance(key, bytes) else key
        text = f.get(text_n)
        meta = f.get(meta_n)
        doc = f.get(doc_n)
        extra = f.get(extra_n)
        if isinstance(text, bytes):
            text = text.decode()
        if doc:
            doc = doc.decode() if isinstance(doc, bytes) else doc
            if doc[:1] == ENCODED_MARK:  # stored encoded (see ..tags); every other id is stored as written
                doc = decode_tag(doc)
        record = Record(
            skey[cut:] if skey.startswith(head) else skey,
            "" if text is None else text,
            None,
            loads(meta.decode() if isinstance(meta, bytes) else meta) if meta else {},
            doc or None,
            loads(extra.decode() if isinstance(extra, bytes) else extra) if extra else None,
        )
        distance = float(f[score_n])
        hits.append(Hit(record, distance, similarity(distance)))
    return hits


def reply_rows(reply: Any) -> list[tuple[Any, dict[Any, Any]]]:
    """``(key, fields)`` of each row of an ``FT.SEARCH`` reply without scores, undecoded, whichever protocol sent
    it (RESP2 flat list or RESP3 map; bytes or str). Shared by the KNN and the ``find`` parsers."""
    if isinstance(reply, dict):  # RESP3
        results = reply.get(b"results", reply.get("results")) or []
        return [(r.get(b"id", r.get("id")), r.get(b"extra_attributes", r.get("extra_attributes"))) for r in results]
    it = iter(reply)  # RESP2: [total, key, [field, value, ...], key, [...], ...]
    next(it, None)
    return [(key, dict(zip(pairs := iter(flat), pairs, strict=True))) for key, flat in zip(it, it, strict=True)]


def _native_resp2(layout: Layout, reply: list[Any], similarity: Callable[[float], float]) -> list[Hit]:
    """:func:`parse_reply` for the common case (our layout, RESP2, bytes), a third faster: each row's flat
    ``[name, value, ...]`` list is walked once instead of being made into a dict, and the key prefix is compared
    as bytes (UTF-8 keeps prefixes, so the id is the same as when compared after decoding)."""
    head = (layout.key_prefix + ":").encode()
    cut = len(head)
    loads = _decode_json
    hits: list[Hit] = []
    append = hits.append
    for i in range(1, len(reply) - 1, 2):
        key = reply[i]
        flat = reply[i + 1]
        text = meta = doc = extra = distance = None
        for j in range(0, len(flat) - 1, 2):
            name = flat[j]
            if name == b"text":
                text = flat[j + 1]
            elif name == b"metadata":
                meta = flat[j + 1]
            elif name == b"vector_distance":
                distance = flat[j + 1]
            elif name == b"doc_id":
                doc = flat[j + 1]
            elif name == b"extra":
                extra = flat[j + 1]
        if doc:
            doc = doc.decode()
            if doc[:1] == ENCODED_MARK:  # stored encoded (see ..tags); every other id is stored as written
                doc = decode_tag(doc)
        score = float(distance)  # type: ignore[arg-type]
        record = Record(
            (key[cut:] if key[:cut] == head else key).decode(),
            "" if text is None else text.decode(),
            None,
            loads(meta.decode()) if meta else {},
            doc or None,
            loads(extra.decode()) if extra else None,
        )
        append(Hit(record, score, similarity(score)))
    return hits


_full_decode = json.JSONDecoder().decode
_scan = json.JSONDecoder().scan_once


def _decode_json(text: str) -> Any:
    """``json.loads(text)`` for the JSON this layout writes, at half its cost per field.

    The C scanner alone (no bytes sniffing, no whitespace regex around the value): a value that does not end
    exactly where the text ends (whitespace, trailing data), or that the scanner refuses, goes through the full
    decoder, which gives the same result or the same error ``json.loads`` would (property-tested). Not orjson,
    though it is faster still: it reads an integer beyond 64 bits as a rounded float, without an error.
    """
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return _full_decode(text)
    return value if end == len(text) else _full_decode(text)


def _legacy_hit(layout: Layout, key: Any, attrs: dict[Any, Any], similarity: Callable[[float], float]) -> Hit:
    record = layout.decode_legacy(key.decode() if isinstance(key, bytes) else key, attrs)
    distance = float(attrs.get(b"vector_distance", attrs.get("vector_distance")))  # type: ignore[arg-type]
    return Hit(record, distance, similarity(distance))
