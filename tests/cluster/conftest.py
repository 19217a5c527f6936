"""The live Redis Cluster of the cluster test group: 3 primaries + 3 replicas with the search and JSON modules.

Started once per session (about 6 s) and shared by every module of the group: tests that fail a shard over or move
a slot put the layout back (``cluster_ops.restore_roles``, ``bring_back``), and every test works under its own
tenants, so they never see each other's data.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/cluster.py, tests/cluster_ops.py
from cluster import LocalRedisCluster

from redis_rag_integrations import Settings

#: Node timeout of the test cluster: a killed primary is replaced in ~3-4 s; long enough that a busy 2-core machine
#: does not fail a healthy primary over by itself.
NODE_TIMEOUT_MS = 2000


@pytest.fixture(scope="session")
def search_cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(primaries=3, replicas=1, modules=True, node_timeout_ms=NODE_TIMEOUT_MS) as cluster:
        yield cluster


@pytest.fixture
def cluster_url(search_cluster: LocalRedisCluster) -> str:
    """The plain URL of one live node: what a user copies from a dashboard (clients discover the rest)."""
    return search_cluster.url


@pytest.fixture
def cluster_settings(cluster_url: str) -> Settings:
    return Settings(redis_url=cluster_url)


@pytest.fixture
def raw_cluster(cluster_url: str) -> Iterator[RedisCluster]:
    """A plain redis-py cluster client, for checks that must not go through the package."""
    client = RedisCluster.from_url(cluster_url)
    yield client
    client.close()
