"""Query latency of the vector store layers against raw redis-py FT.SEARCH, on one embedded Redis.

Usage: ``python benchmarks/store_latency.py [N_VECTORS] [N_QUERIES]`` (defaults 5000 / 300). Vectors are
clustered 384-dim unit vectors: this measures the hot path (query build, one FT.SEARCH, decode), not recall.
Numbers on a shared machine are noisy: read the ratios to raw, not the absolute times.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from llama_index.core.vector_stores.types import VectorStoreQuery
from redis.commands.search.query import Query

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import Record, RedisVectorIndex

DIMS, K = 384, 10


class _Fixed:
    """A stand-in embedder: the benchmark passes vectors, so the model never runs."""

    model_name, dims = "fixed", DIMS

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), DIMS), dtype=np.float32)

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


def clustered(n: int, rng: np.random.Generator) -> np.ndarray:
    centers = rng.standard_normal((max(n // 100, 1), DIMS))
    v = centers[rng.integers(0, len(centers), n)] + 0.3 * rng.standard_normal((n, DIMS))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def timed(fn: Callable[[np.ndarray], object], queries: np.ndarray) -> list[float]:
    for q in queries[:20]:
        fn(q)
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    nq = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rng = np.random.default_rng(0)
    with EmbeddedRedis() as server:
        settings = Settings(redis_url=server.url)
        index = RedisVectorIndex("bench", dims=DIMS, metadata_fields={"source": "tag"}, settings=settings)
        vectors = clustered(n, rng)
        start = time.perf_counter()
        index.upsert(
            [
                Record(f"r{i}", f"text {i}", v, {"source": f"s{i % 10}"}, doc_id=f"d{i // 5}")
                for i, v in enumerate(vectors)
            ]
        )
        ingest = n / (time.perf_counter() - start)
        while index._index.info()["indexing"] not in (0, "0"):
            time.sleep(0.1)
        queries = clustered(nq, rng)
        ft = index.client.ft("bench")
        raw_q = (
            Query(f"*=>[KNN {K} @vector $v EF_RUNTIME 20 AS d]")
            .sort_by("d")
            .return_fields("id", "text", "metadata", "d")
            .paging(0, K)
            .dialect(2)
        )
        lc = LCStore(_Fixed(), index=index)
        li = LIStore(index=index)
        cases = {
            "raw redis-py FT.SEARCH": lambda q: ft.search(raw_q, {"v": q.tobytes()}),
            "core RedisVectorIndex.search": lambda q: index.search(q, K),
            "LangChain similarity_search_by_vector": lambda q: lc.similarity_search_by_vector(q.tolist(), K),
            "LlamaIndex query": lambda q: li.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=K)),
            "core search + tag filter": lambda q: index.search(q, K, {"source": "s3"}),
        }
        print(f"{n} vectors x {DIMS} dims, HNSW, top-{K}, {nq} queries; ingest {ingest:.0f} records/s (upsert)")
        base = None
        for name, fn in cases.items():
            t = sorted(timed(fn, queries))
            p50, p99 = statistics.median(t), t[int(0.99 * (len(t) - 1))]
            base = base or p50
            print(f"{name:40s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  {p50 / base:4.2f}x raw")
        index.drop()


if __name__ == "__main__":
    main()
