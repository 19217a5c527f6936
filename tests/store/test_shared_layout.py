"""One index, two frameworks: what LangChain writes LlamaIndex reads, and the other way, with the real embedder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from redis_rag_integrations import Settings
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RagEmbedding
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import FilterError

FIELDS = {"source": "tag", "year": "numeric"}
DOCS = [
    Document(
        id="py-1",
        page_content="Python lists grow with append and shrink with pop.",
        metadata={"source": "py", "year": 2020, "tags": ["a"]},
    ),
    Document(
        id="rd-1",
        page_content="Redis stores keys in memory and can persist them to disk.",
        metadata={"source": "redis", "year": 2022, "score": 0.5},
    ),
    Document(
        id="ck-1",
        page_content="Bake the bread at 220 degrees until the crust is golden.",
        metadata={"source": "cooking", "year": 2024},
    ),
]


@pytest.fixture
def lc_store(settings: Settings, unique_name: str, local_embedder: LocalEmbedder) -> Iterator[LCStore]:
    store = LCStore(RagEmbeddings(local_embedder), unique_name, metadata_fields=FIELDS, settings=settings)
    yield store
    store.index.drop()


def test_llamaindex_retrieves_what_langchain_wrote(
    lc_store: LCStore, settings: Settings, local_embedder: LocalEmbedder
) -> None:
    lc_store.add_documents(DOCS)
    li_store = LIStore(lc_store.index.name, settings=settings)
    assert li_store.index is not None and li_store.index.layout.metadata_fields == FIELDS  # adopted, not repeated
    index = VectorStoreIndex.from_vector_store(li_store, embed_model=RagEmbedding(local_embedder))
    hits = index.as_retriever(similarity_top_k=1).retrieve("How do I bake bread?")
    assert [h.node.node_id for h in hits] == ["ck-1"]
    assert hits[0].node.metadata == DOCS[2].metadata
    assert hits[0].node.ref_doc_id == "cooking"  # metadata "source" is the document id
    assert 0.3 < hits[0].score <= 1.0


def test_langchain_reads_llamaindex_nodes_and_nodes_round_trip(
    settings: Settings, unique_name: str, local_embedder: LocalEmbedder
) -> None:
    node = TextNode(
        id_="n-1",
        text="Vector sets are a Redis data type for similarity search.",
        metadata={"year": 2025, "source": "redis", "secret": "x"},
        excluded_embed_metadata_keys=["secret"],
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-9")},
    )
    node.embedding = local_embedder.embed([node.text])[0].tolist()
    li_store = LIStore(unique_name, metadata_fields=FIELDS, settings=settings)
    assert li_store.index is None  # nothing created until the nodes tell the dims
    li_store.add([node])
    try:
        lc_store = LCStore(RagEmbeddings(local_embedder), unique_name, settings=settings)
        [(doc, score)] = lc_store.similarity_search_with_score("similarity search in Redis", k=1)
        assert doc.id == "n-1" and doc.metadata == node.metadata and doc.page_content == node.text
        assert score > 0.5  # a similarity: higher is closer
        [back] = li_store.get_nodes(["n-1"])
        assert back.ref_doc_id == "doc-9"
        assert back.excluded_embed_metadata_keys == ["secret"]
        assert back.metadata == node.metadata and back.get_content() == node.text
        li_store.delete("doc-9")
        assert lc_store.get_by_ids(["n-1"]) == []
    finally:
        li_store.index.drop()  # type: ignore[union-attr]


def test_both_frameworks_filter_alike(lc_store: LCStore, settings: Settings, local_embedder: LocalEmbedder) -> None:
    lc_store.add_documents(DOCS)
    li_store = LIStore(lc_store.index.name, settings=settings)
    q = local_embedder.embed(["anything"])[0].tolist()
    lc_ids = {d.id for d in lc_store.similarity_search("anything", k=10, filter={"year": {"$gte": 2022}})}
    li_filters = MetadataFilters(filters=[MetadataFilter(key="year", value=2022, operator=FilterOperator.GTE)])
    li_ids = set(li_store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=10, filters=li_filters)).ids or [])
    assert lc_ids == li_ids == {"rd-1", "ck-1"}

    either = MetadataFilters(
        filters=[
            MetadataFilter(key="source", value="py"),
            MetadataFilter(key="source", value=["cooking"], operator=FilterOperator.IN),
        ],
        condition=FilterCondition.OR,
    )
    assert {n.node_id for n in li_store.get_nodes(filters=either)} == {"py-1", "ck-1"}
    li_store.delete_nodes(filters=either)
    assert [d.id for d in lc_store.get_by_ids(["py-1", "rd-1", "ck-1"])] == ["rd-1"]


def test_a_filter_on_an_undeclared_field_is_an_error_not_an_empty_result(lc_store: LCStore, settings: Settings) -> None:
    lc_store.add_documents(DOCS)
    with pytest.raises(FilterError, match="'tags'"):
        lc_store.similarity_search("lists", k=2, filter={"tags": "a"})
    with pytest.raises(FilterError, match="does not apply"):
        lc_store.similarity_search("lists", k=2, filter={"year": {"$like": "20*"}})
    li_store = LIStore(lc_store.index.name, settings=settings)
    bad = MetadataFilters(filters=[MetadataFilter(key="score", value=0.5)])
    with pytest.raises(FilterError, match="'score'"):
        li_store.get_nodes(filters=bad)


def test_hybrid_and_text_modes_find_the_exact_term(
    lc_store: LCStore, settings: Settings, local_embedder: LocalEmbedder
) -> None:
    lc_store.add_documents(DOCS)
    hits = lc_store.hybrid_search("persist keys to disk", k=1)
    assert [d.id for d, _ in hits] == ["rd-1"]
    li_store = LIStore(lc_store.index.name, settings=settings)
    q = local_embedder.embed(["crust"])[0].tolist()
    text = li_store.query(
        VectorStoreQuery(query_str="crust", similarity_top_k=3, mode=VectorStoreQueryMode.TEXT_SEARCH)
    )
    assert text.ids == ["ck-1"]
    hybrid = li_store.query(
        VectorStoreQuery(query_str="crust", query_embedding=q, similarity_top_k=2, mode=VectorStoreQueryMode.HYBRID)
    )
    assert hybrid.ids and hybrid.ids[0] == "ck-1"


async def test_async_twins_write_and_read_the_same_layout(
    settings: Settings, unique_name: str, local_embedder: LocalEmbedder
) -> None:
    lc_store = LCStore(RagEmbeddings(local_embedder), unique_name, metadata_fields=FIELDS, settings=settings)
    try:
        await lc_store.aadd_documents(DOCS)
        docs = await lc_store.asimilarity_search("memory database", k=1, filter={"source": "redis"})
        assert [d.id for d in docs] == ["rd-1"]
        li_store = LIStore(unique_name, settings=settings)
        q = (await local_embedder.aembed(["bread oven"]))[0].tolist()
        result = await li_store.aquery(VectorStoreQuery(query_embedding=q, similarity_top_k=1))
        assert result.ids == ["ck-1"]
        await li_store.adelete_nodes(["ck-1"])
        assert [d.id for d in await lc_store.aget_by_ids(["ck-1", "py-1"])] == ["py-1"]
        mmr = await lc_store.amax_marginal_relevance_search("lists", k=2, fetch_k=3)
        assert len(mmr) == 2
    finally:
        await lc_store.index.aclose()
        lc_store.index.drop()
