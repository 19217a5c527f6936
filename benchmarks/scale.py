"""The vector index at scale: recall@10 against exact search and memory per vector, float32 vs float16.

Why synthetic data: 100k real embeddings would take hours to compute on two CPU cores, and uniformly random vectors
say nothing about HNSW recall (every point is about equally far from every other, see ENVIRONMENT.md). So the corpus
is *clustered* like sentence embeddings are: 384-dim unit vectors around sub-topic centroids that sit around topic
centroids, with sub-topic sizes drawn from a long-tailed (log-normal) distribution, so that a query's ten nearest
neighbours are close but not trivially separated from the rest of its topic. The queries are held-out points of the
same distribution (never in the index). The notes report the neighbour similarities, to compare with real data.

What is measured, per vector datatype (float32, float16), each index loaded alone into the same Redis:

- loading: records of precomputed vectors through :meth:`RedisVectorIndex.upsert` (pipelined batches, the package's
  default path), wall time until the index reports nothing left to index, and vectors/s;
- recall@10 of :meth:`RedisVectorIndex.search` at the package's default settings (HNSW M 16, EF_CONSTRUCTION 200,
  EF_RUNTIME 100, cosine) against exact top-10 by brute force in numpy over the float32 vectors, and at EF_RUNTIME
  20 / 50 / 200 to show what the default buys (with the query p50 at each);
- memory: ``INFO memory`` ``used_memory`` after loading minus before creating the index, per vector (everything a
  record costs: the hash with its vector blob, the HNSW graph, the other index structures), and FT.INFO's parts
  (``vector_index_sz_mb``, ``total_index_memory_sz_mb``, ``doc_table_size_mb``) plus a sampled ``MEMORY USAGE`` of
  the hashes. On a Redis that other clients write to meanwhile, ``used_memory`` deltas include their writes.

- throughput (float32): queries per second of the core search in 1 and then 2 spawned client processes
  (:class:`benchmarks.timing.QpsPool`), with the query p50 / p99, printed next to the published figure this is to be
  compared with: Redis' vector benchmarking notebook reports 883 QPS at 1.1 ms average latency on 500k x 768-dim
  vectors on one node (a different machine and dataset: a reference point, not a ratio).

Sizes: quick 20k vectors, full 1M (clustered synthetic 384-d, as above: the notes say so), smoke 2k.

Every index and key is named after this process (``scale_<dtype>_<pid>``) and dropped with its records at the end:
the server may be shared, so nothing else is touched.

Run: ``.venv/bin/python -m benchmarks.scale [--full|--smoke]`` (``REDIS_URL`` or, when unset, an embedded Redis).
The harness calls :func:`run`.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.report import figure
from redis_rag_integrations import Settings
from redis_rag_integrations.connection import get_client
from redis_rag_integrations.store import Record, RedisVectorIndex

DIMS = 384  # all-MiniLM-L6-v2, the default embedder
K = 10
RECALL_TARGET = 0.99
EF_SWEEP = (20, 50, 100, 200)
SEED = 20251121
BATCH = 500  # records per upsert call (store.index.WRITE_BATCH)
SIZES = {"quick": (20_000, 200), "full": (1_000_000, 500)}  # (vectors, held-out queries)
#: Seconds of each QPS measurement per mode (a tiny size is the smoke run: the same code path, briefly).
QPS_SECONDS = {"quick": 3.0, "full": 10.0}
#: Redis' vector benchmarking notebook (redis-vl / vector search benchmarks): one node, 500k x 768-dim vectors.
PUBLISHED_QPS, PUBLISHED_AVG_MS = 883.0, 1.1
# Spreads (standard deviation per dimension): a sub-topic centroid is ~0.7 cosine to its topic, a point ~0.8 to its
# sub-topic, so points of one sub-topic are ~0.6 apart, like paraphrases / same-section chunks under MiniLM.
TOPIC_SPREAD = 0.05
POINT_SPREAD = 0.04
POINTS_PER_SUBTOPIC = 40
SUBTOPICS_PER_TOPIC = 25
MB = 1024 * 1024


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def clustered_vectors(n: int, seed: int = SEED, dims: int = DIMS) -> np.ndarray:
    """``n`` clustered unit vectors (float32), deterministic for a seed: topics -> sub-topics -> points."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    n_sub = max(n // POINTS_PER_SUBTOPIC, 1)
    n_topics = max(n_sub // SUBTOPICS_PER_TOPIC, 1)
    topics = unit(rng.standard_normal((n_topics, dims)))
    subs = unit(topics[rng.integers(0, n_topics, n_sub)] + TOPIC_SPREAD * rng.standard_normal((n_sub, dims)))
    weights = rng.lognormal(0.0, 1.0, n_sub)  # long-tailed sub-topic sizes: some crowded, many small
    members = rng.choice(n_sub, size=n, p=weights / weights.sum())
    points = subs[members] + POINT_SPREAD * rng.standard_normal((n, dims))
    return unit(points).astype(np.float32)


def exact_top_k(corpus: np.ndarray, queries: np.ndarray, k: int = K, chunk: int = 100) -> np.ndarray:
    """Row i: the indices of the ``k`` corpus vectors closest (cosine) to query i, by brute force."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        sims = queries[start : start + chunk] @ corpus.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start : start + chunk] = np.take_along_axis(top, order, axis=1)
    return out


def neighbour_stats(corpus: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean cosine of each query to its 1st and 10th exact neighbour and to a random corpus vector."""
    first = np.einsum("ij,ij->i", queries, corpus[truth[:, 0]])
    tenth = np.einsum("ij,ij->i", queries, corpus[truth[:, -1]])
    rng = np.random.default_rng(SEED + 1)
    rand = np.einsum("ij,ij->i", queries, corpus[rng.integers(0, len(corpus), len(queries))])
    return {"first": float(first.mean()), "tenth": float(tenth.mean()), "random": float(rand.mean())}


@dataclass
class DtypeResult:
    """What one datatype's index measured."""

    dtype: str
    load_s: float
    vectors_per_s: float
    used_bytes_per_vector: float
    vector_index_bytes_per_vector: float
    other_index_bytes_per_vector: float
    doc_table_bytes_per_vector: float
    hash_bytes_per_vector: float
    recall: dict[int, float] = field(default_factory=dict)
    p50_ms: dict[int, float] = field(default_factory=dict)
    #: process count -> queries per second of the core search at the default EF (float32 only)
    qps: dict[int, float] = field(default_factory=dict)
    latencies_ms: dict[int, list[float]] = field(default_factory=dict)


def _mb(info: dict[str, Any], name: str) -> float:
    return float(info.get(name, 0) or 0) * MB


def _wait_indexed(index: RedisVectorIndex, timeout: float = 600.0) -> dict[str, Any]:
    """FT.INFO once the index has caught up with its keys (HNSW inserts can lag a background scan)."""
    deadline = time.monotonic() + timeout
    while True:
        info = index.client.ft(index.name).info()
        if str(info.get("indexing", 0)) in ("0", "0.0"):
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(f"index {index.name} still indexing after {timeout:.0f}s")
        time.sleep(0.2)


def settled_used_memory(client: Any, timeout: float = 60.0) -> int:
    """``used_memory`` once the server has finished freeing what was dropped before (lazy free and the search
    module's garbage collection run in the background), so that a previous index does not leak into a delta."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        mem = client.info("memory")
        used = int(mem["used_memory"])
        if int(mem.get("lazyfree_pending_objects", 0)) == 0 and last is not None and abs(used - last) < 64 * 1024:
            return used
        if time.monotonic() > deadline:
            return used
        last = used
        time.sleep(0.5)


def qps_engines(spec: dict[str, Any]) -> dict[str, Any]:
    """The QPS workers' factory: the core search on the scale index, and the bare FT.SEARCH beside it."""
    from benchmarks.engines import bare_knn

    index = RedisVectorIndex(spec["index"], settings=Settings(redis_url=spec["redis_url"]), create=False)
    return {
        "ours: core search": lambda q: index.search(q, K),
        "bare FT.SEARCH": bare_knn(index.client, index.name, "vector", ("doc_id", "text", "metadata", "extra"), spec),
    }


def measure_qps(index: RedisVectorIndex, queries: np.ndarray, seconds: float) -> dict[int, float]:
    """Queries per second of the core search in 1 and 2 client processes (spawned once)."""
    from benchmarks.timing import QpsPool

    spec = {"redis_url": index.settings.redis_url, "index": index.name, "k": K, "ef_runtime": index.ef_runtime}
    with QpsPool("benchmarks.scale:qps_engines", spec, queries, procs=2) as pool:
        return {procs: pool.measure("ours: core search", procs, seconds) for procs in (1, 2)}


def measure_dtype(
    dtype: str,
    corpus: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    settings: Settings,
    qps_seconds: float = 0.0,
) -> DtypeResult:
    """Load ``corpus`` into a fresh index of ``dtype``, measure it, and drop it (records included)."""
    name = f"scale_{dtype}_{os.getpid()}_{time.time_ns()}"  # never an index (or key prefix) of anyone else
    s = settings.model_copy(update={"vector_datatype": dtype})
    probe = get_client(settings.redis_url, settings=s)
    try:
        before = settled_used_memory(probe)
    finally:
        probe.close()
    index = RedisVectorIndex(name, dims=corpus.shape[1], settings=s)
    n = len(corpus)
    try:
        start = time.perf_counter()
        for b in range(0, n, BATCH):
            records = [Record(f"v{i}", f"synthetic vector {i}", corpus[i]) for i in range(b, min(b + BATCH, n))]
            index.upsert(records, batch_size=BATCH)
        info = _wait_indexed(index)
        load_s = time.perf_counter() - start
        if int(info["num_docs"]) != n:
            raise RuntimeError(f"index {name} holds {info['num_docs']} records, expected {n}")
        used = int(index.client.info("memory")["used_memory"]) - before
        sample = range(0, n, max(n // 200, 1))
        pipe = index.client.pipeline(transaction=False)
        for i in sample:
            pipe.memory_usage(index.layout.key(f"v{i}"), samples=0)
        hash_bytes = statistics.mean(int(x or 0) for x in pipe.execute())
        result = DtypeResult(
            dtype=dtype,
            load_s=load_s,
            vectors_per_s=n / load_s,
            used_bytes_per_vector=used / n,
            vector_index_bytes_per_vector=_mb(info, "vector_index_sz_mb") / n,
            other_index_bytes_per_vector=_mb(info, "total_index_memory_sz_mb") / n,
            doc_table_bytes_per_vector=_mb(info, "doc_table_size_mb") / n,
            hash_bytes_per_vector=hash_bytes,
        )
        default_ef = index.ef_runtime
        for ef in sorted({*EF_SWEEP, default_ef}):
            index.ef_runtime = ef
            result.recall[ef], result.latencies_ms[ef] = recall_at_k(index, queries, truth)
            result.p50_ms[ef] = statistics.median(result.latencies_ms[ef])
        index.ef_runtime = default_ef
        if qps_seconds > 0:
            result.qps = measure_qps(index, queries, qps_seconds)
        return result
    finally:
        index.drop(delete_records=True)
        index.close()


def recall_at_k(index: RedisVectorIndex, queries: np.ndarray, truth: np.ndarray) -> tuple[float, list[float]]:
    """(recall@K of the default query against ``truth``, each query's latency in ms)."""
    found = 0
    times = []
    for q, expected in zip(queries, truth, strict=True):
        start = time.perf_counter()
        hits = index.search(q, K)
        times.append((time.perf_counter() - start) * 1000)
        found += len({int(h.record.id[1:]) for h in hits} & set(expected.tolist()))
    return found / (K * len(queries)), times


def run(quick: bool, redis_url: str, *, size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The harness entry point: measure on ``redis_url`` and return the section (title, figures, series, notes).

    ``size`` = (vectors, queries) overrides the mode's sizes (for smoke runs).
    """
    mode = "quick" if quick else "full"
    n, n_queries = size or SIZES[mode]
    if n <= K or n_queries < 1:
        raise ValueError(f"need more than {K} vectors and at least one query, got {n} / {n_queries}")
    # default index settings; only the socket timeout is raised, so that a 500-record HNSW batch on a loaded
    # machine cannot time out the benchmark (it changes nothing that is measured)
    settings = Settings(redis_url=redis_url, socket_timeout=120.0)
    t0 = time.perf_counter()
    points = clustered_vectors(n + n_queries)
    corpus, queries = points[:n], points[n:]
    truth = exact_top_k(corpus, queries)
    stats = neighbour_stats(corpus, queries, truth)
    exact_s = time.perf_counter() - t0
    qps_seconds = QPS_SECONDS[mode] if size is None else 0.5
    results = {
        dtype: measure_dtype(dtype, corpus, queries, truth, settings, qps_seconds if dtype == "float32" else 0.0)
        for dtype in ("float32", "float16")
    }
    f32, f16 = results["float32"], results["float16"]
    default_ef = settings.hnsw_ef_runtime
    sweep = sorted({*EF_SWEEP, default_ef})
    figures = [
        figure(
            f"recall@{K}, float32, EF_RUNTIME {default_ef} (default)",
            f32.recall[default_ef],
            "",
            target=f">= {RECALL_TARGET}",
            passed=f32.recall[default_ef] >= RECALL_TARGET,
        ),
        *(figure(f"recall@{K}, float32, EF_RUNTIME {ef}", f32.recall[ef], "") for ef in sweep if ef != default_ef),
        figure(
            f"recall@{K}, float16, EF_RUNTIME {default_ef} (default)",
            f16.recall[default_ef],
            "",
            ratio=f16.recall[default_ef] / f32.recall[default_ef],
            target=f">= {RECALL_TARGET}",
            passed=f16.recall[default_ef] >= RECALL_TARGET,
        ),
        figure(
            f"query p50, float32, EF_RUNTIME {default_ef} (ratio: vs EF_RUNTIME 20)",
            f32.p50_ms[default_ef],
            "ms",
            ratio=f32.p50_ms[default_ef] / f32.p50_ms[20],
        ),
        figure(
            f"query p99, float32, EF_RUNTIME {default_ef}",
            float(np.percentile(f32.latencies_ms[default_ef], 99)),
            "ms",
            summary=True,
        ),
        *(
            figure(
                f"QPS, float32, core search, {procs} client process{'es' if procs > 1 else ''}",
                qps,
                "q/s",
                summary=True,
            )
            for procs, qps in f32.qps.items()
        ),
        figure(
            f"published: Redis benchmarking notebook, 500k x 768, one node ({PUBLISHED_AVG_MS} ms average)",
            PUBLISHED_QPS,
            "q/s",
            summary=True,
        ),
        figure("memory per vector, float32 (used_memory delta)", f32.used_bytes_per_vector, "bytes", summary=True),
        figure(
            "memory per vector, float16 (used_memory delta)",
            f16.used_bytes_per_vector,
            "bytes",
            ratio=f16.used_bytes_per_vector / f32.used_bytes_per_vector,
            summary=True,
        ),
        figure("vector index per vector, float32 (FT.INFO)", f32.vector_index_bytes_per_vector, "bytes"),
        figure(
            "vector index per vector, float16 (FT.INFO)",
            f16.vector_index_bytes_per_vector,
            "bytes",
            ratio=f16.vector_index_bytes_per_vector / f32.vector_index_bytes_per_vector,
        ),
        figure("hash per record, float32 (MEMORY USAGE)", f32.hash_bytes_per_vector, "bytes"),
        figure(
            "hash per record, float16 (MEMORY USAGE)",
            f16.hash_bytes_per_vector,
            "bytes",
            ratio=f16.hash_bytes_per_vector / f32.hash_bytes_per_vector,
        ),
        figure("load, float32 (upsert until indexed)", f32.vectors_per_s, "vectors/s", summary=True),
        figure(
            "load, float16 (upsert until indexed)",
            f16.vectors_per_s,
            "vectors/s",
            ratio=f16.vectors_per_s / f32.vectors_per_s,
            summary=True,
        ),
    ]
    # ``latency_ms:`` / ``ingest_per_s:`` are the harness' plotted prefixes (benchmarks/report.py); the rest is data
    series = {
        f"latency_ms:float32 EF_RUNTIME {default_ef}": f32.latencies_ms[default_ef],
        f"latency_ms:float16 EF_RUNTIME {default_ef}": f16.latencies_ms[default_ef],
        "ingest_per_s:float32 upsert": [f32.vectors_per_s],
        "ingest_per_s:float16 upsert": [f16.vectors_per_s],
        "ef_runtime": [float(ef) for ef in sweep],
        "recall_float32_by_ef": [f32.recall[ef] for ef in sweep],
        "recall_float16_by_ef": [f16.recall[ef] for ef in sweep],
        "query_p50_ms_float32_by_ef": [f32.p50_ms[ef] for ef in sweep],
        "query_p50_ms_float16_by_ef": [f16.p50_ms[ef] for ef in sweep],
    }
    notes = [
        f"{n} clustered {DIMS}-dim unit vectors ({max(n // POINTS_PER_SUBTOPIC, 1)} sub-topics of long-tailed sizes "
        f"in {max(n // POINTS_PER_SUBTOPIC // SUBTOPICS_PER_TOPIC, 1)} topics, seed {SEED}); {n_queries} held-out "
        f"queries of the same distribution; exact top-{K} by numpy in {exact_s:.1f}s.",
        f"Mean cosine of a query to its 1st / 10th exact neighbour {stats['first']:.3f} / {stats['tenth']:.3f}, "
        f"to a random vector {stats['random']:.3f} (MiniLM on real text: close paraphrases ~0.8-0.9, same topic "
        "~0.5-0.7, unrelated ~0-0.1).",
        f"Default index settings: HNSW M {settings.hnsw_m}, EF_CONSTRUCTION {settings.hnsw_ef_construction}, "
        f"EF_RUNTIME {default_ef}, {settings.distance_metric}; float16 recall is against the float32 exact "
        "neighbours, so it includes the quantization loss.",
        f"Load: {f32.load_s:.1f}s float32, {f16.load_s:.1f}s float16 for {n} records through "
        f"RedisVectorIndex.upsert ({BATCH} per call), until FT.INFO reports nothing left to index.",
        "Memory per vector = INFO used_memory after loading minus before creating the index, / vectors: the hash "
        f"(its vector blob is a second copy: {f32.hash_bytes_per_vector:.0f} B float32 / "
        f"{f16.hash_bytes_per_vector:.0f} B float16 per hash, sampled), the HNSW graph and vectors "
        f"({f32.vector_index_bytes_per_vector:.0f} / {f16.vector_index_bytes_per_vector:.0f} B), the other index "
        f"structures ({f32.other_index_bytes_per_vector:.0f} / {f16.other_index_bytes_per_vector:.0f} B) and the doc "
        f"table ({f32.doc_table_bytes_per_vector:.0f} / {f16.doc_table_bytes_per_vector:.0f} B). A shared server's "
        "concurrent writes would show up in the used_memory delta.",
        "Times and throughput are from a shared 2-core machine: compare the float16 / float32 ratios, not the "
        "absolute figures.",
        f"QPS: the core search (top-{K}, default EF) for {qps_seconds:g} s in 1 and then 2 spawned client processes on "
        f"the same 2 cores as the server. Published reference: {PUBLISHED_QPS:g} QPS at {PUBLISHED_AVG_MS} ms average "
        "on 500k x 768-dim vectors on one node (Redis' vector benchmarking notebook; another machine and dataset).",
    ]
    title = f"Vector index at scale ({n} clustered synthetic {DIMS}-d vectors, {mode})"
    return {"title": title, "figures": figures, "series": series, "notes": notes}


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
