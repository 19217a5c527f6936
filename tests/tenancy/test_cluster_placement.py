"""Tenants on a live 3-primary Redis Cluster with the search module (no coordinator, like every build installable
here): each tenant's index sits on the shard of its hash tag and sees all of its records; an index whose keys would
span shards is refused; FT.* go to the index's node; list / drop reach every primary; caches work per tenant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from cluster import LocalRedisCluster
from fakes import HashEmbedder, WordsEmbedder
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from redis.cluster import RedisCluster, key_slot

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.cache.entry import SourceRef
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.recall import RelevantRecall
from redis_rag_integrations.history.store import ChatHistoryStore
from redis_rag_integrations.placement import SpansShardsError, has_coordinator, index_node
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.store.opening import LayoutMismatchError
from redis_rag_integrations.tenancy import Tenant
from redis_rag_integrations.tenant_admin import drop_tenant, list_tenants

pytestmark = pytest.mark.cluster
DIMS = 8
DOCS = 120
embedder = HashEmbedder(DIMS)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(primaries=3, modules=True) as c:
        yield c


@pytest.fixture
def settings(cluster: LocalRedisCluster) -> Settings:
    return Settings(redis_url=cluster.url)


@pytest.fixture
def raw(cluster: LocalRedisCluster) -> Iterator[RedisCluster]:
    client = RedisCluster.from_url(cluster.url)
    yield client
    client.close()


def _one_tenant_per_shard(cluster: LocalRedisCluster) -> list[str]:
    """Three tenant names whose tags hash to the three primaries' slot ranges."""
    token, found = uuid.uuid4().hex[:6], {}
    for n in range(10_000):
        name = f"{token}-{n}"
        slot = key_slot(Tenant(name).hashtag.encode())
        shard = next(i for i, (lo, hi) in enumerate(cluster.slot_ranges()) if lo <= slot <= hi)
        found.setdefault(shard, name)
        if len(found) == 3:
            return [found[i] for i in range(3)]
    raise AssertionError("no tenant names found for every shard")


def _records(owner: str) -> list[Record]:
    return [
        Record(f"r{i}", f"words of {owner} {i}", embedder.embed([f"{owner}{i}"])[0], {"owner": owner}, f"d{i}")
        for i in range(DOCS)
    ]


def test_an_index_whose_keys_would_span_shards_is_refused(settings: Settings) -> None:
    assert has_coordinator(_client(settings)) is False  # search 2.10.5: the refusal below is what users get
    with pytest.raises(SpansShardsError, match="tenant="):
        RedisVectorIndex(f"plain{uuid.uuid4().hex[:6]}", dims=DIMS, settings=settings)
    # One hash tag in both the name and the prefix is one shard too: accepted without a tenant.
    tag = uuid.uuid4().hex[:6]
    index = RedisVectorIndex(f"docs{{{tag}}}", prefix=f"{{{tag}}}docs", dims=DIMS, settings=settings)
    index.upsert(_records("x")[:10])
    assert len(index.search(embedder.embed(["x"])[0], k=50)) == 10
    index.drop()


def _client(settings: Settings) -> RedisCluster:
    from redis_rag_integrations.connection import get_client

    return get_client(settings.redis_url, settings=settings)  # type: ignore[return-value]


def test_each_tenant_on_its_shard_sees_all_of_its_records(
    cluster: LocalRedisCluster, settings: Settings, raw: RedisCluster
) -> None:
    names = _one_tenant_per_shard(cluster)
    fields = {"owner": "tag"}
    indexes = [RedisVectorIndex("docs", dims=DIMS, metadata_fields=fields, settings=settings, tenant=n) for n in names]
    try:
        for index, name in zip(indexes, names, strict=True):
            index.upsert(_records(name))
        ports = set()
        for index, name in zip(indexes, names, strict=True):
            node = index_node(raw, index.name)
            ports.add(node.port)
            # The index lives on the node owning its tag's slot (FT._LIST there, nowhere else).
            listed = [
                n.port
                for n in raw.get_primaries()
                if index.name.encode() in raw.execute_command("FT._LIST", target_nodes=n)
            ]
            assert listed == [node.port]
            query = embedder.embed([f"{name}3"])[0]
            hits = index.search(query, k=500)
            assert len(hits) == DOCS and {h.record.metadata["owner"] for h in hits} == {name}
            assert hits[0].record.id == "r3"
            assert len(asyncio.run(index.asearch(query, k=500))) == DOCS
            assert len(index.find({"owner": name}, limit=500)) == DOCS
            assert len(index.text_search("words", k=500)) == DOCS
            assert len(index.hybrid_search("words", query, k=500, fetch_k=500)) == DOCS
            assert index.count() == DOCS
        assert len(ports) == 3  # three tenants, three shards
        assert set(names) <= set(list_tenants(cluster.url))
    finally:
        for index in indexes:
            dropped = drop_tenant(index.tenant, cluster.url)
            assert dropped.indexes == [index.name] and dropped.keys >= DOCS
    assert not set(names) & set(list_tenants(cluster.url))
    for node in raw.get_primaries():
        for name in names:
            assert list(raw.scan_iter(match=Tenant(name).scan_pattern, target_nodes=node)) == []


