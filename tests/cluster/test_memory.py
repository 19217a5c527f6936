"""Caches, chat history and streaming ingestion on the live 3+3 cluster, per tenant, tenants on distinct shards.

Each tenant's cache index and entries, sessions, recall index and ingestion stream live under its hash tag, hence on
its shard, beside its documents: a semantic lookup sees every entry of the tenant (its index is on their shard), a
changed document drops exactly the tenant's answers built from it, and a worker reads the tenant's stream and makes
every published document searchable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from cluster_ops import slot_owner_port, tenants_on_distinct_shards
from fakes import HashEmbedder, WordsEmbedder
from langchain_core.outputs import Generation
from llama_index.core.llms import MockLLM
from redis.cluster import key_slot

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import ExactCache, SemanticCache
from redis_rag_integrations.cache.entry import SourceRef
from redis_rag_integrations.history import ChatHistoryStore, RelevantRecall, StoredMessage
from redis_rag_integrations.ingest import Producer, Worker
from redis_rag_integrations.langchain import RagEmbeddings, RedisCache, RedisSemanticCache
from redis_rag_integrations.llama_index import SemanticCacheLLM
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.tenancy import Tenant

pytestmark = pytest.mark.cluster

embedder = HashEmbedder(16)
ENTRIES = 120  # semantic entries per tenant: more than one shard's share would hold if the index were split


@pytest.fixture
def tenants(search_cluster, unique_name: str) -> list[Tenant]:
    return tenants_on_distinct_shards(search_cluster, 3, unique_name)


@pytest.fixture
def conf(search_cluster) -> Settings:
    return Settings(redis_url=search_cluster.url)


@pytest.fixture
def caches(tenants: list[Tenant], conf: Settings) -> Iterator[list[SemanticCache]]:
    made = [SemanticCache(embedder, redis_url=conf.redis_url, settings=conf, tenant=t, verify=False) for t in tenants]
    yield made
    for cache in made:
        with contextlib.suppress(Exception):
            cache.delete_index()
        cache.close()


def test_semantic_cache_per_tenant_finds_every_entry_of_its_shard(
    search_cluster, tenants: list[Tenant], caches: list[SemanticCache]
) -> None:
    for tenant, cache in zip(tenants, caches, strict=True):
        for i in range(ENTRIES):
            assert cache.store(f"question {i}", f"{tenant.name} answer {i}") is not None
    owners = {slot_owner_port(search_cluster, key_slot(c.name.encode())) for c in caches}
    assert len(owners) == 3
    for tenant, cache in zip(tenants, caches, strict=True):
        assert len(cache) == ENTRIES
        for i in range(0, ENTRIES, 7):  # the same question in every tenant: each gets its own answer
            hit = cache.check(f"question {i}")
            assert hit is not None and hit.response == f"{tenant.name} answer {i}"


async def test_semantic_cache_async_on_the_cluster(tenants: list[Tenant], caches: list[SemanticCache]) -> None:
    for tenant, cache in zip(tenants, caches, strict=True):
        await cache.astore("async question", f"{tenant.name} async answer")
    for tenant, cache in zip(tenants, caches, strict=True):
        hit = await cache.acheck("async question")
        assert hit is not None and hit.response == f"{tenant.name} async answer"


def test_a_changed_document_drops_its_tenants_cached_answers_only(
    tenants: list[Tenant], caches: list[SemanticCache], conf: Settings
) -> None:
    """Freshness on a cluster: the store's write (client-side path there) invalidates through the tenant's own
    dependency keys, on the tenant's shard."""
    indexes = [RedisVectorIndex("docs", dims=16, settings=conf, url=conf.redis_url, tenant=t) for t in tenants[:2]]
    try:
        for index, cache in zip(indexes, caches, strict=False):
            index.upsert([Record("c1", "v1", np.ones(16, dtype=np.float32), doc_id="faq")])
            assert cache.store("what is in the faq?", f"answer of {index.tenant.name}", sources=[SourceRef("faq")])
        indexes[0].upsert([Record("c1", "v2, changed", np.ones(16, dtype=np.float32), doc_id="faq")])
        assert caches[0].check("what is in the faq?") is None
        kept = caches[1].check("what is in the faq?")
        assert kept is not None and kept.response == f"answer of {tenants[1].name}"
    finally:
        for index in indexes:
            index.drop()


