"""Both frameworks' vector stores on the live 3+3 cluster, three tenants on three shards, 300 documents each.

The bug this group was started for: on a cluster without a search coordinator an index sees its own shard only, so
an untenanted store accepted 300 documents, found all 300 by id and returned 100 of them to ``k=300``, silently. With
tenants every index sits on the shard of its tenant's keys: ``k=300`` returns exactly the tenant's 300 documents,
through every read path (search with and without filters, hybrid, MMR, get by id), sync and async, and an untenanted
store is refused with an error naming ``tenant=``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cluster_ops import slot_owner_port, tenants_on_distinct_shards
from fakes import HashEmbedder
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from redis.cluster import key_slot

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RedisVectorStore as LangChainStore
from redis_rag_integrations.llama_index import RedisVectorStore as LlamaStore
from redis_rag_integrations.placement import SpansShardsError
from redis_rag_integrations.tenancy import Tenant

pytestmark = pytest.mark.cluster

DOCS = 300
FIELDS = {"topic": "tag", "n": "numeric"}
embedder = HashEmbedder(16)


@pytest.fixture(scope="module")
def tenants(search_cluster, request: pytest.FixtureRequest) -> list[Tenant]:
    return tenants_on_distinct_shards(search_cluster, 3, f"stores-{request.module.__name__[-6:]}-{id(request)}")


def _texts(tenant: Tenant) -> tuple[list[str], list[dict], list[str]]:
    texts = [f"{tenant.name} document {i} about topic {'even' if i % 2 == 0 else 'odd'}" for i in range(DOCS)]
    metas = [{"topic": "even" if i % 2 == 0 else "odd", "n": i, "owner": tenant.name} for i in range(DOCS)]
    return texts, metas, [str(i) for i in range(DOCS)]


@pytest.fixture(scope="module")
def lc_stores(search_cluster, tenants: list[Tenant]) -> Iterator[list[LangChainStore]]:
    url = search_cluster.url
    stores = []
    for tenant in tenants:
        store = LangChainStore(
            embedder, "docs", metadata_fields=FIELDS, redis_url=url, settings=Settings(redis_url=url), tenant=tenant
        )
        texts, metas, ids = _texts(tenant)
        assert store.add_texts(texts, metas, ids=ids) == ids
        stores.append(store)
    yield stores
    for store in stores:
        store.index.drop()


def test_three_tenants_sit_on_three_shards(search_cluster, lc_stores: list[LangChainStore]) -> None:
    owners = {slot_owner_port(search_cluster, key_slot(s.index.name.encode())) for s in lc_stores}
    assert len(owners) == 3


def test_k_300_returns_each_tenants_300_documents_and_nothing_else(lc_stores: list[LangChainStore]) -> None:
    for store in lc_stores:
        owner = store.index.tenant.name
        docs = store.similarity_search(f"{owner} document 7 about topic odd", k=DOCS)
        assert len(docs) == DOCS
        assert {d.id for d in docs} == {str(i) for i in range(DOCS)}
        assert {d.metadata["owner"] for d in docs} == {owner}
        assert docs[0].id == "7"  # the same text embeds to the same vector: the nearest
        assert len(store.get_by_ids([str(i) for i in range(DOCS)])) == DOCS
        assert store.index.count() == DOCS


def test_filters_hybrid_and_mmr_on_the_cluster(lc_stores: list[LangChainStore]) -> None:
    store = lc_stores[0]
    owner = store.index.tenant.name
    even = store.similarity_search("anything", k=DOCS, filter={"topic": "even"})
    assert len(even) == DOCS // 2 and {d.metadata["topic"] for d in even} == {"even"}
    ranged = store.similarity_search("anything", k=DOCS, filter={"n": {"$gte": 100, "$lt": 110}})
    assert sorted(int(d.id) for d in ranged) == list(range(100, 110))
    hybrid = store.hybrid_search(f"{owner} document 42 about topic even", k=5)
    assert hybrid[0][0].id == "42"  # (document, score) pairs
    mmr = store.max_marginal_relevance_search(f"{owner} document 3 about topic odd", k=5, fetch_k=50)
    assert len(mmr) == 5 and mmr[0].id == "3" and len({d.id for d in mmr}) == 5
    with_scores = store.similarity_search_with_score(f"{owner} document 9 about topic odd", k=3)
    assert with_scores[0][0].id == "9"


async def test_async_twins_on_the_cluster(lc_stores: list[LangChainStore]) -> None:
    store = lc_stores[1]
    owner = store.index.tenant.name
    docs = await store.asimilarity_search(f"{owner} document 5 about topic odd", k=DOCS)
    assert len(docs) == DOCS and docs[0].id == "5"
    assert len(await store.aget_by_ids([str(i) for i in range(DOCS)])) == DOCS
    assert (await store.ahybrid_search(f"{owner} document 8 about topic even", k=3))[0][0].id == "8"
    mmr = await store.amax_marginal_relevance_search(f"{owner} document 4 about topic even", k=4, fetch_k=40)
    assert mmr[0].id == "4" and len(mmr) == 4
    filtered = await store.asimilarity_search("x", k=DOCS, filter={"topic": "odd"})
    assert len(filtered) == DOCS // 2
    ids = await store.aadd_texts([f"{owner} async extra"], [{"topic": "even", "n": 1000}], ids=["extra"])
    assert ids == ["extra"] and len(await store.asimilarity_search("x", k=2 * DOCS)) == DOCS + 1
    await store.adelete(["extra"])
    assert await store.aget_by_ids(["extra"]) == []


def test_delete_on_the_cluster(lc_stores: list[LangChainStore]) -> None:
    store = lc_stores[2]
    store.add_texts(["to delete a", "to delete b"], [{"topic": "x", "n": 1}] * 2, ids=["del-a", "del-b"])
    assert len(store.similarity_search("x", k=2 * DOCS)) == DOCS + 2
    store.delete(["del-a", "del-b"])
    assert store.get_by_ids(["del-a", "del-b"]) == []
    assert len(store.similarity_search("x", k=2 * DOCS)) == DOCS


def test_an_untenanted_store_is_refused_on_a_cluster_without_coordinator(search_cluster, unique_name: str) -> None:
    """Before tenants: 300 accepted, 300 found by id, 100 returned to k=300. Now: a clear refusal, nothing made."""
    url = search_cluster.url
    with pytest.raises(SpansShardsError, match="tenant="):
        LangChainStore(embedder, unique_name, redis_url=url, settings=Settings(redis_url=url))


def test_llama_index_store_three_tenants(search_cluster, tenants: list[Tenant]) -> None:
    url = search_cluster.url
    stores = [
        LlamaStore("nodes", metadata_fields=FIELDS, redis_url=url, settings=Settings(redis_url=url), tenant=t)
        for t in tenants
    ]
    try:
        for store, tenant in zip(stores, tenants, strict=True):
            texts, metas, ids = _texts(tenant)
            vectors = embedder.embed(texts)
            nodes = [
                TextNode(id_=i, text=t, metadata=m, embedding=v.tolist())
                for i, t, m, v in zip(ids, texts, metas, vectors, strict=True)
            ]
            for node in nodes:
                node.relationships = {}
            assert store.add(nodes) == ids
        for store, tenant in zip(stores, tenants, strict=True):
            query = embedder.embed([f"{tenant.name} document 11 about topic odd"])[0].tolist()
            result = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=DOCS))
            assert len(result.nodes) == DOCS and result.ids[0] == "11"
            assert {n.metadata["owner"] for n in result.nodes} == {tenant.name}
            odd = MetadataFilters(filters=[MetadataFilter(key="topic", value="odd", operator=FilterOperator.EQ)])
            filtered = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=DOCS, filters=odd))
            assert len(filtered.nodes) == DOCS // 2
            mmr = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=3, mode="mmr"))
            assert mmr.ids[0] == "11" and len(mmr.ids) == 3
            assert len(store.get_nodes(node_ids=["0", "1", "299"])) == 3
    finally:
        for store in stores:
            if store.index is not None:
                store.index.drop()


async def test_llama_index_async_on_the_cluster(search_cluster, unique_name: str) -> None:
    url = search_cluster.url
    (tenant,) = tenants_on_distinct_shards(search_cluster, 1, unique_name)
    store = LlamaStore("nodes", redis_url=url, settings=Settings(redis_url=url), tenant=tenant)
    texts = [f"async node {i}" for i in range(DOCS)]
    vectors = embedder.embed(texts)
    nodes = [
        TextNode(id_=str(i), text=t, embedding=v.tolist()) for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    try:
        assert len(await store.async_add(nodes)) == DOCS
        query = VectorStoreQuery(query_embedding=vectors[17].tolist(), similarity_top_k=DOCS)
        result = await store.aquery(query)
        assert len(result.nodes) == DOCS and result.ids[0] == "17"
        await store.adelete_nodes(node_ids=["17"])
        assert len((await store.aquery(query)).nodes) == DOCS - 1
    finally:
        if store.index is not None:
            await store.index.adrop()
