"""The two storage backends side by side: the query engine (FT.* over hashes, float32) and Redis 8 vector sets.

Same clustered 384-dim data as ``benchmarks/scale.py`` (held-out queries, exact top-10 by brute force), one process,
one server, every index loaded through :class:`RedisVectorIndex` (the package's own write and search path), in turn:
query engine float32 HNSW (M 16, EF_CONSTRUCTION 200, EF_RUNTIME 100: the defaults), and vector sets in ``q8``
(the default), ``bin`` and ``noquant`` with the same M / build EF / search EF. Per index:

- memory per vector: ``used_memory`` after loading minus before (settled: lazy frees done), everything a record
  costs (for the query engine: the hash with its vector blob + the index; for a vector set: the element, its
  quantised vector, HNSW links and JSON attributes; both hold the same text and metadata);
- ingestion rate: records of precomputed vectors through ``upsert`` (500 per call) until searchable;
- recall@10 of ``search`` against exact search over the float32 vectors;
- query p50 / p99: ``search(vector, 10)``, all indexes interleaved query by query (so machine noise hits them
  alike), and QPS with 1 and 2 client processes (spawned once, engines interleaved round by round).

Then the read layout the vector-set backend chose (text and metadata in the element's attributes, read by one
``VSIM ... WITHATTRIBS``) against the alternative (attributes holding only the filter fields, the record in a
hash read in the same round trip by a Lua script, or in a second round trip), on ``READ_SIZE`` vectors with
~500-byte texts: memory per vector and query p50 of each.

Quick mode uses 20k vectors (100k took more than the ~3 minutes a run may take on the shared 2-core machine: the
query engine alone loads ~650 vectors/s at that size); full mode 1M. Nothing of anyone else is touched: every key
and index is named after this process and dropped at the end.

Run: ``.venv/bin/python -m benchmarks.backends [--full|--smoke]``; the harness calls :func:`run`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np

from benchmarks.report import figure
from benchmarks.scale import DIMS, K, clustered_vectors, exact_top_k, settled_used_memory
from benchmarks.timing import QpsPool, interleaved, percentiles, qps_rounds
from redis_rag_integrations import Settings
from redis_rag_integrations.connection import get_client
from redis_rag_integrations.store import Record, RedisVectorIndex

SIZES = {"quick": (20_000, 200), "full": (1_000_000, 1_000)}
BATCH = 500
#: (name, settings update): the query-engine baseline first, every ratio is against it.
CONFIGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("query engine float32", {"backend": "query_engine"}),
    ("vectorset q8", {"backend": "vectorset", "vectorset_quantization": "q8"}),
    ("vectorset q8 threaded", {"backend": "vectorset", "vectorset_quantization": "q8", "vectorset_threaded": True}),
    ("vectorset bin", {"backend": "vectorset", "vectorset_quantization": "bin"}),
    ("vectorset noquant", {"backend": "vectorset", "vectorset_quantization": "noquant"}),
)
BASE = CONFIGS[0][0]
READ_SIZE = 5_000
TEXT = "Chunk text of about five hundred bytes, as a retrieval chunk would hold. " * 7


def _load(name: str, settings: Settings, corpus: np.ndarray) -> tuple[RedisVectorIndex, float, float]:
    """(index, bytes per vector, vectors/s) for ``corpus`` loaded into a fresh index."""
    probe = get_client(settings.redis_url, settings=settings)
    try:
        before = settled_used_memory(probe)
        index = RedisVectorIndex(name, dims=DIMS, settings=settings)
        n = len(corpus)
        start = time.perf_counter()
        for b in range(0, n, BATCH):
            records = [
                Record(f"v{i}", f"synthetic vector {i}", corpus[i], {"i": i}) for i in range(b, min(b + BATCH, n))
            ]
            index.upsert(records, batch_size=BATCH)
        _searchable(index, n)
        seconds = time.perf_counter() - start
        used = settled_used_memory(probe) - before
    finally:
        probe.close()
    return index, used / n, n / seconds


def _searchable(index: RedisVectorIndex, n: int, timeout: float = 600.0) -> None:
    """Wait until the query engine has indexed everything (a vector set is searchable once VADD returns)."""
    deadline = time.monotonic() + timeout
    while index.count() < n or (
        getattr(index, "backend", "query_engine") == "query_engine"
        and str(index.client.ft(index.name).info().get("indexing", 0)) not in ("0", "0.0")
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{index.name}: not searchable after {timeout:.0f} s")
        time.sleep(0.2)


def _recall(index: RedisVectorIndex, queries: np.ndarray, truth: np.ndarray) -> float:
    found = 0
    for q, expected in zip(queries, truth, strict=True):
        found += len({int(h.record.id[1:]) for h in index.search(q, K)} & set(expected.tolist()))
    return found / (K * len(queries))


def engines(spec: dict[str, Any]) -> dict[str, Any]:
    """QPS worker factory: every loaded index, opened by name in the worker process."""
    out = {}
    for label, name, update in spec["indexes"]:
        settings = Settings(redis_url=spec["url"], socket_timeout=120.0, **update)
        index = RedisVectorIndex(name, dims=DIMS, settings=settings, create=False)
        out[label] = lambda q, index=index: index.search(q, K)
    return out


def _read_layouts(client: Any, corpus: np.ndarray, queries: np.ndarray, rounds: int) -> dict[str, Any]:
    """Record in the attributes (one VSIM WITHATTRIBS) vs a hash per record (script, or a second round trip)."""
    tag = f"{{bench_read_{os.getpid()}}}"
    full_key, slim_key, head = f"{tag}:full", f"{tag}:slim", f"{tag}:h:"
    n = min(len(corpus), READ_SIZE)
    memory: dict[str, float] = {}
    for key, full in ((full_key, True), (slim_key, False)):
        before = settled_used_memory(client)
        pipe = client.pipeline(transaction=False)
        for i in range(n):
            meta = {"i": i, "source": f"s{i % 10}"}
            attrs: dict[str, Any] = {"id": f"v{i}", "doc_id": None}
            if full:
                attrs |= {"text": TEXT, "metadata": meta, "content_hash": "0" * 64}
            else:
                pipe.hset(
                    head + f"v{i}", mapping={"text": TEXT, "metadata": json.dumps(meta), "content_hash": "0" * 64}
                )
            pipe.execute_command("VADD", key, "FP32", corpus[i].tobytes(), f"v{i}", "Q8", "SETATTR", json.dumps(attrs))
            if i % 500 == 499:
                pipe.execute()
        pipe.execute()
        memory[key] = (settled_used_memory(client) - before) / n
    script = client.register_script(
        "local r = redis.call('VSIM', KEYS[1], 'FP32', ARGV[1], 'COUNT', 10, 'WITHSCORES') local out = {} "
        "for i = 1, #r, 2 do out[#out + 1] = r[i]; out[#out + 1] = r[i + 1]; "
        "out[#out + 1] = redis.call('HMGET', ARGV[2] .. r[i], 'text', 'metadata') end return out"
    )

    def attributes(q: np.ndarray) -> object:
        return client.execute_command("VSIM", full_key, "FP32", q.tobytes(), "COUNT", K, "WITHSCORES", "WITHATTRIBS")

    def in_script(q: np.ndarray) -> object:
        return script(keys=[slim_key], args=[q.tobytes(), head])

    def two_trips(q: np.ndarray) -> object:
        reply = client.execute_command("VSIM", slim_key, "FP32", q.tobytes(), "COUNT", K, "WITHSCORES")
        pipe = client.pipeline(transaction=False)
        for element in reply[::2] if isinstance(reply, list) else reply:
            pipe.hmget(head + element.decode(), "text", "metadata")
        return pipe.execute()

    try:
        cases = {"attributes (chosen)": attributes, "hash, same script": in_script, "hash, second trip": two_trips}
        samples = interleaved(cases, list(queries), rounds=rounds, warmup=10)
    finally:
        client.delete(full_key, slim_key)
        for start in range(0, n, 1000):
            client.delete(*(head + f"v{i}" for i in range(start, min(start + 1000, n))))
    return {"n": n, "memory": {"attributes (chosen)": memory[full_key], "hash": memory[slim_key]},
            "p50": {c: percentiles(s)["p50"] for c, s in samples.items()}}  # fmt: skip


def run(quick: bool, redis_url: str, *, size: tuple[int, int] | None = None) -> dict[str, Any]:
    mode = "quick" if quick else "full"
    n, n_queries = size or SIZES[mode]
    smoke = size is not None
    points = clustered_vectors(n + n_queries)
    corpus, queries = points[:n], points[n:]
    truth = exact_top_k(corpus, queries)
    base = Settings(redis_url=redis_url, socket_timeout=120.0)
    stamp = f"{os.getpid()}_{time.time_ns()}"
    loaded: dict[str, tuple[RedisVectorIndex, float, float]] = {}
    figures, notes = [], []
    try:
        for label, update in CONFIGS:
            settings = base.model_copy(update=update)
            name = f"bench_backends_{'_'.join(label.split()[1:])}_{stamp}"
            loaded[label] = _load(name, settings, corpus)
        recall = {label: _recall(index, queries, truth) for label, (index, _, _) in loaded.items()}
        cases = {label: (lambda q, index=index: index.search(q, K)) for label, (index, _, _) in loaded.items()}
        latency = interleaved(cases, list(queries), rounds=1 if smoke else 2, warmup=10)
        stats = {label: percentiles(s) for label, s in latency.items()}
        spec = {"url": redis_url, "indexes": [[label, index.name, u] for (label, u), (index, _, _)
                                              in zip(CONFIGS, loaded.values(), strict=True)]}  # fmt: skip
        with QpsPool("benchmarks.backends:engines", spec, queries, procs=2) as pool:
            qps = qps_rounds(pool, [c for c, _ in CONFIGS], (1, 2), seconds=0.5 if smoke else 1.5, rounds=1)
        base_mem, base_rate = loaded[BASE][1], loaded[BASE][2]
        for label, (_, mem, rate) in loaded.items():
            q8 = label == "vectorset q8"
            mem_ratio, p50_ratio = mem / base_mem, stats[label]["p50"] / stats[BASE]["p50"]
            p99 = stats[label]["p99"]
            figures += [
                figure(f"memory per vector, {label} (used_memory delta; ratio vs query engine)", mem, "bytes",
                       ratio=mem_ratio, target="<= 0.35x" if q8 else None, passed=mem_ratio <= 0.35 if q8 else None,
                       summary=True),
                figure(f"recall@{K}, {label}", recall[label], "", target=">= 0.95" if q8 else None,
                       passed=recall[label] >= 0.95 if q8 else None),
                figure(f"query p50, {label} (ratio vs query engine)", stats[label]["p50"], "ms", ratio=p50_ratio,
                       target="<= 1.0x" if q8 else None, passed=p50_ratio <= 1.0 if q8 else None, summary=True),
                figure(f"query p99, {label}", stats[label]["p99"], "ms", ratio=p99 / stats[BASE]["p99"]),
                figure(f"QPS 1 process, {label}", qps[label][0], "queries/s", ratio=qps[label][0] / qps[BASE][0]),
                figure(f"QPS 2 processes, {label}", qps[label][1], "queries/s", ratio=qps[label][1] / qps[BASE][1]),
                figure(f"ingestion, {label} (upsert until searchable)", rate, "vectors/s", ratio=rate / base_rate),
            ]  # fmt: skip
        probe = get_client(redis_url, settings=base)
        try:
            reads = _read_layouts(probe, corpus, queries, rounds=1 if smoke else 2)
        finally:
            probe.close()
        for case, p50 in reads["p50"].items():
            figures.append(figure(f"read layout p50, {case} ({reads['n']} vectors, ~500-byte texts)", p50, "ms",
                                  ratio=p50 / reads["p50"]["attributes (chosen)"]))  # fmt: skip
        for case, mem in reads["memory"].items():
            figures.append(figure(f"read layout memory per vector, {case}", mem, "bytes",
                                  ratio=mem / reads["memory"]["attributes (chosen)"]))  # fmt: skip
    finally:
        for index, _, _ in loaded.values():
            index.drop()
            index.close()
    notes.append(
        f"{n} clustered {DIMS}-dim unit vectors, {n_queries} held-out queries (benchmarks/scale.py's generator); every "
        "index built with M 16, build EF 200, search EF 100 (the package defaults); one server, loaded in turn, "
        "queried interleaved. Ratios are against the query-engine float32 index."
    )
    series = {f"latency_ms:{label}": samples for label, samples in latency.items()}
    return {"title": "Storage backends: query engine vs vector sets", "figures": figures, "series": series,
            "notes": notes}  # fmt: skip


if __name__ == "__main__":
    from benchmarks.run import redis_server

    arg = sys.argv[1] if len(sys.argv) > 1 else "--quick"
    with redis_server(None) as url:
        result = run(arg != "--full", url, size=(2_000, 20) if arg == "--smoke" else None)
    for f in result["figures"]:
        ratio = f" ({f['ratio']:.2f}x)" if f.get("ratio") is not None else ""
        verdict = "" if f.get("passed") is None else (" PASS" if f["passed"] else " MISS")
        print(f"{f['name']}: {f['value']:.4g} {f['unit']}{ratio}{verdict}")
    print(*result["notes"], sep="\n")
