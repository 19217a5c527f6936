"""The ACL roles on a Redis Cluster: a role has no ``INFO``, so the plain URL of one node is recognised as a cluster
node through ``CLUSTER INFO`` (in every role), and the routing commands a cluster client sends (``CLUSTER SLOTS`` /
``SHARDS``) are granted. Without that fallback the client would be a plain one and fail with MOVED.

Its own small cluster (3 primaries, no modules: chat history and the exact cache use plain keys), users created on
every node (ACL users are per node).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis
from cluster import LocalRedisCluster
from redis.cluster import RedisCluster

from redis_rag_integrations import Settings
from redis_rag_integrations.acl import PermissionDenied, create_user
from redis_rag_integrations.cache.exact import ExactCache
from redis_rag_integrations.connection import get_client
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.store import ChatHistoryStore

PASSWORD = "cluster:pw/%"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(primaries=3) as found:
        for port in found.ports:
            node = redis.Redis(host="127.0.0.1", port=port)
            for role in ("rag-reader", "rag-cache"):
                create_user(node, role, PASSWORD, role, search=False)  # no search module on these nodes
            node.close()
        yield found


def _url(cluster: LocalRedisCluster, role: str) -> str:
    return f"redis://{role}:{quote(PASSWORD, safe='')}@127.0.0.1:{cluster.ports[0]}/0"


def test_role_user_gets_a_cluster_client_without_info(cluster: LocalRedisCluster) -> None:
    url = _url(cluster, "rag-cache")
    node = redis.Redis.from_url(url)
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):
            node.info("cluster")  # the role has no INFO: detection must not depend on it
    finally:
        node.close()
    client = get_client(url, settings=Settings())
    try:
        assert isinstance(client, RedisCluster)
        keys = [f"acl:{i}:{uuid.uuid4().hex}" for i in range(30)]  # spread over the three shards
        for key in keys:
            client.set(key, "1", ex=30)
        assert sum(int(client.exists(key)) for key in keys) == 30
    finally:
        client.close()


def test_history_and_exact_cache_under_the_cache_role(cluster: LocalRedisCluster) -> None:
    url = _url(cluster, "rag-cache")
    settings = Settings(redis_url=url)
    history = ChatHistoryStore(url, settings=settings, prefix=f"aclc{uuid.uuid4().hex[:6]}")
    for session in ("a", "b", "c", "d"):
        history.append(session, [StoredMessage(role="user", content=f"hi {session}")])
        assert [m.content for m in history.read(session)] == [f"hi {session}"]
        history.delete(session)
    exact = ExactCache(name=f"aclx{uuid.uuid4().hex[:6]}", redis_url=url, settings=settings)
    for i in range(10):
        assert exact.set(f"prompt {i}", f"answer {i}")
    assert [exact.get(f"prompt {i}") for i in range(10)] == [f"answer {i}" for i in range(10)]


def test_reader_is_refused_writes_on_the_cluster(cluster: LocalRedisCluster) -> None:
    """Refused with the role named, sync and asyncio: redis-py's cluster clients take no parser argument, so the
    package puts the NOPERM parser on their nodes after construction (client_options.denial_aware_cluster)."""
    import asyncio

    from redis_rag_integrations.connection import aget_async_client, async_twin

    url = _url(cluster, "rag-reader")
    client = get_client(url, settings=Settings())

    async def refused_async() -> list[str]:
        messages = []
        made = await aget_async_client(url, settings=Settings())
        twin = async_twin(client)
        try:
            for each in (made, twin):
                assert await each.get(f"missing:{uuid.uuid4().hex}") is None
                with pytest.raises(PermissionDenied) as denied:
                    await each.set(f"k:{uuid.uuid4().hex}", "v")
                messages.append(str(denied.value))
        finally:
            await made.aclose()
            await twin.aclose()
        return messages

    try:
        assert isinstance(client, RedisCluster)
        assert client.get(f"missing:{uuid.uuid4().hex}") is None
        for i in range(6):  # keys on every shard: every node's connections carry the parser
            with pytest.raises(PermissionDenied, match="rag-writer"):
                client.set(f"k:{i}:{uuid.uuid4().hex}", "v")
        assert all("'SET'" in m and "rag-writer" in m for m in asyncio.run(refused_async()))
    finally:
        client.close()


def test_async_detection_without_info(cluster: LocalRedisCluster) -> None:
    import asyncio

    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    from redis_rag_integrations.connection import aget_async_client

    async def round_trip() -> bytes | None:
        url = _url(cluster, "rag-cache").replace("127.0.0.1", "localhost")  # not yet seen: detected afresh
        client = await aget_async_client(url, settings=Settings())
        try:
            assert isinstance(client, AsyncRedisCluster)
            key = f"acl:async:{uuid.uuid4().hex}"
            await client.set(key, "v", ex=30)
            return await client.get(key)
        finally:
            await client.aclose()

    assert asyncio.run(round_trip()) == b"v"
