"""Failover on the live 3+3 cluster, mid-traffic: a tenant's primary is killed (automatic failover) or handed over
(``CLUSTER FAILOVER``); its replica takes over, clients follow ``MOVED`` / reconnect, searches resume, and with
``write_replicas=1`` no write acknowledged before the kill is missing after the promotion.

Why the replica can serve searches at once: ``FT.CREATE`` is replicated like any write (and a replica that joins
later loads the index definitions with the RDB and indexes its keys), so the promoted replica already has the
tenant's index with every replicated document in it (checked below before the kill, through ``READONLY``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from cluster_ops import (
    bring_back,
    node_client,
    replica_of,
    slot_owner_port,
    tenants_on_distinct_shards,
    until,
    wait_primary,
)
from redis.cluster import key_slot

from redis_rag_integrations import Settings
from redis_rag_integrations.replication import ReplicationError
from redis_rag_integrations.store import Record, RedisVectorIndex

pytestmark = pytest.mark.cluster

DIMS = 8
SEED_DOCS = 300
RNG = np.random.default_rng(11)


class Traffic:
    """A writer (one record per upsert, ids kept once acknowledged) and a searcher, each in a thread, counting
    their errors: what an application sees through a failover."""

    def __init__(self, index: RedisVectorIndex) -> None:
        self.index = index
        self.acked: list[str] = []
        self.write_errors: list[str] = []
        self.search_errors: list[str] = []
        self.searches = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write), threading.Thread(target=self._search)]

    def _write(self) -> None:
        i = 0
        while not self._stop.is_set():
            record = Record(id=f"w{i}", text=f"write {i}", vector=RNG.normal(size=DIMS).astype(np.float32))
            try:
                self.index.upsert([record])
                self.acked.append(record.id)
            except Exception as exc:  # an error is what the application would see: counted, then go on
                self.write_errors.append(type(exc).__name__)
                time.sleep(0.05)
            i += 1

    def _search(self) -> None:
        query = np.ones(DIMS, dtype=np.float32)
        while not self._stop.is_set():
            try:
                self.index.search(query, k=5)
                self.searches += 1
            except Exception as exc:
                self.search_errors.append(type(exc).__name__)
                time.sleep(0.05)

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_writes(self, n: int, timeout: float = 30.0) -> None:
        start = len(self.acked)
        until(f"{n} more acknowledged writes", lambda: len(self.acked) >= start + n, timeout)


@pytest.fixture
def shard(search_cluster, cluster_settings: Settings, unique_name: str) -> Iterator[tuple[RedisVectorIndex, int]]:
    """A tenant's index (every write waits for 1 replica) with 300 documents, and the port of its primary."""
    (tenant,) = tenants_on_distinct_shards(search_cluster, 1, unique_name)
    conf = cluster_settings.model_copy(update={"write_replicas": 1, "write_wait_timeout_ms": 2000})
    index = RedisVectorIndex("docs", dims=DIMS, tenant=tenant, url=conf.redis_url, settings=conf)
    vectors = RNG.normal(size=(SEED_DOCS, DIMS)).astype(np.float32)
    index.upsert([Record(id=f"d{i}", text=f"doc {i}", vector=vectors[i]) for i in range(SEED_DOCS)])
    yield index, slot_owner_port(search_cluster, key_slot(index.name.encode()))
    for port in [n.port for n in search_cluster.nodes if not n.alive]:
        bring_back(search_cluster, port)  # every shard keeps a replica (roles may stay swapped: nothing relies on them)
    index.drop()


def _counts(errors: list[str]) -> dict[str, int]:
    return {name: errors.count(name) for name in sorted(set(errors))}


def _all_ids(index: RedisVectorIndex) -> set[str]:
    return {h.record.id for h in index.search(np.ones(DIMS, dtype=np.float32), k=100_000)}


def _resumed(index: RedisVectorIndex, timeout: float = 20.0) -> None:
    """Searches succeed again, and keep succeeding (20 in a row)."""

    def ok() -> bool:
        try:
            for _ in range(20):
                index.search(np.ones(DIMS, dtype=np.float32), k=3)
            return True
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):
            return False

    until("searches resumed", ok, timeout)


def test_the_replica_has_the_index_and_every_document_before_any_failover(search_cluster, shard) -> None:
    index, primary = shard
    replica = node_client(replica_of(search_cluster, primary))
    assert index.name.encode() in replica.execute_command("FT._LIST")
    replica.execute_command("READONLY")
    reply = replica.execute_command("FT.SEARCH", index.name, "*", "LIMIT", 0, 0)
    total = reply[b"total_results"] if isinstance(reply, dict) else reply[0]
    assert int(total) == SEED_DOCS


