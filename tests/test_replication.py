"""The ``write_replicas`` option (WAIT after each index write) on single servers: a primary with a replica, and a
server without one, where a requested wait must fail clearly (never hang, never pass silently).

The cluster side (writes acknowledged before a primary is killed survive the promotion) is in tests/cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from redis.cluster import key_slot

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.placement import hash_tag
from redis_rag_integrations.replication import Durability, ReplicationError, marker_for
from redis_rag_integrations.store import Record, RedisVectorIndex

DIMS = 4


def _records(n: int, start: int = 0) -> list[Record]:
    return [Record(id=f"r{i}", text=f"text {i}", vector=[1.0, float(i), 0.5, 0.25]) for i in range(start, start + n)]


@pytest.fixture(scope="module")
def primary_with_replica() -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis]]:
    """Two embedded servers: the second replicates the first (linked before the tests run)."""
    with EmbeddedRedis(appendonly=False) as primary:
        replica = EmbeddedRedis(appendonly=False, extra_args=["--replicaof", "127.0.0.1", str(primary.port)])
        with replica:
            client = redis.Redis.from_url(replica.url)
            deadline = time.monotonic() + 15
            while client.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline, "the replica never linked to its primary"
                time.sleep(0.05)
            client.close()
            yield primary, replica


def test_with_a_replica_every_acknowledged_write_is_on_the_replica_when_the_call_returns(
    primary_with_replica: tuple[EmbeddedRedis, EmbeddedRedis], unique_name: str
) -> None:
    primary, replica = primary_with_replica
    conf = Settings(redis_url=primary.url, write_replicas=1, write_wait_timeout_ms=2000)
    index = RedisVectorIndex(unique_name, dims=DIMS, url=primary.url, settings=conf)
    reader = redis.Redis.from_url(replica.url)
    try:
        for batch in range(5):  # several writes, each checked on the replica the moment it is acknowledged
            ids = index.upsert(_records(40, start=batch * 40))
            present = reader.pipeline(transaction=False)
            for i in ids:
                present.exists(index.layout.key(i))
            assert sum(present.execute()) == len(ids)
        assert index.delete(["r0", "r1"]) == 2
        assert reader.exists(index.layout.key("r0"), index.layout.key("r1")) == 0
    finally:
        index.drop()
        reader.close()


async def test_async_writes_wait_for_the_replica_too(
    primary_with_replica: tuple[EmbeddedRedis, EmbeddedRedis], unique_name: str
) -> None:
    primary, replica = primary_with_replica
    conf = Settings(redis_url=primary.url, write_replicas=1, write_wait_timeout_ms=2000)
    index = RedisVectorIndex(unique_name, dims=DIMS, url=primary.url, settings=conf)
    reader = redis.Redis.from_url(replica.url)
    try:
        ids = await index.aupsert(_records(60))
        assert reader.exists(*[index.layout.key(i) for i in ids]) == 60
    finally:
        index.drop()
        reader.close()


def test_without_replicas_a_requested_wait_fails_clearly_and_the_write_stays(redis_url: str, unique_name: str) -> None:
    """The embedded test server has no replica: WAIT 1 cannot be met. The call must raise after the timeout (not
    hang, not return as if replicated), say what happened, and the data must still be on the primary."""
    conf = Settings(redis_url=redis_url, write_replicas=1, write_wait_timeout_ms=100)
    index = RedisVectorIndex(unique_name, dims=DIMS, url=redis_url, settings=conf)
    try:
        with pytest.raises(ReplicationError) as excinfo:
            index.upsert(_records(3))
        message = str(excinfo.value)
        assert "0 of 1 replicas" in message and "100 ms" in message and "not rolled back" in message
        assert "connected_slaves" in message and "write_replicas" in message
        assert [r.id for r in index.get(["r0", "r1", "r2"])] == ["r0", "r1", "r2"]
        with pytest.raises(ReplicationError, match="0 of 1 replicas"):
            index.delete(["r0"])
        # reads never wait
        assert index.document_states(["nothing"]) == {}
    finally:
        index.drop()


async def test_without_replicas_a_requested_async_wait_fails_clearly(redis_url: str, unique_name: str) -> None:
    conf = Settings(redis_url=redis_url, write_replicas=2, write_wait_timeout_ms=100)
    index = RedisVectorIndex(unique_name, dims=DIMS, url=redis_url, settings=conf)
    try:
        with pytest.raises(ReplicationError, match="0 of 2 replicas"):
            await index.aupsert(_records(2))
        assert len(await index.aget(["r0", "r1"])) == 2
    finally:
        await index.adrop()


def test_no_wait_by_default_and_no_marker_key(redis_url: str, unique_name: str, client: redis.Redis) -> None:
    index = RedisVectorIndex(unique_name, dims=DIMS, url=redis_url, settings=Settings(redis_url=redis_url))
    try:
        index.upsert(_records(2))
        assert client.exists(marker_for(index.layout.key(""))) == 0
    finally:
        index.drop()


def test_chat_history_appends_wait_for_the_replica(
    primary_with_replica: tuple[EmbeddedRedis, EmbeddedRedis], unique_name: str
) -> None:
    primary, replica = primary_with_replica
    conf = Settings(redis_url=primary.url, write_replicas=1, write_wait_timeout_ms=2000)
    store = ChatHistoryStore(primary.url, prefix=unique_name, settings=conf)
    reader = redis.Redis.from_url(replica.url)
    try:
        for i in range(10):
            store.append("s", [StoredMessage(role="user", content=f"message {i}")])
            assert reader.llen(store.keys("s").active) == i + 1
    finally:
        store.delete("s")
        reader.close()


async def test_chat_history_without_replicas_fails_clearly_and_keeps_the_message(
    redis_url: str, unique_name: str
) -> None:
    conf = Settings(redis_url=redis_url, write_replicas=1, write_wait_timeout_ms=100)
    store = ChatHistoryStore(redis_url, prefix=unique_name, settings=conf)
    try:
        with pytest.raises(ReplicationError, match="0 of 1 replicas"):
            store.append("s", [StoredMessage(role="user", content="kept")])
        with pytest.raises(ReplicationError, match="0 of 1 replicas"):
            await store.aappend("s", [StoredMessage(role="assistant", content="kept too")])
        assert [m.content for m in store.read("s")] == ["kept", "kept too"]
    finally:
        store.delete("s")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_a_marker_hashes_with_its_key_or_is_untagged(key: str) -> None:
    """Exact or a clear fallback: the marker lands in the key's slot, or it has no hash tag at all (then a cluster
    waits on every primary), never a marker on some other shard."""
    marker = marker_for(key)
    if hash_tag(marker) is None:
        assert hash_tag(key) is None and (not key or "{" in key or "}" in key)
    else:
        assert key_slot(marker.encode("utf-8", "surrogatepass")) == key_slot(key.encode("utf-8", "surrogatepass"))


@settings(max_examples=60, deadline=None)
@given(
    replicas=st.one_of(st.integers(-3, 80), st.floats(allow_nan=True), st.text(max_size=4)),
    timeout_ms=st.one_of(st.integers(-10, 10_000), st.floats(allow_nan=True), st.text(max_size=4)),
)
def test_wait_settings_are_exact_or_refused(replicas: object, timeout_ms: object) -> None:
    """Whatever is passed, the settings hold exactly the integers asked for, or construction fails naming the
    setting: never a wait of 0 ms (WAIT 0 blocks forever) nor one the socket timeout (5 s) would cut short."""
    try:
        conf = Settings(write_replicas=replicas, write_wait_timeout_ms=timeout_ms)
    except ValidationError as exc:
        assert "write_replicas" in str(exc) or "write_wait_timeout_ms" in str(exc)
        return
    assert conf.write_replicas == int(replicas)  # type: ignore[call-overload]
    assert float(conf.write_wait_timeout_ms) == float(timeout_ms)  # type: ignore[arg-type]
    assert 0 <= conf.write_replicas <= 64 and conf.write_wait_timeout_ms > 0
    durability = Durability.from_settings(conf, "m")
    if conf.write_replicas == 0:
        assert durability is None
    else:
        assert durability is not None and conf.write_wait_timeout_ms < conf.socket_timeout * 1000
        assert (durability.replicas, durability.timeout_ms) == (conf.write_replicas, conf.write_wait_timeout_ms)


def test_durability_refuses_a_wait_that_could_block_forever() -> None:
    with pytest.raises(ValueError, match="block forever"):
        Durability(1, 0, "m")
    with pytest.raises(ValueError, match="replicas"):
        Durability(0, 100, "m")
    with pytest.raises(ValueError, match="marker"):
        Durability(1, 100, "")
