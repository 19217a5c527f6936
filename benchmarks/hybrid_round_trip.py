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

import argparse
import json
import re
import uuid
from typing import Any

import numpy as np
from redisvl.query import TextQuery

from benchmarks.corpus import doc_chunks, faq_pairs
from benchmarks.machine import load
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import Settings
from redis_rag_integrations.server import EmbeddedRedis
from redis_rag_integrations.store import Hit, Record, RedisVectorIndex
from redis_rag_integrations.store.filters import compile_filter
from redis_rag_integrations.store.layout import TEXT, Layout
from redis_rag_integrations.store.ranking import relative_score_fuse
from redis_rag_integrations.store.stopwords import QUESTION_STOPWORDS, REDIS_STOPWORDS

DIMS = 384
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
    docs = doc_chunks(chunks)
    vectors = rng.normal(size=(len(docs), DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = RedisVectorIndex(
        f"bench-hybrid-{uuid.uuid4().hex[:8]}",
        dims=DIMS,
        metadata_fields={"section": "tag"},
        settings=Settings(redis_url=url),
    )
    try:
        index.upsert([Record(c.id, c.text, v, c.metadata) for c, v in zip(docs, vectors, strict=True)])
        questions = [p.question for p in faq_pairs(60)]
        qvecs = rng.normal(size=(len(questions), DIMS)).astype(np.float32)
        inputs = list(zip(questions, qvecs, strict=True))
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
        before = load()
        samples = interleaved(cases, inputs, rounds=rounds, warmup=10)
        after = load()
    finally:
        index.drop()
        index.close()
    p50 = {name: percentiles(s)["p50"] for name, s in samples.items()}
    return {
        "records": len(docs),
        "samples per case": len(samples["ping"]),
        "load average before (1/5/15 min)": before,
        "load average after": after,
        "p50 ms": {name: round(v, 3) for name, v in p50.items()},
        "ratios planner / previous": {
            "hybrid": round(p50["hybrid planner"] / p50["hybrid previous"], 3),
            "hybrid, filter": round(p50["hybrid planner, filter"] / p50["hybrid previous, filter"], 3),
            "text": round(p50["text planner"] / p50["text previous"], 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        print(json.dumps(run(server.url, args.chunks, args.rounds), indent=2))


if __name__ == "__main__":
    main()
