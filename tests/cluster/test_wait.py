"""``WAIT`` on the live 3+3 cluster: a marker in the written keys' slot waits on their node only; an untagged marker
(keys that may sit on any shard) waits on every primary; more replicas than a shard has fail clearly."""

from __future__ import annotations

import pytest
from cluster_ops import node_client
from redis.cluster import RedisCluster

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.replication import Durability, ReplicationError, await_replicas, marker_for, wait

pytestmark = pytest.mark.cluster


def _markers_on(cluster: RedisCluster, pattern: str) -> dict[int, int]:
    """How many keys match ``pattern`` on each primary (by port)."""
    return {
        node.port: len(list(node_client(node.port).scan_iter(match=pattern, count=1000)))
        for node in cluster.get_primaries()
    }


def test_a_tagged_marker_waits_on_its_node_and_an_untagged_one_on_every_primary(
    raw_cluster: RedisCluster, unique_name: str
) -> None:
    tagged = marker_for(f"rag:{{{unique_name}}}:docs:1")
    assert wait(raw_cluster, Durability(1, 2000, tagged)) == 1
    assert sorted(_markers_on(raw_cluster, tagged).values()) == [0, 0, 1]
    untagged = marker_for(f"{unique_name}{{:x")  # a key whose slot no tag of ours can pin
    assert wait(raw_cluster, Durability(1, 2000, untagged)) == 1
    assert list(_markers_on(raw_cluster, untagged + ":*").values()) == [1, 1, 1]


async def test_async_untagged_wait_on_every_primary(search_cluster, unique_name: str) -> None:
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    client = AsyncRedisCluster.from_url(search_cluster.url)
    try:
        await client.initialize()
        untagged = marker_for(f"{unique_name}}}")
        assert await await_replicas(client, Durability(1, 2000, untagged)) == 1
        with pytest.raises(ReplicationError, match="1 of 2 replicas"):
            await await_replicas(client, Durability(2, 200, untagged))
    finally:
        await client.aclose()


def test_more_replicas_than_a_shard_has_fail_clearly(raw_cluster: RedisCluster, unique_name: str) -> None:
    with pytest.raises(ReplicationError, match="only 1 of 2 replicas confirmed it within 200 ms"):
        wait(raw_cluster, Durability(2, 200, marker_for(f"rag:{{{unique_name}}}:x")))


async def test_chat_history_on_the_cluster_waits_for_its_shards_replica(search_cluster, unique_name: str) -> None:
    conf = Settings(redis_url=search_cluster.url, write_replicas=1, write_wait_timeout_ms=2000)
    store = ChatHistoryStore(search_cluster.url, settings=conf, tenant=unique_name)
    try:
        store.append("s", [StoredMessage(role="user", content="one")])
        await store.aappend("s", [StoredMessage(role="assistant", content="two")])
        assert [m.content for m in store.read("s")] == ["one", "two"]
    finally:
        store.delete("s")
