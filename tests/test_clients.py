"""The client holder (:mod:`redis_rag_integrations.clients`): shared sync clients, one async client per event loop,
closed with its loop, never reused on another; a caller's async client used as is; credentials carried exactly."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlsplit

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis as AsyncRedis

from redis_rag_integrations import Settings
from redis_rag_integrations.clients import RedisClients
from redis_rag_integrations.connection import async_twin, client_url, mask_url


def test_one_sync_client_per_url_and_settings_that_matter(redis_url: str) -> None:
    base = Settings(redis_url=redis_url)
    first, second = RedisClients(redis_url, settings=base), RedisClients(redis_url, settings=base)
    assert first.client is second.client
    assert RedisClients(redis_url, settings=base, decode_responses=True).client is not first.client
    slower = Settings(redis_url=redis_url, socket_timeout=base.socket_timeout + 1)
    other = RedisClients(redis_url, settings=slower).client
    assert other is not first.client
    assert other.connection_pool.connection_kwargs["socket_timeout"] == base.socket_timeout + 1


def test_each_loop_gets_its_own_async_client_closed_with_the_loop(redis_url: str) -> None:
    holder = RedisClients(redis_url, settings=Settings(redis_url=redis_url))
    seen: list[AsyncRedis] = []

    async def use() -> tuple[bool, bytes | None]:
        client = await holder.aclient()
        again = await holder.aclient()
        seen.append(client)
        await client.set("clients:probe", b"v")
        return client is again, await client.get("clients:probe")

    assert [asyncio.run(use()) for _ in range(3)] == [(True, b"v")] * 3
    assert len({id(c) for c in seen}) == 3  # never a closed loop's client again
    for client in seen:  # closed when asyncio.run shut its loop down: no connection left open
        pool = client.connection_pool
        assert all(not c.is_connected for c in (*pool._available_connections, *pool._in_use_connections))
    redis.Redis.from_url(redis_url).delete("clients:probe")


def test_a_loop_closed_without_shutdown_is_forgotten(redis_url: str) -> None:
    holder = RedisClients(redis_url, settings=Settings(redis_url=redis_url))
    loop = asyncio.new_event_loop()
    first = loop.run_until_complete(holder.aclient())
    loop.close()  # no shutdown_asyncgens(): the holder learns of it when another loop registers
    second = asyncio.run(holder.aclient())
    assert second is not first


def test_a_given_async_client_is_used_as_is(redis_url: str) -> None:
    async def use() -> tuple[bool, bool]:
        given = AsyncRedis.from_url(redis_url)
        holder = RedisClients(redis_url, settings=Settings(redis_url=redis_url), async_client=given)
        same = (await holder.aclient()) is given and holder.current_async_client() is given
        await asyncio.sleep(0)
        alive = await given.ping()
        await given.aclose()
        return same, alive

    assert asyncio.run(use()) == (True, True)


def test_a_given_sync_client_gets_an_async_twin_per_loop_on_the_same_server(redis_url: str) -> None:
    server = urlsplit(redis_url)
    given = redis.Redis(host=server.hostname or "127.0.0.1", port=server.port or 6379, db=3)
    holder = RedisClients(client=given)
    given.set("clients:twin", b"db3")

    async def read() -> bytes | None:
        return await (await holder.aclient()).get("clients:twin")

    assert [asyncio.run(read()) for _ in range(2)] == [b"db3", b"db3"]
    given.delete("clients:twin")
    given.close()


@settings(max_examples=60, deadline=None)
@given(
    username=st.text(min_size=1, max_size=12),
    password=st.text(min_size=1, max_size=24),
    db=st.integers(min_value=0, max_value=15),
    port=st.integers(min_value=1, max_value=65535),
)
def test_an_async_twin_carries_the_exact_server_and_credentials(username: str, password: str, db: int, port: int):
    """Whatever the credentials' characters, the async twin a holder makes reaches exactly the same server as the
    given client with exactly the same credentials (a mismatch would send the async API elsewhere, silently)."""
    url = f"redis://{quote(username, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}/{db}"
    client = redis.Redis.from_url(url)  # no I/O: redis-py connects on the first command
    twin = async_twin(client)
    want = client.connection_pool.connection_kwargs
    got = twin.connection_pool.connection_kwargs
    for key in ("host", "port", "db", "username", "password"):
        assert got[key] == want[key], key
    assert (want["username"], want["password"], want["db"]) == (username, password, db)
    assert client_url(client) == f"redis://127.0.0.1:{port}/{db}"
    masked = mask_url(url)
    assert masked == f"redis://{quote(username, safe='')}:***@127.0.0.1:{port}/{db}"


@pytest.mark.parametrize("url", [None, ""])
def test_no_url_is_a_clear_refusal_not_a_default(url: str | None) -> None:
    from redis_rag_integrations import connection

    with pytest.raises(ValueError, match="no Redis URL given"):
        connection.get_client(url)  # type: ignore[arg-type]
