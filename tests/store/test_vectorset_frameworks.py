"""The vector-set backend through both frameworks: LangChain's standard suite (sync and async), a LlamaIndex
vector-store contract, and one index written by LangChain and read by LlamaIndex."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from fakes import HashEmbedder
from langchain_core.documents import Document
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
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
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store.vectorset import VectorSetIndex, VectorSetUnsupported


class TestVectorSetStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, settings: Settings, unique_name: str) -> Iterator[LCStore]:  # type: ignore[override]
        store = LCStore(self.get_embeddings(), unique_name, settings=settings, backend="vectorset")
        assert isinstance(store.index, VectorSetIndex)
        yield store
        store.index.drop()
        store.index.close()


def _node(i: int, doc: str, **meta: object) -> TextNode:
    node = TextNode(
        id_=f"n{i}", text=f"text {i}", metadata=dict(meta), embedding=HashEmbedder().embed([f"t{i}"])[0].tolist()
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
    return node


@pytest.fixture
def li(settings: Settings) -> Iterator[LIStore]:
    store = LIStore(
        f"v{uuid.uuid4().hex[:10]}",
        settings=settings,
        backend="vectorset",
        metadata_fields={"k": "tag", "n": "numeric"},
    )
    yield store
    if store.index is not None:
        store.index.drop()


def test_llamaindex_contract_add_query_get_delete(li: LIStore) -> None:
    nodes = [_node(i, f"doc{i % 2}", k="a" if i < 2 else "b", n=i) for i in range(4)]
    assert li.add(nodes) == [n.node_id for n in nodes]
    assert isinstance(li.index, VectorSetIndex)
    result = li.query(VectorStoreQuery(query_embedding=nodes[2].embedding, similarity_top_k=2))
    assert result.ids is not None and result.ids[0] == "n2" and result.similarities is not None
    assert result.similarities[0] == pytest.approx(1.0, abs=0.02) and result.nodes[0].ref_doc_id == "doc0"
    flt = MetadataFilters(filters=[MetadataFilter(key="n", value=2, operator=FilterOperator.GTE)])
    assert {
        n.node_id
        for n in li.query(VectorStoreQuery(query_embedding=nodes[0].embedding, similarity_top_k=4, filters=flt)).nodes
    } == {"n2", "n3"}
    assert [n.node_id for n in li.get_nodes(node_ids=["n1", "n3"])] == ["n1", "n3"]
    assert li.get_nodes(node_ids=["n1"])[0].metadata == {"k": "a", "n": 1}
    mmr = li.query(
        VectorStoreQuery(query_embedding=nodes[0].embedding, similarity_top_k=2, mode=VectorStoreQueryMode.MMR)
    )
    assert len(mmr.nodes) == 2
    li.delete("doc0")
    assert sorted(n.node_id for n in li.get_nodes(node_ids=[f"n{i}" for i in range(4)])) == ["n1", "n3"]
    li.delete_nodes(node_ids=["n1"])
    li.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="k", value="b")]))
    assert li.index is not None and li.index.count() == 0
    li.add(nodes)
    li.clear()
    assert li.index.count() == 0


def test_llamaindex_text_and_hybrid_modes_are_refused(li: LIStore) -> None:
    li.add([_node(0, "d")])
    for mode in (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID):
        with pytest.raises(VectorSetUnsupported, match="query-engine backend"):
            li.query(VectorStoreQuery(query_str="text", query_embedding=[0.1] * 16, similarity_top_k=2, mode=mode))


def test_llamaindex_async_contract(li: LIStore) -> None:
    async def run() -> tuple[list[str], list[str]]:
        nodes = [_node(i, "doc", k="a", n=i) for i in range(3)]
        await li.async_add(nodes)
        found = await li.aquery(VectorStoreQuery(query_embedding=nodes[1].embedding, similarity_top_k=1))
        await li.adelete("doc")
        return found.ids or [], [n.node_id for n in await li.aget_nodes(node_ids=["n0"])]

    assert asyncio.run(run()) == (["n1"], [])


def test_written_by_langchain_read_by_llamaindex(settings: Settings) -> None:
    name = f"v{uuid.uuid4().hex[:10]}"
    emb = RagEmbeddings(HashEmbedder())
    lc = LCStore(
        emb, name, settings=settings, backend="vectorset", metadata_fields={"source": "tag", "year": "numeric"}
    )
    try:
        docs = [
            Document(id=f"d{i}", page_content=f"page {i}", metadata={"source": f"s{i % 2}", "year": 2020 + i})
            for i in range(4)
        ]
        lc.add_documents(docs)
        li = LIStore(name, settings=settings, backend="vectorset")  # adopts dims and fields from the set's meta
        query = emb.embed_query("page 3")
        lc_hits = lc.similarity_search_with_score("page 3", k=2, filter={"source": "s1"})
        flt = MetadataFilters(filters=[MetadataFilter(key="source", value="s1")])
        li_result = li.query(VectorStoreQuery(query_embedding=query, similarity_top_k=2, filters=flt))
        assert [d.id for d, _ in lc_hits] == li_result.ids
        assert [s for _, s in lc_hits] == pytest.approx(li_result.similarities)
        node = li_result.nodes[0]
        assert node.get_content() == "page 3" and node.metadata == {"source": "s1", "year": 2023}
        assert node.ref_doc_id == "s1"  # LangChain's metadata 'source' names the document
    finally:
        lc.index.drop()


def test_real_embeddings_rank_by_meaning_and_scores_are_the_cosine(
    settings: Settings, local_embedder: LocalEmbedder
) -> None:
    """MiniLM sentences on a q8 set: the right answer first through both adapters, each score the cosine between
    the query and the stored (dequantised) vector, and the LangChain retrievers (MMR, score threshold) on top."""
    docs = [
        Document(id="py", page_content="Python manages memory with reference counting.", metadata={"topic": "py"}),
        Document(
            id="rd", page_content="Redis persists keys to disk with RDB snapshots and AOF.", metadata={"topic": "rd"}
        ),
        Document(
            id="ck", page_content="Bake the bread at 220 degrees until the crust is golden.", metadata={"topic": "ck"}
        ),
    ]
    name = f"v{uuid.uuid4().hex[:10]}"
    lc = LCStore(
        RagEmbeddings(local_embedder), name, metadata_fields={"topic": "tag"}, settings=settings, backend="vectorset"
    )
    try:
        lc.add_documents(docs)
        query = "How long should bread stay in the oven?"
        q = local_embedder.embed([query])[0]
        pairs = lc.similarity_search_with_score(query, k=3)
        assert pairs[0][0].id == "ck"
        li = LIStore(name, settings=settings, backend="vectorset").query(
            VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=3)
        )
        assert li.ids == [d.id for d, _ in pairs] and li.similarities == pytest.approx([s for _, s in pairs])
        stored = {r.id: r.vector for r in lc.index.get(li.ids, with_vectors=True)}
        cosine = [float(stored[i] @ q / np.linalg.norm(stored[i]) / np.linalg.norm(q)) for i in li.ids]
        assert [s for _, s in pairs] == pytest.approx(cosine, abs=0.01)
        strict = lc.as_retriever(
            search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.5, "k": 3}
        )
        assert [d.id for d in strict.invoke("Bake the bread at 220 degrees")] == ["ck"]
        mmr = lc.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3})
        assert len(mmr.invoke("memory")) == 2
        with pytest.raises(VectorSetUnsupported, match="query-engine backend"):
            lc.as_retriever(search_type="hybrid").invoke("bread")
    finally:
        lc.index.drop()
