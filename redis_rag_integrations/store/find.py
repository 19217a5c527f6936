"""``find``: records by metadata filter, no ranking: one ``FT.SEARCH`` built from the layout, read by the decoder
every other read uses.

Why not redisvl's ``FilterQuery`` any more: it was the last read through redisvl query objects, so it ran on
redisvl's own routing rather than ours. On a cluster the command must go to the index's node
(:func:`..placement.ft_call`), and with an asyncio cluster client redisvl's search failed outright
(``'NoneType' object has no attribute 'connection_kwargs'``; ``tests/cluster/test_find.py``). Its rows also went
through redis-py's ``Result`` / ``Document`` objects and a second row-to-record step before our decoder.

What is sent is what ``FilterQuery`` sent (``tests/store/test_find_planner.py`` compares them over filters): the
compiled filter as the query string, ``RETURN`` of the layout's fields (a legacy layout's rows whole, since only its
records know their metadata fields), ``LIMIT 0 limit``, ``DIALECT 2``. The reply is read by :func:`.knn.reply_rows`
and :meth:`.layout.Layout.read`, so every layout comes back as ``get`` and the searches return it.
"""

from __future__ import annotations

from typing import Any

from .filters import FilterLike, compile_filter
from .knn import check_k, reply_rows
from .layout import Layout, Record


def find_command(layout: Layout, flt: FilterLike, limit: int) -> tuple[Any, ...]:
    """The whole ``FT.SEARCH`` command; raises ``ValueError`` on a bad ``limit`` or no filter, ``FilterError`` on a
    bad filter (before anything is sent)."""
    check_k(limit)
    compiled = compile_filter(layout, flt)
    if compiled is None:
        raise ValueError("a filter is required")
    fields = layout.returned_fields
    ret = ("RETURN", len(fields), *fields) if fields is not None else ()
    return ("FT.SEARCH", layout.index_name, str(compiled), *ret, "LIMIT", 0, limit, "DIALECT", 2)


def parse_find_reply(layout: Layout, reply: Any) -> list[Record]:
    """The records of a ``find`` reply, in the engine's order (no vectors: the blob is never asked for)."""
    return [
        layout.read(key.decode() if isinstance(key, bytes) else str(key), fields) for key, fields in reply_rows(reply)
    ]


def keys_command(layout: Layout, where: str, limit: int) -> tuple[Any, ...]:
    """``FT.SEARCH`` for the keys only (``NOCONTENT``) of the first ``limit`` records matching the query string
    ``where``: what a delete by filter reads before it unlinks (:func:`.writes.drop_where`)."""
    check_k(limit)
    return ("FT.SEARCH", layout.index_name, where, "NOCONTENT", "LIMIT", 0, limit, "DIALECT", 2)


def reply_keys(reply: Any) -> list[Any]:
    """The keys of a ``NOCONTENT`` reply, undecoded (RESP2 ``[total, key, ...]`` or a RESP3 map)."""
    if isinstance(reply, dict):
        return [r.get(b"id", r.get("id")) for r in reply.get(b"results", reply.get("results")) or []]
    return list(reply[1:])
