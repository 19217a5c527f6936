"""``find``: the previous path (redisvl ``FilterQuery`` through ``SearchIndex.query``, rows read by the removed
``store.query.hits_from_results``) against the planner path (``store/find.py``: one ``FT.SEARCH`` built from the
layout, rows read by ``Layout.read``), interleaved filter by filter on one index so the shared machine's noise hits
both alike.

Index: chunks of the Python docs with their metadata (``section`` as a TAG), random unit vectors (never read back);
filters: each section's name (a few to a few hundred matches, ``limit`` 100), and a numeric range on the chunk
number. The previous path is rebuilt here from redisvl, as it was before the change (for measurement only).
Standalone: ``python -m benchmarks.find_round_trip [--chunks N] [--rounds N]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from redisvl.query import FilterQuery

from benchmarks.before_after import chunk_index, main, timed
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.store.filters import compile_filter

LIMIT = 100


def previous_find(index: RedisVectorIndex, flt: Any, limit: int) -> list[Record]:
    """The find before the planner: a redisvl ``FilterQuery`` per call, redisvl's row processing, then ours."""
    layout = index.layout
    query = FilterQuery(compile_filter(layout, flt), return_fields=layout.returned_fields, num_results=limit)
    rows = index._index.query(query)
    return [layout.read(str(r["id"]), {k: v for k, v in r.items() if k not in ("id", "payload")}) for r in rows]


def run(url: str, chunks: int, rounds: int) -> dict[str, Any]:
    fields = {"section": "tag", "n": "numeric"}
    with chunk_index(url, chunks, "find", fields, np.random.default_rng(0)) as (index, records):
        sections = sorted({str(r.metadata["section"]) for r in records})
        filters: list[Any] = [{"section": s} for s in sections]
        filters += [{"n": {"$gte": i, "$lt": i + 50}} for i in range(0, len(records), max(1, len(records) // 20))]
        for flt in filters:  # the two paths agree before they are timed
            old = [(r.id, r.text, r.metadata) for r in previous_find(index, flt, LIMIT)]
            new = [(r.id, r.text, r.metadata) for r in index.find(flt, LIMIT)]
            assert old == new, flt
        cases = {
            "find previous": lambda f: previous_find(index, f, LIMIT),
            "find planner": lambda f: index.find(f, LIMIT),
            "ping": lambda f: index.client.ping(),
        }
        p50, report = timed(cases, filters, rounds)
        hits = [len(index.find(f, LIMIT)) for f in filters]
    return {
        "records": len(records),
        "filters": len(filters),
        "records returned per filter (min / median / max)": [min(hits), int(np.median(hits)), max(hits)],
        **report,
        "ratio planner / previous": round(p50["find planner"] / p50["find previous"], 3),
    }


if __name__ == "__main__":
    main(run, __doc__)
