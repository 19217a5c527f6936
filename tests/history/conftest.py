"""Fixtures for the chat history tests: a store under a fresh prefix on the embedded Redis, and a real Redis
Cluster (three primaries, no modules) for the cluster tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/cluster.py (tests is no package)
from cluster import LocalRedisCluster
from fakes import WordsEmbedder


@pytest.fixture
def store(redis_url: str, unique_name: str) -> Iterator[ChatHistoryStore]:
    s = ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url))
    yield s
    for sid in s.sessions():
        s.delete(sid)
    s.close()


@pytest.fixture
def words_embedder() -> WordsEmbedder:
    """Recall ranks by shared words: a bag of words, not a hash of the whole text."""
    return WordsEmbedder(dims=16)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A live three-primary Redis Cluster without modules, started once, every node stopped at the end."""
    with LocalRedisCluster(primaries=3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_url(redis_cluster: LocalRedisCluster) -> str:
    """The plain URL of one node: what a user copies from a dashboard (no ``?cluster=true``)."""
    return redis_cluster.url


@pytest.fixture
def cluster_store(cluster_url: str, unique_name: str) -> Iterator[ChatHistoryStore]:
    s = ChatHistoryStore(cluster_url, prefix=unique_name, settings=Settings(redis_url=cluster_url))
    yield s
    for sid in s.sessions():
        s.delete(sid)
    s.close()
