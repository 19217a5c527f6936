"""A connection that cannot be opened in time says so, naming ``connect_timeout``, on every redis-py version we
support: redis-py 6+ opens sockets in ``connect_check_health``, 5.x in ``connect``, and the pools hook whichever
the installed version has. scripts/check-extras.sh runs this module in the venvs at the lowest declared versions
(redis 5.3: there it raised redis-py's bare "Timeout connecting to server" before); it runs in the main suite too.

No Redis needed: a local listener that never accepts, with a full backlog, so a connect hangs until it times out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis
from silent_port import unaccepting_port

from redis_rag_integrations.errors import ConnectTimeout
from redis_rag_integrations.pools import FairAsyncPool, NamedTimeoutPool


@pytest.fixture
def silent_url() -> Iterator[str]:
    with unaccepting_port() as port:
        yield f"redis://127.0.0.1:{port}/0"


def test_sync_connect_timeout_names_its_setting(silent_url: str) -> None:
    pool = NamedTimeoutPool.from_url(silent_url, socket_connect_timeout=0.3, timeout=2)
    with pytest.raises(ConnectTimeout, match=r"connect_timeout = 0\.3 s.*REDIS_RAG_CONNECT_TIMEOUT") as caught:
        redis.Redis(connection_pool=pool).ping()
    assert isinstance(caught.value, redis.TimeoutError)


def test_async_connect_timeout_names_its_setting(silent_url: str) -> None:
    async def ping() -> None:
        client = aioredis.Redis(connection_pool=FairAsyncPool.from_url(silent_url, socket_connect_timeout=0.3))
        try:
            await client.ping()
        finally:
            await client.aclose()

    with pytest.raises(ConnectTimeout, match=r"connect_timeout = 0\.3 s.*REDIS_RAG_CONNECT_TIMEOUT"):
        asyncio.run(ping())