def test_a_killed_primary_is_replaced_and_no_acknowledged_write_is_lost(search_cluster, shard) -> None:
    index, primary = shard
    replica = replica_of(search_cluster, primary)
    with Traffic(index) as traffic:
        traffic.wait_writes(20)
        search_cluster.kill(primary)  # a crash, mid-traffic
        killed = time.monotonic()
        acked_before_promotion = len(traffic.acked)
        wait_primary(search_cluster, replica)
        promoted = time.monotonic() - killed
        _resumed(index)
        resumed = time.monotonic() - killed
        # the new primary has no replica yet: a write that must reach one fails clearly (it is on the primary)
        failed = len(traffic.write_errors)
        until("a write refused for want of a replica", lambda: "ReplicationError" in traffic.write_errors[failed:])
        bring_back(search_cluster, primary)  # the old primary returns as the new one's replica
        traffic.wait_writes(20)  # and writes are acknowledged again
    print(
        f"failover: promoted after {promoted:.1f} s, searches resumed after {resumed:.1f} s; "
        f"traffic: {len(traffic.acked)} writes acknowledged, errors {_counts(traffic.write_errors)}; "
        f"{traffic.searches} searches, errors {_counts(traffic.search_errors)}"
    )
    assert slot_owner_port(search_cluster, key_slot(index.name.encode())) == replica
    present = _all_ids(index)
    lost = [i for i in traffic.acked if i not in present]
    assert lost == [], f"{len(lost)} acknowledged writes missing after the failover: {lost[:10]}"
    assert {f"d{i}" for i in range(SEED_DOCS)} <= present
    assert acked_before_promotion >= 20 and traffic.searches > 0
    # what the application saw while no primary served the slot: errors, never a wrong answer
    assert set(traffic.write_errors) <= {"ConnectionError", "ClusterDownError", "TimeoutError", "ReplicationError"}
    assert set(traffic.search_errors) <= {"ConnectionError", "ClusterDownError", "TimeoutError"}


def test_a_manual_failover_is_followed_without_losing_a_write(search_cluster, shard) -> None:
    index, primary = shard
    replica = replica_of(search_cluster, primary)
    with Traffic(index) as traffic:
        traffic.wait_writes(20)
        node_client(replica).execute_command("CLUSTER", "FAILOVER")  # the replica takes over, in step with it
        wait_primary(search_cluster, replica)
        traffic.wait_writes(20)
        _resumed(index)
    print(f"manual failover traffic: errors {_counts(traffic.write_errors)} / {_counts(traffic.search_errors)}")
    present = _all_ids(index)
    assert [i for i in traffic.acked if i not in present] == []
    # the old primary is now a replica of the new one, with the index too
    assert replica_of(search_cluster, replica) == primary


@pytest.mark.parametrize("write_replicas", [0, 1])
def test_without_wait_an_acknowledged_write_can_be_lost_and_with_it_it_is_refused(
    search_cluster, cluster_settings: Settings, unique_name: str, write_replicas: int
) -> None:
    """Why the option exists, shown deterministically: the replica is held back (``DEBUG SLEEP``) and cut off from
    its primary, a write is made, the primary dies, the replica is promoted. Without WAIT the write was acknowledged
    and is gone; with ``write_replicas=1`` the same write raised ``ReplicationError`` instead of being acknowledged."""
    (tenant,) = tenants_on_distinct_shards(search_cluster, 1, f"{unique_name}w{write_replicas}")
    conf = cluster_settings.model_copy(update={"write_replicas": write_replicas, "write_wait_timeout_ms": 500})
    index = RedisVectorIndex("docs", dims=DIMS, tenant=tenant, url=conf.redis_url, settings=conf)
    primary = slot_owner_port(search_cluster, key_slot(index.name.encode()))
    replica = replica_of(search_cluster, primary)
    try:
        index.upsert([Record(id="before", text="before", vector=np.ones(DIMS, dtype=np.float32))])
        sleeper = threading.Thread(target=lambda: node_client(replica).execute_command("DEBUG", "SLEEP", 1.5))
        sleeper.start()
        time.sleep(0.2)  # the replica is asleep: it cannot read its link nor reconnect
        node_client(primary).execute_command("CLIENT", "KILL", "TYPE", "replica")
        late = Record(id="late", text="late", vector=np.ones(DIMS, dtype=np.float32))
        if write_replicas:
            with pytest.raises(ReplicationError, match="0 of 1 replicas"):
                index.upsert([late])
        else:
            assert index.upsert([late]) == ["late"]  # acknowledged by the primary alone
        search_cluster.kill(primary)
        sleeper.join()
        wait_primary(search_cluster, replica)
        _resumed(index)
        assert [r.id for r in index.get(["before", "late"])] == ["before"]  # the late write is not on the replica
    finally:
        bring_back(search_cluster, primary)
        index.drop()
