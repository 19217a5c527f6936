"""``$substr``: a filter for records whose field holds an exact substring, answered exactly (LlamaIndex's
``TEXT_MATCH``: ``value in metadata[key]``, case-sensitive).

Why not the engine alone: a text field is indexed as words (lowercased, stemmed, stopwords left out, split on
punctuation), so no query can say "holds ``Run`` as characters": the word query ``Run`` misses ``Running fast`` and
matches ``running``. Why not a refusal: LlamaIndex users write ``TEXT_MATCH`` for exactly this test, and the
substring test in Python is cheap once the candidates are few. So each ``$substr`` condition is answered in two
steps, before the query it sits in is compiled:

1. a superset from the engine: the records whose field holds the value's *whole* words (runs of ASCII letters and
   digits with a space on both sides inside the value: a word cut by the value's ends may be longer in the record;
   only the space, since the tokenizer of search 2.10.5 does not split ``tab\\tsep\\nline`` or ``a\\xa0b``, nor a
   space escaped by a backslash, nor index words over 128 characters (probed: :func:`whole_words`); Redis
   stopwords are left out, the index lacks them; ``$isubstr`` is not narrowed by words), or every record when the
   value has no such word; for a condition the whole filter ANDs, only those passing the filter's other top-level
   conditions (:func:`leaves`);
   more than :data:`MAX_CANDIDATES` is refused (a :class:`.filters.FilterError` saying to narrow it);
2. the exact test on each candidate's metadata, in Python; the condition is replaced by ``id`` ``$in`` the ids that
   pass (or a condition nothing matches).

The replaced condition is equivalent to the original one (as of the read), wherever it sits (under ``$or``,
``$not``, nested), so the query it is part of keeps the engine's own ranking, ``k`` and order: a KNN still returns
the ``k`` nearest records that match, with no over-fetching. The cost is one more round trip and the candidates'
metadata. Sync and async share all of it but the I/O (:func:`exact_substrings`).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..placement import aft_call, ft_call
from .filters import FilterError, compile_filter
from .layout import ID, Layout
from .stopwords import REDIS_STOPWORDS

SUBSTR = "$substr"
#: LlamaIndex ``TEXT_MATCH_INSENSITIVE``: ``value.lower() in metadata[key].lower()``.
ISUBSTR = "$isubstr"
_OPS = (SUBSTR, ISUBSTR)
#: Candidates one ``$substr`` condition may read; past this it is refused (narrow it with whole words).
MAX_CANDIDATES = 10_000
_PLAIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]+(?![A-Za-z0-9])")
#: Longer words are not indexed whole (probed: 128 characters are, 129 are not); a margin below.
_LONGEST_WORD = 100
#: Matches no record: an id and its negation (any id; this one is just short).
NOTHING: dict[str, Any] = {"$and": [{ID: "~"}, {"$not": {ID: "~"}}]}


def whole_words(value: str) -> list[str]:
    """The words of ``value`` every record holding it as a substring holds as words (as the tokenizer of search
    2.10.5 splits, probed): runs of at most :data:`_LONGEST_WORD` ASCII letters and digits with a space on both sides
    inside the value, the space before not escaped by a backslash (``a\\ k`` is one token) and that backslash's
    place inside the value too; not Redis stopwords (never indexed)."""
    out = []
    for m in _PLAIN_WORD.finditer(value):
        start, end = m.span()
        before = value[:start].rstrip(" ")
        if end < len(value) and value[end] == " " and len(before) < start and before and before[-1] != "\\":
            word = m.group()
            if len(word) <= _LONGEST_WORD and word.lower() not in REDIS_STOPWORDS:
                out.append(word)
    return out


def candidates_command(
    layout: Layout, field: str, value: Any, context: list[Any] | None = None, op: str = SUBSTR
) -> tuple[Any, ...]:
    """``FT.SEARCH`` for the superset of records whose ``field`` may hold ``value`` (step 1 of the module doc), and
    that pass the ``context`` conditions (:func:`leaves`). ``$isubstr`` is not narrowed by words: ``str.lower()``
    maps some non-ASCII letters to ASCII ones (the Kelvin sign to ``k``), which the tokenizer does not."""
    if not isinstance(value, str):
        raise FilterError(f"{SUBSTR} / {ISUBSTR} on {field!r} takes a string, got {value!r}")
    ftype = layout.metadata_fields.get(field)
    if ftype not in ("text", "tag"):
        raise FilterError(
            f"{SUBSTR} / {ISUBSTR} (substring match) applies to declared text or tag fields; {field!r} is "
            f"{'not declared' if ftype is None else ftype}"
        )
    words = whole_words(value) if ftype == "text" and op == SUBSTR else []
    narrowing = [*(context or []), *([{field: {"$like": " ".join(words)}}] if words else [])]
    where = str(compile_filter(layout, {"$and": narrowing})) if narrowing else "*"
    fields = layout.returned_fields
    ret = ("RETURN", len(fields), *fields) if fields is not None else ()
    return ("FT.SEARCH", layout.index_name, where, *ret, "LIMIT", 0, MAX_CANDIDATES, "DIALECT", 2)


def matching(layout: Layout, field: str, op: str, value: str, reply: Any) -> dict[str, Any]:
    """The condition that replaces ``{field: {op: value}}``: the candidates holding ``value`` exactly (``$isubstr``:
    after ``str.lower()`` on both sides, as LlamaIndex compares)."""
    from .find import parse_find_reply

    total = reply.get(b"total_results", reply.get("total_results")) if isinstance(reply, dict) else reply[0]
    if int(total) > MAX_CANDIDATES:
        raise FilterError(
            f"{op} {value!r} on {field!r}: {total} candidate records, more than {MAX_CANDIDATES} to test; "
            "narrow it with whole words inside the value, or add another field, or declare the field as a tag "
            "for exact-value filters"
        )
    fold = (lambda t: t.lower()) if op == ISUBSTR else (lambda t: t)
    wanted = fold(value)
    ids = []
    for r in parse_find_reply(layout, reply):
        held = r.metadata.get(field)
        if held is None:
            continue  # no value: no match, as in LlamaIndex
        if not isinstance(held, str):  # LlamaIndex raises TypeError here: a substring of a number is no question
            raise FilterError(
                f"{op} {value!r} on {field!r}: record {r.id!r} holds {held!r} ({type(held).__name__}), not a string"
            )
        if wanted in fold(held):
            ids.append(r.id)
    return {ID: {"$in": ids}} if ids else NOTHING


def leaves(flt: Any) -> list[tuple[str, str, Any, list[Any]]]:
    """Every ``(field, op, value, context)`` of a ``$substr`` / ``$isubstr`` condition in ``flt``, in
    :func:`rewrite`'s order.

    ``context`` narrows the candidates further: for a condition the whole filter ANDs (at the top, or under
    ``$and`` only), the top-level conditions that hold no ``$substr`` (the candidates must pass them anyway, and
    replacing the condition by ids found under them changes nothing where they hold); elsewhere (under ``$or`` /
    ``$not``) nothing.
    """
    if not isinstance(flt, Mapping):
        return []
    top = [c for c in conjuncts(flt) if not _walk(c, [])]
    return _walk(flt, top)


def conjuncts(flt: Mapping[str, Any]) -> list[Any]:
    """The conditions ``flt`` ANDs at its top (``$and`` lists flattened), one ``{key: value}`` each."""
    out: list[Any] = []
    for key, value in flt.items():
        if key == "$and" and isinstance(value, list | tuple):
            for v in value:
                out.extend(conjuncts(v) if isinstance(v, Mapping) else [v])
        else:
            out.append({key: value})
    return out


def _walk(flt: Any, context: list[Any]) -> list[tuple[str, str, Any, list[Any]]]:
    out: list[tuple[str, str, Any, list[Any]]] = []
    if not isinstance(flt, Mapping):
        return out
    for key, value in flt.items():
        if key == "$and" and isinstance(value, list | tuple):
            for v in value:
                out.extend(_walk(v, context))
        elif key == "$or" and isinstance(value, list | tuple):
            for v in value:
                out.extend(_walk(v, []))
        elif key == "$not":
            out.extend(_walk(value, []))
        elif isinstance(value, Mapping):
            out.extend((key, op, value[op], context) for op in _OPS if op in value)
    return out


def rewrite(flt: Any, replacements: list[dict[str, Any]]) -> Any:
    """``flt`` with its ``$substr`` conditions replaced, in :func:`leaves` order."""
    todo = iter(replacements)

    def walk(node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        parts: list[Any] = []
        for key, value in node.items():
            if key in ("$and", "$or") and isinstance(value, list | tuple):
                parts.append({key: [walk(v) for v in value]})
            elif key == "$not":
                parts.append({key: walk(value)})
            elif isinstance(value, Mapping) and any(op in value for op in _OPS):
                rest = {op: v for op, v in value.items() if op not in _OPS}
                parts.extend(next(todo) for op in _OPS if op in value)
                if rest:
                    parts.append({key: rest})
            else:
                parts.append({key: value})
        return parts[0] if len(parts) == 1 else {"$and": parts}

    return walk(flt)


def exact_substrings(method: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve the ``filter`` argument's ``$substr`` conditions (module doc) before ``method`` runs; sync or async,
    the same steps, only the round trip differs. The search hot path pays only for finding the argument and, for a
    dict filter, one walk of it (no signature binding unless there is something to resolve)."""
    sig = inspect.signature(method)
    pos = list(sig.parameters).index("filter")

    def pending(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, str, Any, list[Any]]]:
        flt = kwargs["filter"] if "filter" in kwargs else args[pos] if len(args) > pos else None
        # repr is one C-level pass: a filter that never spells "$substr" costs no Python walk (a value that spells
        # it only takes the walk, which then finds nothing).
        return leaves(flt) if isinstance(flt, Mapping) and "substr" in repr(flt) else []

    def swap(args: tuple[Any, ...], kwargs: dict[str, Any], found: list[Any], replies: list[Any]) -> Any:
        bound = sig.bind(*args, **kwargs)
        layout = bound.arguments["self"].layout
        conds = [matching(layout, f, op, v, r) for (f, op, v, _), r in zip(found, replies, strict=True)]
        bound.arguments["filter"] = rewrite(bound.arguments["filter"], conds)
        return bound

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def arun(*args: Any, **kwargs: Any) -> Any:
            found = pending(args, kwargs)
            if not found:
                return await method(*args, **kwargs)
            index = args[0]
            client = index.async_client
            replies = []
            for f, op, v, context in found:
                cmd = candidates_command(index.layout, f, v, context, op)
                replies.append(
                    await (aft_call(client, index.name, *cmd) if index._cluster else client.execute_command(*cmd))
                )
            bound = swap(args, kwargs, found, replies)
            return await method(*bound.args, **bound.kwargs)

        return arun

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        found = pending(args, kwargs)
        if not found:
            return method(*args, **kwargs)
        index = args[0]
        client = index.client
        replies = []
        for f, op, v, context in found:
            cmd = candidates_command(index.layout, f, v, context, op)
            replies.append(ft_call(client, index.name, *cmd) if index._cluster else client.execute_command(*cmd))
        bound = swap(args, kwargs, found, replies)
        return method(*bound.args, **bound.kwargs)

    return run
