"""Hybrid and text search: the previous path (redisvl ``TextQuery`` through ``ft().search``; hybrid = KNN search,
then text search, both lists decoded in full, then fused) against the planner path (``store/text.py``,
``store/hybrid.py``: both commands in one round trip, only the ``k`` winners decoded), interleaved question by
question on one index so the shared machine's noise hits both alike.

Index: chunks of the Python docs with their metadata (``section`` as a TAG for the filtered case), random unit
vectors (the vector side's cost does not depend on what the vectors mean); questions: the Python FAQ headings.
The previous path is rebuilt here from redisvl and our fusion functions, as it was before the change (for
measurement only). Standalone: ``python -m benchmarks.hybrid_round_trip [--chunks N] [--rounds N]``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from redisvl.query import TextQuery

from benchmarks.before_after import chunk_index, main, timed, unit_vectors
from benchmarks.corpus import faq_pairs
from redis_rag_integrations.store import Hit, RedisVectorIndex
from redis_rag_integrations.store.filters import compile_filter
from redis_rag_integrations.store.layout import TEXT, Layout
from redis_rag_integrations.store.ranking import relative_score_fuse
from redis_rag_integrations.store.stopwords import QUESTION_STOPWORDS, REDIS_STOPWORDS

K = 4


def previous_text_search(index: RedisVectorIndex, text: str, k: int, flt: Any) -> list[Hit]:
    """The text search before the planner: a redisvl ``TextQuery`` per call, redis-py's ``Result`` objects."""
    words = [w for w in re.findall(r"\w+", text) if w.lower() not in REDIS_STOPWORDS]
    words = [w for w in words if w.lower() not in QUESTION_STOPWORDS] or words
    query = TextQuery(
        " ".join(words),
        TEXT,
        filter_expression=compile_filter(index.layout, flt),
        return_fields=index.layout.returned_fields,
        num_results=k,
        stopwords=None,
    )
    result = index.client.ft(index.name).search(query, query_params=query.params)
    return [_old_hit(index.layout, doc.__dict__) for doc in result.docs]


def _old_hit(layout: Layout, row: dict[str, Any]) -> Hit:
    """A redis-py ``Document`` row as the removed ``store.query.hits_from_results`` read it (BM25 ``score``)."""
    fields = {k: v for k, v in row.items() if k not in ("id", "payload")}
    score = float(row.get("score", 0.0))
    return Hit(record=layout.read(str(row["id"]), fields), distance=-score, score=score)


def previous_hybrid(index: RedisVectorIndex, text: str, vector: np.ndarray, k: int, flt: Any) -> list[Hit]:
    """Two round trips, 2 x 20 records decoded, then relative score fusion (the default)."""
    n = max(4 * k, 20)
    alpha = index.settings.hybrid_alpha
    rankings = [index.search(vector, n, flt), previous_text_search(index, text, n, flt)]
    return relative_score_fuse(rankings, k, [alpha, 1 - alpha])


def run(url: str, chunks: int, rounds: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    with chunk_index(url, chunks, "hybrid", {"section": "tag"}, rng) as (index, records):
        questions = [p.question for p in faq_pairs(60)]
        inputs = list(zip(questions, unit_vectors(rng, len(questions)), strict=True))
        for text, vec in inputs:  # the two paths agree before they are timed
            for flt in (None, {"section": "faq"}):
                old = [(h.record.id, round(h.score, 9)) for h in previous_hybrid(index, text, vec, K, flt)]
                new = [(h.record.id, round(h.score, 9)) for h in index.hybrid_search(text, vec, K, flt)]
                assert old == new, (text, old, new)
        cases = {
            "hybrid previous": lambda x: previous_hybrid(index, x[0], x[1], K, None),
            "hybrid planner": lambda x: index.hybrid_search(x[0], x[1], K),
            "hybrid previous, filter": lambda x: previous_hybrid(index, x[0], x[1], K, {"section": "faq"}),
            "hybrid planner, filter": lambda x: index.hybrid_search(x[0], x[1], K, {"section": "faq"}),
            "text previous": lambda x: previous_text_search(index, x[0], K, None),
            "text planner": lambda x: index.text_search(x[0], K),
            "knn alone": lambda x: index.search(x[1], K),
            "ping": lambda x: index.client.ping(),
        }
        p50, report = timed(cases, inputs, rounds)
    return {
        "records": len(records),
        **report,
        "ratios planner / previous": {
            "hybrid": round(p50["hybrid planner"] / p50["hybrid previous"], 3),
            "hybrid, filter": round(p50["hybrid planner, filter"] / p50["hybrid previous, filter"], 3),
            "text": round(p50["text planner"] / p50["text previous"], 3),
        },
    }


if __name__ == "__main__":
    main(run, __doc__)