@given(name=st.text(min_size=1, max_size=16))
@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_tenant_name_puts_the_index_with_all_of_its_records(
    settings: Settings, cluster: LocalRedisCluster, raw: RedisCluster, name: str
) -> None:
    tenant = f"{uuid.uuid4().hex[:4]}{name}"  # braces, spaces, NUL... are encoded into the tag
    index = RedisVectorIndex("docs", dims=DIMS, settings=settings, tenant=tenant)
    try:
        index.upsert(_records("x")[:20])
        assert len(index.search(embedder.embed(["x"])[0], k=100)) == 20
        node = index_node(raw, index.name)
        assert index.name.encode() in raw.execute_command("FT._LIST", target_nodes=node)
    finally:
        drop_tenant(tenant, cluster.url)


def test_overlapping_indexes_of_one_tenant_are_refused_on_its_node(
    settings: Settings, cluster: LocalRedisCluster
) -> None:
    """Every index of a tenant lives on the tenant's node, so the overlap check runs there (it cannot elsewhere)."""
    name = uuid.uuid4().hex[:8]
    RedisVectorIndex("docs", dims=DIMS, settings=settings, tenant=name)
    try:
        with pytest.raises(LayoutMismatchError, match="overlap"):
            RedisVectorIndex("docs:fr", dims=DIMS, settings=settings, tenant=name)
        RedisVectorIndex("docs-fr", dims=DIMS, settings=settings, tenant=name)  # no overlap: accepted
    finally:
        drop_tenant(name, cluster.url)


def test_an_untenanted_semantic_cache_is_refused_on_the_cluster(cluster: LocalRedisCluster) -> None:
    cache = SemanticCache(HashEmbedder(16), name=f"c{uuid.uuid4().hex[:6]}", redis_url=cluster.url)
    with pytest.raises(SpansShardsError, match="tenant="):
        cache.check("q")
    cache.close()


def test_a_tenants_semantic_cache_and_freshness_work_on_the_cluster(
    cluster: LocalRedisCluster, settings: Settings
) -> None:
    """The cache's MULTI and the link scripts touch entries, eviction sets and document links: one slot per tenant."""
    name = uuid.uuid4().hex[:8]
    index = RedisVectorIndex("docs", dims=DIMS, settings=settings, tenant=name)
    cache = SemanticCache(HashEmbedder(16), redis_url=cluster.url, tenant=name, verify=False)
    try:
        index.upsert([Record("c1", "v1", np.ones(DIMS, dtype=np.float32), doc_id="faq")])
        token = cache.watch()
        cache.store("q", "answer", sources=[SourceRef("faq")], since=token)
        assert cache.check("q").response == "answer"
        index.upsert([Record("c1", "v2", np.ones(DIMS, dtype=np.float32), doc_id="faq")])  # the document changed
        assert cache.check("q") is None
        # Changed while an answer was being generated: stamped (one slot), so the late answer is not kept.
        token = cache.watch()
        index.upsert([Record("c1", "v3", np.ones(DIMS, dtype=np.float32), doc_id="faq")])
        cache.store("q", "stale answer", sources=[SourceRef("faq")], since=token)
        assert cache.check("q") is None
    finally:
        cache.close()
        drop_tenant(name, cluster.url)


def test_relevant_recall_of_a_tenant_works_and_untenanted_is_refused_on_the_cluster(
    cluster: LocalRedisCluster,
) -> None:
    name = uuid.uuid4().hex[:8]
    words = WordsEmbedder()
    try:
        store = ChatHistoryStore(cluster.url, tenant=name)
        store.append("s1", [StoredMessage(role="user", content=t) for t in ("the cat sat", "redis streams", "a dog")])
        found = RelevantRecall(store, words).get_relevant("s1", "redis streams", k=1)
        assert [m.content for m in found] == ["redis streams"]
        with pytest.raises(SpansShardsError, match="tenant="):
            RelevantRecall(ChatHistoryStore(cluster.url, prefix=f"c{name}"), words).get_relevant("s1", "x")
    finally:
        drop_tenant(name, cluster.url)