def test_exact_cache_and_langchain_caches_per_tenant(tenants: list[Tenant], conf: Settings) -> None:
    url = conf.redis_url
    exact = [ExactCache(redis_url=url, settings=conf, tenant=t) for t in tenants]
    semantic = [
        RedisSemanticCache(embeddings=RagEmbeddings(embedder), redis_url=url, settings=conf, tenant=t) for t in tenants
    ]
    plain = [RedisCache(redis_url=url, settings=conf, tenant=t) for t in tenants]
    try:
        for t, e, s, p in zip(tenants, exact, semantic, plain, strict=True):
            assert e.set("prompt", f"exact {t.name}")
            s.update("What is a decorator?", "model=a", [Generation(text=f"semantic {t.name}")])
            p.update("What is a decorator?", "model=a", [Generation(text=f"plain {t.name}")])
        for t, e, s, p in zip(tenants, exact, semantic, plain, strict=True):
            assert e.get("prompt") == f"exact {t.name}"
            assert [g.text for g in s.lookup("What is a decorator?", "model=a") or []] == [f"semantic {t.name}"]
            assert [g.text for g in p.lookup("What is a decorator?", "model=a") or []] == [f"plain {t.name}"]
    finally:
        for e, s, p in zip(exact, semantic, plain, strict=True):
            e.clear()
            p.clear()
            s.core.delete_index()


def test_llama_index_semantic_cache_llm_per_tenant(tenants: list[Tenant], conf: Settings) -> None:
    wrapped = [
        SemanticCacheLLM(MockLLM(max_tokens=8), embed_model=embedder, redis_url=conf.redis_url, settings=conf, tenant=t)
        for t in tenants[:2]
    ]
    try:
        first = wrapped[0].complete("Explain list comprehensions")
        again = wrapped[0].complete("Explain list comprehensions")
        other = wrapped[1].complete("Explain list comprehensions")
        assert first.additional_kwargs.get("cache_hit") is not True
        assert again.additional_kwargs["cache_hit"] is True and again.text == first.text
        assert other.additional_kwargs.get("cache_hit") is not True  # another tenant's cache: a miss
    finally:
        for llm in wrapped:
            llm.cache.delete_index()


async def test_chat_history_and_relevant_recall_per_tenant(tenants: list[Tenant], conf: Settings) -> None:
    words = WordsEmbedder(dims=32)
    stores = [ChatHistoryStore(conf.redis_url, settings=conf, tenant=t) for t in tenants]
    try:
        for t, store in zip(tenants, stores, strict=True):
            store.append("s1", [StoredMessage(role="user", content=f"{t.name} asks about cellos and bows")])
            await store.aappend("s1", [StoredMessage(role="assistant", content=f"{t.name} answers about tax forms")])
            store.append("s1", [StoredMessage(role="user", content="thanks")])
        for t, store in zip(tenants, stores, strict=True):
            assert [m.content for m in store.read("s1")][:2] == [
                f"{t.name} asks about cellos and bows",
                f"{t.name} answers about tax forms",
            ]
            assert [m.content for m in await store.aread("s1", last=1)] == ["thanks"]
            assert store.sessions() == ["s1"]
            recalled = RelevantRecall(store, words).get_relevant("s1", "cellos bows", k=1)
            assert [m.content for m in recalled] == [f"{t.name} asks about cellos and bows"]
    finally:
        for store in stores:
            store.delete("s1")


def test_ingestion_worker_per_tenant_makes_every_document_searchable(tenants: list[Tenant], conf: Settings) -> None:
    docs = 40
    indexes = [RedisVectorIndex("ingest", dims=16, settings=conf, url=conf.redis_url, tenant=t) for t in tenants]
    try:
        for t, index in zip(tenants, indexes, strict=True):
            producer = Producer("ingest", redis_url=conf.redis_url, settings=conf, tenant=t)
            for i in range(docs):
                producer.upsert(f"doc{i}", f"{t.name} document number {i} about streams")
            producer.delete("doc0")
            stats = Worker(index, embedder, batch_size=16).run(until_idle=True)
            assert stats.indexed == docs and stats.deleted == 1 and stats.dead_lettered == 0
        for t, index in zip(tenants, indexes, strict=True):
            hits = index.search(embedder.embed([f"{t.name} document number 5 about streams"])[0], k=1000)
            assert {h.record.doc_id for h in hits} == {f"doc{i}" for i in range(1, docs)}
            assert hits[0].record.doc_id == "doc5"
    finally:
        for index in indexes:
            index.drop()
