"""Fixtures for the chat history tests: a store under a fresh prefix on the embedded Redis, and a real Redis
Cluster (three primaries, no modules) for the cluster tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/cluster.py (tests is no package)
from cluster import LocalRedisCluster


@pytest.fixture
def store(redis_url: str, unique_name: str) -> Iterator[ChatHistoryStore]:
    s = ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url))
    yield s
    for sid in s.sessions():
        s.delete(sid)
    s.close()


class HashEmbedder:
    """A deterministic fake embedding for plumbing tests (meaning does not matter there)."""

    model_name = "hash-fake"
    dims = 16

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, hash(word) % self.dims] += 1.0
            out[i] /= max(1e-6, float(np.linalg.norm(out[i])))
        return out

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


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
