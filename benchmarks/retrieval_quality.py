"""Retrieval quality on the Python FAQ: R@1, R@5 and MRR@10 for vector, BM25 and hybrid (RRF) search.

Corpus: the FAQ answer passages; queries: their questions (a real question -> relevant passage set, PSF license).
All three modes run through :class:`RedisVectorIndex` at default settings. Target: hybrid R@1 above vector R@1 (the
point of fusing BM25 in). Standalone: ``python -m benchmarks.retrieval_quality``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from benchmarks.corpus import embed_cached, faq_pairs
from benchmarks.profiles import Profile, resolve
from benchmarks.report import Figure, SectionResult, figure, section
from benchmarks.store_latency import wait_indexed
from redis_rag_integrations import Settings
from redis_rag_integrations.store import Hit, Record, RedisVectorIndex

K = 10


def scores(search: Callable[[int], list[Hit]], n: int) -> dict[str, float]:
    """R@1, R@5 and MRR@K over queries ``0..n-1``, where passage ``a{i}`` is the one relevant to query ``i``."""
    r1 = r5 = mrr = 0.0
    for i in range(n):
        ranks = [h.record.id for h in search(i)]
        want = f"a{i}"
        r1 += ranks[:1] == [want]
        r5 += want in ranks[:5]
        mrr += 1 / (ranks.index(want) + 1) if want in ranks else 0.0
    return {"R@1": r1 / n, "R@5": r5 / n, "MRR": mrr / n}


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    pairs = faq_pairs(p.faq_pairs)
    questions = [f.question for f in pairs]
    answers = [f.answer for f in pairs]
    q_vecs = embed_cached(questions, p.cache_dir)
    a_vecs = embed_cached(answers, p.cache_dir)
    index = RedisVectorIndex(
        f"bench-faq-{uuid.uuid4().hex[:8]}", dims=a_vecs.shape[1], settings=Settings(redis_url=redis_url)
    )
    try:
        index.upsert([Record(f"a{i}", t, v) for i, (t, v) in enumerate(zip(answers, a_vecs, strict=True))])
        wait_indexed(index.client, index.name)
        modes: dict[str, Callable[[int], list[Hit]]] = {
            "vector": lambda i: index.search(q_vecs[i], K),
            "BM25": lambda i: index.text_search(questions[i], K),
            "hybrid": lambda i: index.hybrid_search(questions[i], q_vecs[i], K),
        }
        results = {mode: scores(fn, len(pairs)) for mode, fn in modes.items()}
    finally:
        index.drop()
    figures: list[Figure] = []
    vector_r1 = results["vector"]["R@1"]
    for mode, metrics in results.items():
        for metric, value in metrics.items():
            if mode == "hybrid" and metric == "R@1":
                ratio = value / vector_r1 if vector_r1 else float("inf")
                figures.append(
                    figure(
                        f"{mode} {metric}", value, "", ratio=ratio, target="> 1x vector R@1", passed=value > vector_r1
                    )
                )
            else:
                figures.append(
                    figure(
                        f"{mode} {metric}",
                        value,
                        "",
                        ratio=value / vector_r1 if metric == "R@1" else None,
                        summary=True,
                    )
                )
    notes = [
        f"{len(pairs)} Python FAQ questions -> their answer passages (corpus: the {len(pairs)} passages), "
        "all-MiniLM-L6-v2, hybrid = the index's hybrid_search at its defaults (BM25 + KNN, reciprocal rank fusion). "
        "Ratios of R@1 are to vector R@1.",
    ]
    return section("Retrieval quality on the Python FAQ", figures, {}, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
