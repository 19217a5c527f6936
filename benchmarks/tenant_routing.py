"""Why the KNN search is sent to the tenant's node: routed vs redis-py's own routing of FT.SEARCH on a cluster.

redis-py sends FT.* to a random primary (its static policy for the search module is keyless); search 2.10 answers
``MOVED`` from the wrong nodes and redis-py follows it, reloading its whole slot map every fifth redirect. This
measures one tenant's ``FT.SEARCH`` (the same arguments, k=10, 384-dim synthetic vectors) both ways, interleaved
query by query in one process on a local 3-primary cluster (``tests/cluster.py``, search module, no replicas):

* ``routed``: ``RedisVectorIndex.search`` (:func:`redis_rag_integrations.placement.ft_call`, ``target_nodes``);
* ``redis-py``: ``client.execute_command("FT.SEARCH", ...)`` without ``target_nodes``.

Standalone and short (~1 min): ``python -m benchmarks.tenant_routing [--queries N]``.
"""

from __future__ import annotations

import argparse
import uuid

import numpy as np

from benchmarks.cluster import DIMS, K, _cluster_module
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex


def main(queries: int = 300, records: int = 2000) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(18)
    with _cluster_module().LocalRedisCluster(primaries=3, modules=True) as cluster:
        settings = Settings(redis_url=cluster.url)
        index = RedisVectorIndex("docs", dims=DIMS, tenant=f"bench-{uuid.uuid4().hex[:6]}", settings=settings)
        vectors = rng.normal(size=(records, DIMS)).astype(np.float32)
        index.upsert([Record(f"r{i}", f"chunk {i}", vectors[i]) for i in range(records)])
        client = index.client
        asked = rng.normal(size=(queries, DIMS)).astype(np.float32)
        args = index._knn.args(None, K, ("doc_id", "text", "metadata", "extra"), index.ef_runtime)

        def unrouted(q: np.ndarray) -> object:
            return client.execute_command(*args, "PARAMS", 2, "vector", q.tobytes(), "DIALECT", 2)

        samples = interleaved({"routed": lambda q: index.search(q, K), "redis-py": unrouted}, list(asked), rounds=1)
        out = {name: percentiles(s) for name, s in samples.items()}
        index.drop()
    for name, p in out.items():
        print(f"{name:9} p50 {p['p50']:.3f} ms  p95 {p['p95']:.3f} ms  p99 {p['p99']:.3f} ms")
    print(f"redis-py / routed p50: {out['redis-py']['p50'] / out['routed']['p50']:.2f}x")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    main(parser.parse_args().queries)
