"""``find`` / ``afind`` on the live cluster: sent to the index's node (``placement.ft_call``), every layout.

Three tenants on three shards, each finds exactly its own records by tag, numeric and text filters, sync and async;
a langchain-redis layout (one hash tag in its name and prefix) finds with its metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from cluster_ops import slot_owner_port, tenants_on_distinct_shards
from redis.cluster import RedisCluster, key_slot

from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.tenancy import Tenant

pytestmark = pytest.mark.cluster

FIELDS = {"topic": "tag", "n": "numeric", "body": "text"}
COUNT = 40


def _vector(i: int) -> np.ndarray:
    v = np.ones(4, dtype=np.float32)
    v[i % 4] += 1.0 + i
    return v / np.linalg.norm(v)


def _meta(i: int, owner: str) -> dict[str, object]:
    return {"topic": ("even", "odd")[i % 2], "n": i, "body": "alpha" if i < 10 else "beta", "owner": owner}


@pytest.fixture(scope="module")
def indexes(search_cluster, request: pytest.FixtureRequest) -> Iterator[list[RedisVectorIndex]]:
    tenants: list[Tenant] = tenants_on_distinct_shards(search_cluster, 3, f"find-{id(request)}")
    url = search_cluster.url
    made = []
    settings = Settings(redis_url=url)
    for tenant in tenants:
        index = RedisVectorIndex("docs", dims=4, metadata_fields=FIELDS, settings=settings, tenant=tenant)
        index.upsert([Record(str(i), f"{tenant.name} {i}", _vector(i), _meta(i, tenant.name)) for i in range(COUNT)])
        made.append(index)
    yield made
    for index in made:
        index.drop()
        index.close()


async def test_each_tenant_finds_exactly_its_records(search_cluster, indexes: list[RedisVectorIndex]) -> None:
    assert len({slot_owner_port(search_cluster, key_slot(i.name.encode())) for i in indexes}) == 3
    for index in indexes:
        owner = index.tenant.name  # type: ignore[union-attr]
        flt = {"$and": [{"topic": "odd"}, {"n": {"$lt": 20}}, {"body": {"$like": "beta"}}]}
        for got in (index.find(flt), await index.afind(flt)):
            assert sorted(int(r.id) for r in got) == [11, 13, 15, 17, 19]
            assert {r.metadata["owner"] for r in got} == {owner}
            assert all(r.text == f"{owner} {r.id}" for r in got)
        assert len(index.find({"topic": {"$in": ["odd", "even"]}}, limit=COUNT)) == COUNT
        assert len(await index.afind({"topic": {"$in": ["odd", "even"]}}, limit=7)) == 7


def test_a_legacy_layout_finds_on_the_cluster(search_cluster, unique_name: str) -> None:
    """langchain-redis' layout (``embedding``, ``_metadata_json``), name and prefix under one hash tag."""
    url = search_cluster.url
    name = f"{{{unique_name}}}lc"
    raw = RedisCluster.from_url(url)
    node = raw.get_node_from_key(name)
    raw.execute_command(
        "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, f"{name}:", "SCHEMA", "text", "TEXT", "_metadata_json", "TEXT",
        "topic", "TAG", "embedding", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", 4, "DISTANCE_METRIC", "COSINE",
        target_nodes=node,
    )  # fmt: skip
    metas = [{"topic": "a", "n": 1, "nested": {"x": [1, 2]}}, {"topic": "b", "n": 2}]
    for i, meta in enumerate(metas):
        raw.hset(
            f"{name}:k{i}",
            mapping={"text": f"text {i}", "topic": meta["topic"], "_metadata_json": json.dumps(meta),
                     "embedding": _vector(i).tobytes()},
        )  # fmt: skip
    index = RedisVectorIndex(name, dims=4, settings=Settings(redis_url=url))
    try:
        assert index.layout.dialect == "langchain-redis"
        [rec] = index.find({"topic": "a"})
        assert (rec.id, rec.text, rec.metadata) == ("k0", "text 0", metas[0])
        assert {r.id for r in index.find({"$not": {"topic": "a"}})} == {"k1"}
    finally:
        index.close()
        raw.execute_command("FT.DROPINDEX", name, "DD", target_nodes=node)
        raw.close()
