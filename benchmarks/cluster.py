"""Redis Cluster vs one node: search latency per tenant, and ingestion into 3 tenants on 3 shards in parallel.

Two servers side by side in this process: a local 3-primary Redis Cluster (``tests/cluster.py``, the search module
loaded, no replicas) and one embedded Redis, both without persistence (the cluster's nodes run without AOF; the
single node is started the same way so that fsync does not tilt the ingestion ratio). Three tenants are placed on
the three shards (their hash tags' slots chosen to land on different primaries); each tenant holds the same records
on both servers. Vectors are synthetic (384-dim, normal): the figures are about the Redis side, whose cost does not
depend on what the vectors mean.

* Search: ``RedisVectorIndex.search(k=10)`` of the same query on the tenant's index on the cluster (sent to the
  tenant's node, :mod:`redis_rag_integrations.placement`) and on the single node, interleaved query by query.
  Target (issue 18): cluster p50 <= 1.1x the single node's, per tenant.
* Ingestion: the three tenants written by three threads at once (``upsert`` in batches of 500), on the cluster then
  on the single node (order alternated per round), fresh indexes each round. Reported: records/s and the ratio,
  plus the CPU the client process and the Redis servers used per wall second (what limits it on 2 cores).

Standalone: ``python -m benchmarks.cluster [--smoke|--full]``. The harness passes its own server's URL, unused here:
the single node must have the cluster nodes' persistence settings.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import redis
from redis.cluster import key_slot

from benchmarks.profiles import Profile, resolve
from benchmarks.report import SectionResult, at_most, figure, section
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.tenancy import Tenant

DIMS = 384
K = 10
TENANTS = 3
SEARCH_LIMIT = 1.1
BATCH = 500


def _cluster_module() -> ModuleType:
    """``tests/cluster.py`` (the test suite's cluster launcher), loaded by path: ``tests`` is no package."""
    name = "redis_rag_local_cluster"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "tests" / "cluster.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _tenants_on_shards(ranges: list[tuple[int, int]], stem: str) -> list[Tenant]:
    """One tenant per slot range (= per primary, in the cluster's start-up layout)."""
    found: dict[int, Tenant] = {}
    for i in range(100_000):
        tenant = Tenant(f"{stem}-{i}")
        slot = key_slot(tenant.tag.encode())
        shard = next(n for n, (first, last) in enumerate(ranges) if first <= slot <= last)
        found.setdefault(shard, tenant)
        if len(found) == len(ranges):
            return [found[n] for n in sorted(found)]
    raise RuntimeError("could not place one tenant per shard")


def _records(rng: np.random.Generator, n: int, tag: str) -> list[Record]:
    vectors = rng.normal(size=(n, DIMS)).astype(np.float32)
    return [Record(id=f"{tag}{i}", text=f"chunk {i} of {tag}", vector=vectors[i]) for i in range(n)]


def _server_cpu(urls: list[str]) -> float:
    """CPU seconds (user + sys) the Redis servers at ``urls`` have used so far."""
    total = 0.0
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            info = client.info("cpu")
            total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        finally:
            client.close()
    return total


def _ingest(indexes: list[RedisVectorIndex], data: list[list[Record]], server_urls: list[str]) -> dict[str, float]:
    """Every tenant's records written by its own thread, all at once; wall seconds and CPU use per wall second."""
    errors: list[BaseException] = []

    def write(index: RedisVectorIndex, records: list[Record]) -> None:
        try:
            index.upsert(records, batch_size=BATCH)
        except BaseException as exc:  # reported by the caller: a failed write must not pass as a fast one
            errors.append(exc)

    threads = [threading.Thread(target=write, args=pair) for pair in zip(indexes, data, strict=True)]
    cpu0, server0, start = time.process_time(), _server_cpu(server_urls), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return {
        "seconds": wall,
        "client_cpu": (time.process_time() - cpu0) / wall,
        "server_cpu": (_server_cpu(server_urls) - server0) / wall,
    }


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    docs, ingest_n = p.doc_chunks, p.ingest_records
    ingest_rounds = {"smoke": 1, "quick": 2}.get(p.name, 3)
    queries_n = {"smoke": 20, "quick": 200}.get(p.name, 500)
    rng = np.random.default_rng(18)
    local_cluster = _cluster_module().LocalRedisCluster(primaries=TENANTS, modules=True)
    with local_cluster as cluster, EmbeddedRedis(appendonly=False) as single:
        node_urls = [f"redis://127.0.0.1:{port}" for port in cluster.ports]
        sides = {"cluster": cluster.url, "single": single.url}
        conf = {name: Settings(redis_url=url) for name, url in sides.items()}
        tenants = _tenants_on_shards(cluster.slot_ranges(), f"bench-{uuid.uuid4().hex[:6]}")
        data = [_records(rng, docs, f"t{i}-") for i in range(TENANTS)]
        stores = {
            (side, i): RedisVectorIndex("docs", dims=DIMS, tenant=t, url=sides[side], settings=conf[side])
            for side in sides
            for i, t in enumerate(tenants)
        }
        for (_, i), index in stores.items():
            index.upsert(data[i], batch_size=BATCH)
        queries = list(rng.normal(size=(queries_n, DIMS)).astype(np.float32))
        samples: dict[str, list[float]] = {}
        for i in range(TENANTS):  # one tenant at a time: each server then answers every other call (equally warm)
            cases = {f"{side}:tenant {i}": (lambda q, s=stores[side, i]: s.search(q, k=K)) for side in sides}
            cases.update({f"raw {side}:tenant {i}": _raw_search(stores[side, i]) for side in sides})
            samples.update(interleaved(cases, queries, p.query_rounds))

        ingest: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for r in range(ingest_rounds):
            batch = [_records(rng, ingest_n, f"r{r}t{i}-") for i in range(TENANTS)]
            for side in sides if r % 2 == 0 else reversed(list(sides)):
                targets = [
                    RedisVectorIndex(f"ingest{r}", dims=DIMS, tenant=t, url=sides[side], settings=conf[side])
                    for t in tenants
                ]
                urls = node_urls if side == "cluster" else [single.url]
                ingest[side].append(_ingest(targets, batch, urls))
                for index in targets:
                    index.drop()
        for index in stores.values():
            index.drop()

    figures = []
    raw_ratios = []
    for i in range(TENANTS):
        ours = percentiles(samples[f"cluster:tenant {i}"])["p50"]
        ratio = _round_ratio(samples[f"cluster:tenant {i}"], samples[f"single:tenant {i}"], p.query_rounds)
        raw_ratios.append(
            _round_ratio(samples[f"raw cluster:tenant {i}"], samples[f"raw single:tenant {i}"], p.query_rounds)
        )
        figures.append(at_most(f"search p50, tenant {i} on shard {i}", ours, "ms", ratio, SEARCH_LIMIT, "single node"))
    best = {side: min(m["seconds"] for m in ingest[side]) for side in sides}
    total = TENANTS * ingest_n
    figures.append(
        figure(
            "ingest 3 tenants in parallel, cluster (3 shards)",
            total / best["cluster"],
            "records/s",
            ratio=best["single"] / best["cluster"],
        )
    )
    figures.append(figure("ingest 3 tenants in parallel, single node", total / best["single"], "records/s"))
    use = {side: ingest[side][-1] for side in sides}
    notes = [
        f"3 tenants x {docs} records ({DIMS}-dim, HNSW defaults) on a 3-primary cluster (one tenant per shard) and "
        f"on one node, no persistence on either; {queries_n} queries x {p.query_rounds} rounds, k={K}, per tenant "
        "its cluster shard and the single node interleaved query by query, so each answers every other call (with "
        "the single node answering for all three tenants against one shard's third, even the raw server ratio was "
        "1.1-1.6x at load 6: the busier process stays warmer); ratio = the median over rounds of (cluster p50 / "
        "single-node p50) of the same tenant (one noisy round on a shared machine does not decide it). The same "
        "FT.SEARCH sent raw (execute_command on the node's own redis-py client: no routing, no parsing) gave ratios "
        + ", ".join(f"{r:.2f}x" for r in raw_ratios)
        + ": what the servers alone differ by.",
        f"Ingestion: {ingest_n} records per tenant, one thread per tenant, upsert batches of {BATCH}; best of "
        f"{ingest_rounds} rounds per side (order alternated); ratio = single-node time / cluster time (> 1: the "
        "cluster is faster).",
        "CPU per wall second during the last round (client = this Python process, servers = the Redis processes): "
        + "; ".join(
            f"{side}: client {use[side]['client_cpu']:.2f}, servers {use[side]['server_cpu']:.2f}" for side in sides
        )
        + f". The machine has {_cores()} cores: the cluster's 3 servers and the client share them.",
    ]
    series: dict[str, Any] = {f"latency_ms:{name}": values for name, values in samples.items()}
    return section("Redis Cluster vs one node (tenants on shards)", figures, series, notes)


def _raw_search(index: RedisVectorIndex) -> Any:
    """The index's KNN command sent with ``execute_command`` on the node's own client (the cluster's node client
    for a cluster index): the server's share of a search, without routing or parsing."""
    client = index.client
    if hasattr(client, "get_node_from_key"):
        client = client.get_redis_connection(client.get_node_from_key(index.name))
    args = index._knn.args(None, K, ("doc_id", "text", "metadata"), index.ef_runtime)
    return lambda q: client.execute_command(*args, "PARAMS", 2, "vector", q.tobytes(), "DIALECT", 2)


def _round_ratio(ours: list[float], base: list[float], rounds: int) -> float:
    """Median over the interleaved rounds of (p50 of ``ours`` / p50 of ``base``) in that round."""
    n = len(ours) // rounds
    ratios = [
        percentiles(ours[r * n : (r + 1) * n])["p50"] / percentiles(base[r * n : (r + 1) * n])["p50"]
        for r in range(rounds)
    ]
    return float(np.median(ratios))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
