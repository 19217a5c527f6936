"""Moving a tenant's slot to another primary: what the search engine does on its own, and what
:mod:`redis_rag_integrations.resharding` does about it.

The engine (search 2.10.5, no coordinator): ``MIGRATE`` moves the hashes, never the index; searches of the moved
tenant then fail on the new owner ("no such index"), and the old node keeps an emptied index nobody can reach by
name (``MOVED``). ``move_slot`` re-creates each index of the slot on the target from the source's ``FT.INFO``
before the keys move; ``repair_indexes`` mends a slot moved by another tool.
"""

from __future__ import annotations

import numpy as np
import pytest
import redis
from cluster_ops import node_client, slot_owner_port, tenants_on_distinct_shards
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.cluster import RedisCluster, key_slot

from redis_rag_integrations import Settings
from redis_rag_integrations.resharding import ReshardError, attributes, move_slot, repair_indexes, slot_indexes
from redis_rag_integrations.store import Record, RedisVectorIndex

pytestmark = pytest.mark.cluster

DIMS = 8
DOCS = 300


def _fill(index: RedisVectorIndex, n: int = DOCS) -> np.ndarray:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, DIMS)).astype(np.float32)
    index.upsert([Record(id=f"d{i}", text=f"doc {i}", vector=vectors[i], metadata={"n": i}) for i in range(n)])
    return vectors


def _all_ids(index: RedisVectorIndex, query: np.ndarray) -> set[str]:
    return {h.record.id for h in index.search(query, k=2 * DOCS)}


def _raw_move(cluster: RedisCluster, slot: int, target_port: int) -> None:
    """What ``redis-cli --cluster reshard`` does, and nothing about indexes."""
    cluster.nodes_manager.initialize()
    source = cluster.nodes_manager.get_node_from_slot(slot)
    src, tgt = node_client(source.port), node_client(target_port)
    src_id, tgt_id = (c.execute_command("CLUSTER", "MYID").decode() for c in (src, tgt))
    tgt.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", tgt_id)
    while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        src.execute_command("MIGRATE", "127.0.0.1", target_port, "", 0, 5000, "KEYS", *keys)
    for node in [tgt, src] + [
        node_client(n.port) for n in cluster.get_primaries() if n.port not in (source.port, target_port)
    ]:
        node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", tgt_id)
    cluster.nodes_manager.initialize()


def _other_primary(cluster: RedisCluster, port: int) -> int:
    return next(n.port for n in cluster.get_primaries() if n.port != port)


def test_move_slot_keeps_all_documents_searchable_and_the_index_definition(
    search_cluster, raw_cluster: RedisCluster, cluster_settings: Settings, unique_name: str
) -> None:
    moving, staying = tenants_on_distinct_shards(search_cluster, 2, unique_name)
    index = RedisVectorIndex(
        "docs", dims=DIMS, tenant=moving, url=cluster_settings.redis_url, settings=cluster_settings
    )
    other = RedisVectorIndex(
        "docs", dims=DIMS, tenant=staying, url=cluster_settings.redis_url, settings=cluster_settings
    )
    vectors = _fill(index)
    _fill(other, 50)
    slot = key_slot(index.name.encode())
    source = slot_owner_port(search_cluster, slot)
    target = _other_primary(raw_cluster, source)
    before = attributes(node_client(source).execute_command("FT.INFO", index.name))
    try:
        assert len(_all_ids(index, vectors[0])) == DOCS

        report = move_slot(raw_cluster, slot, f"127.0.0.1:{target}")

        assert (report.keys, report.indexes) == (DOCS, [index.name])  # the index's 300 hashes (no other key)
        assert slot_owner_port(search_cluster, slot) == target
        assert slot_indexes(node_client(source), slot) == []  # no stale copy left behind
        assert attributes(node_client(target).execute_command("FT.INFO", index.name)) == before
        # the same store object, without reopening: every document found on the new node, vectors intact
        hits = index.search(vectors[5], k=DOCS)
        assert {h.record.id for h in hits} == {f"d{i}" for i in range(DOCS)}
        assert hits[0].record.id == "d5"
        assert index.count() == DOCS
        assert len(_all_ids(other, vectors[0])) == 50  # the other tenant never moved
        # writes after the move land on the new node and are indexed there
        index.upsert([Record(id="late", text="late", vector=vectors[0])])
        assert "late" in _all_ids(index, vectors[0])
        # and back again (the index is re-created on the old node, nothing stale in the way)
        move_slot(raw_cluster, slot, f"127.0.0.1:{source}")
        assert len(_all_ids(index, vectors[0])) == DOCS + 1
        assert slot_indexes(node_client(target), slot) == []
    finally:
        index.drop()
        other.drop()


def test_a_raw_slot_move_strands_the_index_and_repair_indexes_mends_it(
    search_cluster, raw_cluster: RedisCluster, cluster_settings: Settings, unique_name: str
) -> None:
    """What the engine does on its own, said precisely, then the repair."""
    (tenant,) = tenants_on_distinct_shards(search_cluster, 1, unique_name)
    index = RedisVectorIndex(
        "docs", dims=DIMS, tenant=tenant, url=cluster_settings.redis_url, settings=cluster_settings
    )
    vectors = _fill(index)
    slot = key_slot(index.name.encode())
    source = slot_owner_port(search_cluster, slot)
    target = _other_primary(raw_cluster, source)
    try:
        _raw_move(raw_cluster, slot, target)

        # the keys moved, the index did not: the new owner has the hashes and no index over them
        assert node_client(target).execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == DOCS
        assert slot_indexes(node_client(target), slot) == []
        with pytest.raises(redis.ResponseError, match=r"(?i)no such index|unknown index"):
            index.search(vectors[0], k=10)
        # the old node still holds the (emptied) definition, unreachable by name: MOVED to the new owner
        assert slot_indexes(node_client(source), slot) == [index.name]
        with pytest.raises(redis.exceptions.MovedError):
            node_client(source).execute_command("FT.DROPINDEX", index.name)

        repaired = repair_indexes(raw_cluster)

        assert (index.name, f"127.0.0.1:{source}", f"127.0.0.1:{target}") in repaired
        assert slot_indexes(node_client(source), slot) == []
        assert len(_all_ids(index, vectors[0])) == DOCS
        assert repair_indexes(raw_cluster) == []  # nothing left to mend
    finally:
        index.drop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slot=st.one_of(st.integers(-5, 20_000), st.booleans(), st.floats(allow_nan=True), st.text(max_size=5)),
    target=st.one_of(st.text(max_size=20), st.sampled_from(["127.0.0.1:0", "127.0.0.1:", ":6379", "127.0.0.1:x"])),
)
def test_move_slot_refuses_a_bad_slot_or_target_before_touching_anything(
    raw_cluster: RedisCluster, slot: object, target: str
) -> None:
    """Exact or a clear refusal: a slot outside [0, 16383] (or not an int) and a target that is not one of the
    cluster's primaries are refused, and no slot is left MIGRATING / IMPORTING."""
    with pytest.raises((ValueError, ReshardError)) as excinfo:
        move_slot(raw_cluster, slot, target)  # type: ignore[arg-type]
    assert "slot" in str(excinfo.value) or "node" in str(excinfo.value) or "primary" in str(excinfo.value)
    for node in raw_cluster.get_primaries():
        nodes = node_client(node.port).execute_command("CLUSTER", "NODES")
        text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
        assert "->-" not in text and "-<-" not in text  # no slot in migration
