"""Is the search module's growth under churn its doc table? Raw churn on one index, used_memory against max_doc_id.

Why: the soak's used_memory grew ~300 KB/min while every key stayed flat (``benchmarks/results/load-soak.md``).
Hypothesis: each (re)indexed hash gets a new doc id, and the doc table's bucket array (16 bytes a slot) grows with
the largest doc id until ``MAXDOCTABLESIZE`` slots (1,000,000 by default), then ids share slots (``id % size``).
This churns ``HSET`` / ``DEL`` over 400 hashes (text from a bounded vocabulary, a tag, a 32-dim HNSW vector: the
store's schema, so no term or vector accumulates) on a private embedded Redis started with ``--max-doc-table``
(default: the module's), samples used_memory and ``FT.INFO`` every 10 s, and at the end forces the fork GC
(``FT.DEBUG GC_FORCEINVOKE``) so garbage the GC has not collected yet is not mistaken for the table. Two runs with
different caps at the same rate differ by 16 B x the slots one table has beyond the other (rounded up to the
allocator's size class). Run: ``python -m benchmarks.soak_doctable [--max-doc-table N] [--seconds 240]
[--rate 1000]`` (``--rate 0``: as fast as the server goes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import redis

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis_rag_integrations import EmbeddedRedis

KEYS = 400
SCHEMA = ["text", "TEXT", "label", "TAG", "vector", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "32",
          "DISTANCE_METRIC", "COSINE"]  # fmt: skip


def _info(client: redis.Redis) -> dict[str, float]:
    info = client.execute_command("FT.INFO", "idx")
    fields = ("max_doc_id", "num_docs", "doc_table_size_mb", "inverted_sz_mb", "vector_index_sz_mb")
    return {f: float(info[f.encode()]) for f in fields}


def churn(cap: int | None, seconds: float, rate: float) -> list[dict[str, float]]:
    """Samples (t, used_memory, FT.INFO fields) of ``seconds`` of churn; the last one after a forced GC."""
    search_args = ["MAXDOCTABLESIZE", str(cap)] if cap else []
    with EmbeddedRedis(search_args=search_args, appendonly=False) as server:
        client = redis.Redis.from_url(server.url, socket_timeout=120)  # GC_FORCEINVOKE waits for the GC
        client.execute_command("FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA", *SCHEMA)
        rng = np.random.default_rng(0)
        vectors = [rng.random(32, dtype=np.float32).tobytes() for _ in range(64)]
        samples: list[dict[str, float]] = []
        start, n, next_sample = time.monotonic(), 0, 0.0
        while (elapsed := time.monotonic() - start) < seconds:
            if elapsed >= next_sample:
                samples.append({"t": elapsed, "used_memory": client.info("memory")["used_memory"], **_info(client)})
                next_sample += 10
            pipe = client.pipeline(transaction=False)
            for _ in range(200):
                key = int(rng.integers(KEYS))
                if rng.random() < 0.2:
                    pipe.delete(f"d:{key}")
                else:
                    pipe.hset(f"d:{key}", mapping={"text": f"doc {key} part", "label": f"t{n % 8}",
                                                   "vector": vectors[n % 64]})  # fmt: skip
                n += 1
            pipe.execute()
            if rate > 0:
                time.sleep(max(0.0, n / rate - (time.monotonic() - start)))
        client.execute_command("FT.DEBUG", "GC_FORCEINVOKE", "idx")
        samples.append({"t": -1, "used_memory": client.info("memory")["used_memory"], **_info(client)})
        client.close()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--max-doc-table", type=int, help="MAXDOCTABLESIZE (default: the module's, 1,000,000)")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="writes per second (0: unpaced)")
    args = parser.parse_args(argv)
    if args.max_doc_table is not None and args.max_doc_table < 1:
        parser.error(f"--max-doc-table must be a positive number of slots, got {args.max_doc_table}")
    samples = churn(args.max_doc_table, args.seconds, args.rate)
    print(f"MAXDOCTABLESIZE {args.max_doc_table or 'default (1,000,000)'}, {args.rate:g} writes/s, {args.seconds:g} s")
    print("| t (s) | used_memory (B) | max_doc_id | num_docs | inverted_sz_mb |")
    print("|---|---|---|---|---|")
    for s in samples:
        t = "after GC_FORCEINVOKE" if s["t"] < 0 else f"{s['t']:.0f}"
        print(f"| {t} | {s['used_memory']:,.0f} | {s['max_doc_id']:,.0f} | {s['num_docs']:.0f} | "
              f"{s['inverted_sz_mb']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
