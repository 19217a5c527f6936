"""Chat history on a live Redis Cluster from several event loops: the holder tells a cluster node from a plain
server with the asyncio client itself (no blocking probe on the loop), in each loop, from each thread."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage


@pytest.fixture
def sync_commands_on_a_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Commands a synchronous client sends while an event loop runs on the calling thread (each blocks it)."""
    seen: list[str] = []
    for cls in (redis.Redis, RedisCluster):
        original = cls.execute_command

        def spy(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if asyncio._get_running_loop() is not None:
                seen.append(str(args[0]))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "execute_command", spy)
    return seen


def test_an_unseen_cluster_url_is_detected_on_the_loop_without_blocking_it(
    cluster_url: str, unique_name: str, sync_commands_on_a_loop: list[str]
) -> None:
    url = cluster_url.replace("127.0.0.1", "localhost")  # a URL nothing has probed yet in this process
    store = ChatHistoryStore(url, prefix=unique_name, settings=Settings(redis_url=url))
    sessions = [f"s{i}" for i in range(6)]

    async def step(i: int) -> tuple[bool, list[int]]:
        client = await store.aclient()
        for sid in sessions:
            await store.aappend(sid, [StoredMessage(role="user", content=f"{i}")])
        return isinstance(client, AsyncRedisCluster), [await store.acount(sid) for sid in sessions]

    assert [asyncio.run(step(i)) for i in range(3)] == [(True, [n] * len(sessions)) for n in (1, 2, 3)]
    assert sync_commands_on_a_loop == []
    barrier = threading.Barrier(4)

    def in_thread(i: int) -> bool:
        barrier.wait(timeout=60)
        return asyncio.run(step(i))[0]

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(in_thread, range(4))) == [True] * 4
    assert [store.count(sid) for sid in sessions] == [7] * len(sessions)
    for sid in sessions:
        store.delete(sid)
