"""Waiting for a pooled asyncio connection is first come, first served.

Why: redis-py's asyncio ``BlockingConnectionPool`` wakes waiters through a condition variable, and a coroutine
that releases a connection and asks again at once takes it back before the woken waiter runs. Under 512
coroutines on 100 connections one waiter was overtaken for more than ``pool_timeout`` (10 s) and failed with
"No connection available" (``benchmarks/results/load-soak.md``). These tests count overtakes, never time.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
import redis

from redis_rag_integrations import connection
from redis_rag_integrations.errors import PoolWaitTimeout
from redis_rag_integrations.settings import Settings

POOL = 2


def _client(redis_url: str, **settings: float) -> connection.AsyncClient:
    return connection.get_async_client(
        redis_url, settings=Settings(redis_url=redis_url, max_connections=POOL, **settings)
    )


async def _greedy_workers(client: connection.AsyncClient, workers: int, rounds: int) -> list[int]:
    """Each worker takes a connection, PINGs on it, gives it back and asks again at once. Returns, for every grant,
    how many requests made after it were granted before it (its overtakes)."""
    pool = client.connection_pool
    tickets = itertools.count()
    granted: list[int] = []

    async def worker() -> None:
        for _ in range(rounds):
            ticket = next(tickets)
            conn = await pool.get_connection()
            granted.append(ticket)
            try:
                await conn.send_command("PING")
                assert await conn.read_response() in (b"PONG", "PONG")
            finally:
                await pool.release(conn)

    await asyncio.gather(*(worker() for _ in range(workers)))
    await client.aclose()
    return [sum(1 for later in granted[:i] if later > t) for i, t in enumerate(granted)]


def test_waiters_are_served_in_arrival_order(redis_url: str) -> None:
    """20 greedy coroutines on 2 connections: no request is overtaken by more than the pool's size of later ones
    (a connection being connected or checked may let one that asked just after it through)."""
    overtakes = asyncio.run(_greedy_workers(_client(redis_url), workers=20, rounds=10))
    assert len(overtakes) == 200
    assert max(overtakes) <= POOL, f"a waiter was overtaken {max(overtakes)} times (pool of {POOL})"


def test_a_cancelled_waiter_passes_its_turn_on(redis_url: str) -> None:
    """A waiter cancelled (or timed out) while its connection was being handed to it gives the connection to the
    next waiter: none is lost, and the pool serves all later requests."""

    async def scenario() -> int:
        client = _client(redis_url)
        pool = client.connection_pool
        held = [await pool.get_connection() for _ in range(POOL)]
        waiters = [asyncio.ensure_future(pool.get_connection()) for _ in range(4)]
        await asyncio.sleep(0.05)  # all four queued
        await pool.release(held.pop())  # handed to waiters[0] ...
        waiters[0].cancel()  # ... which is cancelled before it runs
        waiters[1].cancel()
        await asyncio.gather(*waiters[:2], return_exceptions=True)
        got = [await asyncio.wait_for(w, 5) for w in waiters[2:3]]
        await pool.release(held.pop())
        got.append(await asyncio.wait_for(waiters[3], 5))
        for conn in got:
            await pool.release(conn)
        served = await asyncio.gather(*(client.ping() for _ in range(10)))
        await client.aclose()
        return len(served)

    assert asyncio.run(scenario()) == 10


def test_pool_wait_timeout_names_the_setting(redis_url: str) -> None:
    """Every connection held: the next request fails after pool_timeout with an error that is still the
    ``redis.ConnectionError`` callers catch, naming the limit, the setting and the server."""

    async def scenario() -> None:
        client = _client(redis_url, pool_timeout=0.2)
        pool = client.connection_pool
        held = [await pool.get_connection() for _ in range(POOL)]
        try:
            with pytest.raises(redis.ConnectionError) as caught:
                await client.ping()
        finally:
            for conn in held:
                await pool.release(conn)
        assert isinstance(caught.value, PoolWaitTimeout)
        text = str(caught.value)
        for part in ("pool_timeout", "REDIS_RAG_POOL_TIMEOUT", "0.2 s", "REDIS_RAG_MAX_CONNECTIONS", "2 connections"):
            assert part in text, (part, text)
        assert "127.0.0.1" in text
        assert await client.ping()  # the pool still serves
        await client.aclose()

    asyncio.run(scenario())
