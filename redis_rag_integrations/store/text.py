"""The BM25 command: built by us next to the KNN one (:mod:`.knn`), its reply read without redis-py's ``Result``.

Why not redisvl's ``TextQuery`` any more: it built a query object per call, and ``ft().search`` went through
redis-py's ``Result`` / ``Document`` objects before our decoder, so a text search paid twice for its rows; and a
hybrid search could not put its two commands in one round trip. What is sent is exactly what ``TextQuery`` sent
(``tests/store/test_text_planner.py`` compares the query strings and the results): the words of the question that
carry meaning (:mod:`.stopwords`), lowercased and joined by ``|`` over the ``text`` field, intersected with the
compiled filter, scored by ``BM25STD`` (``TextQuery``'s default scorer), ``WITHSCORES``, the same returned fields.

Words need no escaping: a word is a run of ``\\w`` characters (letters, digits, ``_``), and the query syntax only
gives a meaning to ASCII punctuation and spaces, which no word holds (the equality with ``TextQuery``'s escaped
string is property-tested).

One word is left out all the same: a lone ``_``, which the query parser rejects as a term (a ``Syntax error``,
:data:`.stopwords.UNPARSEABLE`). It carries no topic, so it is dropped like a stopword.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .filters import FilterLike, compile_filter, filter_key
from .knn import check_k
from .layout import TEXT, Hit, Layout
from .stopwords import QUESTION_STOPWORDS, REDIS_STOPWORDS, UNPARSEABLE

#: What ``TextQuery`` sends by default (BM25 normalised as in the engine's docs); changing it changes rankings.
SCORER = "BM25STD"
#: Plans kept per index; past this the cache is emptied (a caller building unbounded distinct filters).
_MAX_PLANS = 1024
_WORD = re.compile(r"\w+")


def query_words(text: str) -> list[str]:
    """The words of ``text`` a BM25 query sends, lowercased: Redis' own stopwords never (the index lacks them,
    and on search 2.10.5 a union of them crashes the server), question words unless nothing else is left.

    Redis' tokenizer splits stored text on punctuation, so the query is reduced to its words the same way:
    ``Redis?`` escaped as one term would never match ``Redis``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text search needs a non-empty query string")
    words = [w for w in _WORD.findall(text) if w.lower() not in REDIS_STOPWORDS and w not in UNPARSEABLE]
    if not words:
        raise ValueError(f"text search query {text!r} has no words")
    words = [w for w in words if w.lower() not in QUESTION_STOPWORDS] or words
    return [w.lower() for w in words]


class TextPlanner:
    """``FT.SEARCH`` arguments of BM25 queries for one layout; the filter part and the tail are built once per
    (filter, ``k``) and kept, each call adds only its words."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._plans: dict[Any, tuple[str, tuple[Any, ...]]] = {}

    def command(self, text: str, flt: FilterLike, k: int) -> tuple[Any, ...]:
        """The whole ``FT.SEARCH`` command; raises ``ValueError`` on a query without words, ``FilterError`` on a
        bad filter (both before anything is sent)."""
        words = query_words(text)
        key = (filter_key(flt), k)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._build(flt, k)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        where, tail = plan
        return ("FT.SEARCH", self.layout.index_name, f"@{TEXT}:({' | '.join(words)}){where}", *tail)

    def _build(self, flt: FilterLike, k: int) -> tuple[str, tuple[Any, ...]]:
        check_k(k)
        compiled = compile_filter(self.layout, flt)
        rendered = str(compiled).strip() if compiled is not None else ""
        where = "" if rendered in ("", "*") else f" ({rendered})"
        fields = self.layout.returned_fields
        # Legacy layouts keep metadata in fields whose names only the records know: those rows come back whole.
        ret = ("RETURN", len(fields), *fields) if fields is not None else ()
        return where, ("SCORER", SCORER, "WITHSCORES", *ret, "LIMIT", 0, k, "DIALECT", 2)


def rows(reply: Any) -> Iterator[tuple[Any, float, Any]]:
    """``(key, BM25 score, fields)`` of each row of a ``WITHSCORES`` reply, undecoded (``fields`` a flat
    ``[name, value, ...]`` list in RESP2, a map in RESP3)."""
    if isinstance(reply, dict):  # RESP3
        for r in reply.get(b"results", reply.get("results")) or []:
            attrs = r.get(b"extra_attributes", r.get("extra_attributes"))
            yield r.get(b"id", r.get("id")), float(r.get(b"score", r.get("score"))), attrs
        return
    for i in range(1, len(reply) - 2, 3):  # RESP2: [total, key, score, [field, value, ...], ...]
        yield reply[i], float(reply[i + 1]), reply[i + 2]


def field_map(fields: Any) -> dict[Any, Any]:
    """A row's fields as a mapping, whichever protocol sent them."""
    if isinstance(fields, dict):
        return fields
    it = iter(fields or ())
    return dict(zip(it, it, strict=True))


def decode_hit(layout: Layout, key: Any, fields: Any, score: float, distance: float) -> Hit:
    """One row as a :class:`Hit`, decoded through :meth:`.layout.Layout.read` (every dialect, one decoder)."""
    skey = key.decode() if isinstance(key, bytes) else str(key)
    return Hit(layout.read(skey, field_map(fields)), distance, score)


def parse_text_reply(layout: Layout, reply: Any) -> list[Hit]:
    """The hits of a BM25 reply, best first: ``score`` the BM25 score, ``distance`` its negation."""
    return [decode_hit(layout, key, fields, score, -score) for key, score, fields in rows(reply)]


def record_id(layout: Layout, key: Any) -> str:
    """The record id of a key, as :meth:`.layout.Layout.read` derives it (no field decoded)."""
    skey = key.decode() if isinstance(key, bytes) else str(key)
    head = layout.key_prefix + layout.key_separator
    return skey[len(head) :] if skey.startswith(head) else skey
