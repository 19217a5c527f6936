"""HNSW recall@10 against exact search at default settings, on real text embeddings, with an EF_RUNTIME sweep.

Index: chunks of the Python docs embedded with the default model (all-MiniLM-L6-v2); queries: the Python FAQ
questions. Top-10 through :meth:`RedisVectorIndex.search` (HNSW, the settings' ``hnsw_ef_runtime``) against the exact
top-10 (numpy, cosine). Random vectors say nothing about HNSW recall (ENVIRONMENT.md): real embeddings only; recall
at 100k+ clustered vectors and memory per vector are in ``benchmarks/scale.py``. Target: recall@10 >= 0.99 at the
default EF_RUNTIME. Standalone: ``python -m benchmarks.store_recall [--full]``.
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from benchmarks.corpus import doc_chunks, embed_cached, faq_pairs
from benchmarks.profiles import Profile, resolve
from benchmarks.report import Figure, SectionResult, at_least, figure, section
from benchmarks.store_latency import wait_indexed
from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex

K = 10
TARGET = 0.99


def exact_top(corpus: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row ``i``: the indices of the ``k`` corpus vectors closest to query ``i`` by cosine."""
    unit = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.argsort(-(q @ unit.T), axis=1)[:, :k]


def recall_at(index: RedisVectorIndex, queries: np.ndarray, truth: np.ndarray) -> tuple[float, list[float]]:
    """recall@K of ``index.search`` against ``truth``, and the per-query latencies (ms)."""
    found, times = 0, []
    for q, exact in zip(queries, truth, strict=True):
        start = time.perf_counter()
        hits = index.search(q, K, fields=())
        times.append((time.perf_counter() - start) * 1000)
        found += len({int(h.record.id[1:]) for h in hits} & set(exact.tolist()))
    return found / (K * len(queries)), times


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    texts = [c.text for c in doc_chunks(p.doc_chunks)]
    vectors = embed_cached(texts, p.cache_dir)
    queries = embed_cached([f.question for f in faq_pairs(p.faq_pairs)], p.cache_dir)
    truth = exact_top(vectors, queries)
    index = RedisVectorIndex(
        f"bench-recall-{uuid.uuid4().hex[:8]}", dims=vectors.shape[1], settings=Settings(redis_url=redis_url)
    )
    try:
        index.upsert([Record(f"c{i}", t, v) for i, (t, v) in enumerate(zip(texts, vectors, strict=True))])
        wait_indexed(index.client, index.name)
        default_ef = index.ef_runtime
        figures: list[Figure] = []
        series: dict[str, list[float]] = {}
        for ef in sorted({*p.ef_sweep, default_ef}):
            index.ef_runtime = ef
            recall, times = recall_at(index, queries, truth)
            p50 = float(np.median(times))
            if ef == default_ef:
                figures.insert(
                    0, at_least(f"recall@{K}, EF_RUNTIME {ef} (default)", recall, "", recall, TARGET, "exact")
                )
                figures.insert(1, figure(f"search p50, EF_RUNTIME {ef} (default)", p50, "ms"))
            else:
                figures.append(figure(f"recall@{K}, EF_RUNTIME {ef}", recall, "", ratio=recall))
                figures.append(figure(f"search p50, EF_RUNTIME {ef}", p50, "ms"))
            series[f"latency_ms:EF_RUNTIME {ef}"] = times
        index.ef_runtime = default_ef
    finally:
        index.drop()
    notes = [
        f"{len(texts)} Python-docs chunks x {vectors.shape[1]} dims (all-MiniLM-L6-v2), {len(queries)} FAQ "
        f"questions as queries; HNSW M={index.layout.hnsw_m} EF_CONSTRUCTION={index.layout.hnsw_ef_construction}, "
        "cosine, float32; exact top-10 by numpy. Ratio = recall itself (the share of the exact top-10 found).",
    ]
    return section(f"Recall@{K} vs exact search (real text embeddings)", figures, series, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
