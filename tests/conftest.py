"""Shared fixtures: one real embedded Redis per test session, unique names per test, the real embedder.

The Redis side is never mocked. Tests isolate themselves with unique index names / key prefixes and clean up.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.embeddings import LocalEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedded_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(embedded_redis: EmbeddedRedis, monkeypatch_session: pytest.MonkeyPatch) -> str:
    """The embedded server's URL, also exported as REDIS_URL so defaults resolve to it."""
    monkeypatch_session.setenv("REDIS_URL", embedded_redis.url)
    from redis_rag_integrations.settings import get_settings

    get_settings.cache_clear()
    return embedded_redis.url


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def unique_name() -> str:
    """A fresh name for an index / key prefix, so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url)


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The real all-MiniLM-L6-v2, loaded once per session (for tests where meaning matters)."""
    return LocalEmbedder()
