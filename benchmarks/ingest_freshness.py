"""Streaming ingestion: freshness (publish -> searchable) at a steady rate, and throughput vs the embedder alone.

Usage: ``python benchmarks/ingest_freshness.py [--quick]``. Uses the embedded Redis and the default local embedder
(all-MiniLM-L6-v2) on the Python FAQ answers (real text). Targets (issue: streaming ingestion):
- freshness p99 <= 1 s at a steady 20 documents/s;
- throughput >= 0.85x the embedder alone on the same chunks (embedding and Redis writes overlapped).
Prints JSON and PASS/FAIL lines; absolute times are noisy on shared machines, the ratio is the figure to trust.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

import numpy as np

from redis_rag_integrations import EmbeddedRedis, Settings, default_embedder
from redis_rag_integrations.datasets import python_faq_pairs
from redis_rag_integrations.ingest import Producer, Worker, make_splitter, upsert_event
from redis_rag_integrations.store.index import RedisVectorIndex


def freshness(url: str, texts: list[str], rate: float, seconds: float) -> dict[str, float]:
    embedder = default_embedder()
    name = f"bench-fresh-{uuid.uuid4().hex[:6]}"
    index = RedisVectorIndex(name, dims=embedder.dims, settings=Settings(redis_url=url))
    worker = Worker(index, embedder, splitter=make_splitter(), batch_size=32, block_ms=50)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    producer = Producer(name, client=index.client)
    n = int(rate * seconds)
    start = time.perf_counter()
    for i in range(n):
        producer.upsert(f"doc-{i}", texts[i % len(texts)] + f"\n\n(revision {i})")
        time.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    while producer.backlog():
        time.sleep(0.02)
    worker.stop()
    thread.join()
    lat = np.array(worker.stats.freshness) * 1000
    index.drop()
    return {"docs": n, "rate_per_s": rate, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max())}  # fmt: skip


def throughput(url: str, texts: list[str]) -> dict[str, float]:
    embedder = default_embedder()
    splitter = make_splitter()
    chunks = [c for t in texts for c in splitter(t)]
    embedder.embed(chunks[:32])  # warm up
    t0 = time.perf_counter()
    for i in range(0, len(chunks), 32):
        embedder.embed(chunks[i : i + 32])
    embed_only = time.perf_counter() - t0

    name = f"bench-tput-{uuid.uuid4().hex[:6]}"
    index = RedisVectorIndex(name, dims=embedder.dims, settings=Settings(redis_url=url))
    producer = Producer(name, client=index.client, max_backlog=100_000)
    producer.publish([upsert_event(f"doc-{i}", t) for i, t in enumerate(texts)])
    worker = Worker(index, embedder, splitter=splitter, batch_size=32, block_ms=50)
    t0 = time.perf_counter()
    worker.run(until_idle=True)
    pipeline = time.perf_counter() - t0
    count = index.count()
    index.drop()
    return {"docs": len(texts), "chunks": len(chunks), "indexed_chunks": count, "embedder_alone_s": embed_only,
            "pipeline_s": pipeline, "ratio": embed_only / pipeline}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    texts = [p.answer for p in python_faq_pairs()]
    with EmbeddedRedis() as server:
        fresh = freshness(server.url, texts, rate=20.0, seconds=10 if args.quick else 30)
        tput = throughput(server.url, texts if not args.quick else texts[:80])
    print(json.dumps({"freshness": fresh, "throughput": tput}, indent=2))
    print(f"{'PASS' if fresh['p99_ms'] <= 1000 else 'FAIL'} freshness p99 {fresh['p99_ms']:.0f} ms <= 1000 ms "
          f"at {fresh['rate_per_s']:.0f} docs/s (p50 {fresh['p50_ms']:.0f} ms)")  # fmt: skip
    print(f"{'PASS' if tput['ratio'] >= 0.85 else 'FAIL'} ingest throughput {tput['ratio']:.2f}x the embedder alone"
          " (target >= 0.85x)")  # fmt: skip


if __name__ == "__main__":
    main()
