"""Redis down -> the cache is a miss with a logged warning, never an exception in the caller's path."""

from __future__ import annotations

import logging

from fakes import HashEmbedder

from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations.cache import ExactCache, SemanticCache
from redis_rag_integrations.server import free_port


def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_unreachable_redis_is_a_logged_miss(caplog) -> None:
    cache = SemanticCache(HashEmbedder(), name="dead", redis_url=dead_url(), retry_interval=0.0)
    with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.cache"):
        assert cache.check("q") is None
        assert cache.store("q", "a") is None
        assert cache.check("q") is None
    assert "Redis unavailable" in caplog.text
    assert caplog.text.count("Redis unavailable") == 1  # one warning per outage, not per call
    assert cache.stats.errors == 3 and cache.stats.hits == 0


async def test_unreachable_redis_is_a_miss_async() -> None:
    cache = SemanticCache(HashEmbedder(), name="dead", redis_url=dead_url(), retry_interval=0.0)
    assert await cache.acheck("q") is None
    assert await cache.astore("q", "a") is None
    exact = ExactCache(redis_url=dead_url(), retry_interval=0.0)
    assert exact.get("q") is None and exact.set("q", "a") is False
    assert await exact.aget("q") is None and await exact.aset("q", "a") is False


def test_after_a_failure_the_cache_skips_redis_for_the_retry_interval() -> None:
    cache = SemanticCache(HashEmbedder(), name="dead", redis_url=dead_url(), retry_interval=3600)
    assert cache.check("q") is None
    assert cache.check("q") is None
    assert (cache.stats.errors, cache.stats.skipped) == (1, 1)


def test_server_stopped_midway_then_back(caplog) -> None:
    server = EmbeddedRedis()
    server.start()
    try:
        cache = SemanticCache(HashEmbedder(), name="midway", redis_url=server.url, retry_interval=0.0)
        cache.store("q", "a")
        assert cache.check("q").response == "a"
        server.stop()
        with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.cache"):
            assert cache.check("q") is None
            assert cache.store("q2", "b") is None
        assert "Redis unavailable" in caplog.text
    finally:
        server.stop()
