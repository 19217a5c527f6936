"""Timeouts say what timed out, the limit, the setting that raises it and the server, for every component.

Why: redis-py's texts ("Timeout reading from socket", "Timeout connecting to server", "No connection available.")
name neither the server nor the knob. The package's errors (:class:`CommandTimeout`, :class:`ConnectTimeout`,
:class:`PoolWaitTimeout`) are subclasses of the redis-py classes raised before, so existing ``except`` clauses
still catch them. A store and the history raise them; a cache degrades to a miss and logs the same text.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis
from silent_port import unaccepting_port

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.errors import CommandTimeout, ConnectTimeout, PoolWaitTimeout, RedisConnectionFailed
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage

from .components import (
    Component,
    ExactCacheComponent,
    HistoryComponent,
    LangChainComponent,
    LlamaIndexComponent,
    SemanticCacheComponent,
)
from .conftest import TIMEOUT, fault_settings, timed
from .proxy import FaultProxy

KINDS = [LangChainComponent, LlamaIndexComponent, SemanticCacheComponent, ExactCacheComponent, HistoryComponent]
SOCKET_WORDS = (f"socket_timeout = {TIMEOUT} s", "REDIS_RAG_SOCKET_TIMEOUT", "Settings.socket_timeout")


def _check(component: Component, error: BaseException | None, result: object, caplog: pytest.LogCaptureFixture,
           port: int, kind: type[BaseException], words: tuple[str, ...]) -> None:  # fmt: skip
    """A store / the history raised ``kind`` naming ``words`` and the address; a cache missed and logged them."""
    address = f"127.0.0.1:{port}"
    if component.degrades:
        assert error is None and not result, (component.kind, error, result)
        text = "\n".join(r.getMessage() for r in caplog.records)  # the error may come wrapped (redisvl's)
    else:
        assert isinstance(error, kind), f"{component.kind}: {type(error).__name__}: {error}"
        text = str(error)
    for word in (*words, address):
        assert word in text, (component.kind, word, text)
    assert "Timeout reading from socket" not in text.replace(f"({kind.__name__}", "")


@pytest.mark.parametrize("component_type", KINDS, ids=lambda c: c.kind)
def test_a_hung_server_names_socket_timeout(
    component_type: type[Component], unique_name: str, server: EmbeddedRedis, proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The proxy accepts and swallows every command: sync and async calls fail (or miss) naming socket_timeout."""
    component = component_type(proxy.url, server.url, unique_name, fault_settings())
    component.write(1)
    fresh = component_type(proxy.url, server.url, unique_name, fault_settings())  # a cache logs once per outage
    proxy.mode = "swallow"
    caplog.set_level(logging.WARNING)
    result, error, _ = timed(lambda: component.write(2))
    _check(component, error, result, caplog, proxy.port, CommandTimeout, SOCKET_WORDS)
    if not component.degrades:
        assert isinstance(error, redis.TimeoutError)  # what callers caught before
    caplog.clear()

    async def aread() -> tuple[object, BaseException | None]:
        try:
            return await fresh.aread(1), None
        except Exception as exc:
            return None, exc

    result, error = asyncio.run(aread())
    _check(fresh, error, result, caplog, proxy.port, CommandTimeout, SOCKET_WORDS)
    proxy.mode = "pass"
    assert component.read(1)


def test_a_host_that_does_not_accept_names_connect_timeout() -> None:
    """Sync and async: the connect attempt fails naming connect_timeout and its variable (not socket_timeout)."""
    settings = Settings(socket_timeout=5.0, connect_timeout=0.3)
    with unaccepting_port() as port:
        url = f"redis://127.0.0.1:{port}/0"
        history = ChatHistoryStore(url, prefix="t", settings=settings)
        _, error, elapsed = timed(lambda: history.read("s"))
        assert elapsed < 5.0, elapsed  # the connect timeout ended it, not the socket timeout
        # the sync client is made (and probed) on first use: a failed start raises RedisConnectionFailed as
        # before, now with the timeout's text; the lazy asyncio client raises ConnectTimeout (a redis.TimeoutError)
        assert isinstance(error, RedisConnectionFailed), repr(error)

        async def aread() -> BaseException | None:
            try:
                await history.aread("s")
            except Exception as exc:
                return exc
            return None

        aerror = asyncio.run(aread())
        assert isinstance(aerror, ConnectTimeout), repr(aerror)
    for text in (str(error), str(aerror)):
        assert text.count("connect_timeout = ") == 1, text  # said once, not wrapped twice
        for word in ("connect_timeout = 0.3 s", "REDIS_RAG_CONNECT_TIMEOUT", f"127.0.0.1:{port}"):
            assert word in text, (word, text)


def test_a_busy_sync_pool_names_pool_timeout(server: EmbeddedRedis) -> None:
    """Every connection of the synchronous pool held: the next command fails naming pool_timeout and
    max_connections, still as the redis.ConnectionError redis-py raised."""
    settings = Settings(max_connections=1, pool_timeout=0.2)
    history = ChatHistoryStore(server.url, prefix="t", settings=settings)
    history.append("s", [StoredMessage(role="user", content="hi")])
    pool = history.client.connection_pool
    held = pool.get_connection()
    try:
        _, error, _ = timed(lambda: history.read("s"))
    finally:
        pool.release(held)
    assert isinstance(error, redis.ConnectionError) and isinstance(error, PoolWaitTimeout), repr(error)
    for word in (
        "pool_timeout = 0.2 s",
        "REDIS_RAG_POOL_TIMEOUT",
        "REDIS_RAG_MAX_CONNECTIONS",
        f"127.0.0.1:{server.port}",
    ):
        assert word in str(error), (word, str(error))
    assert history.read("s")
