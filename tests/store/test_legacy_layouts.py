"""Existing data: indexes written by langchain-redis 0.2.x and llama-index-vector-stores-redis 0.9 (their default
layouts) open and search through our stores, read-only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_redis import RedisConfig
from langchain_redis import RedisVectorStore as LangchainRedisStore
from llama_index.core.vector_stores.types import VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import LayoutMismatchError, Record

TEXTS = {
    "py": ("Python lists grow with append and shrink with pop.", {"topic": "python", "year": 2020}),
    "ck": ("Bake the bread at 220 degrees until the crust is golden.", {"topic": "cooking", "year": 2024}),
    "rd": ("Redis keeps keys in memory and can persist them to disk.", {"topic": "redis", "year": 2022}),
}


def test_langchain_redis_index_opens_and_searches(
    settings: Settings, unique_name: str, redis_url: str, local_embedder: LocalEmbedder
) -> None:
    embeddings = RagEmbeddings(local_embedder)
    legacy = LangchainRedisStore(embeddings, config=RedisConfig(index_name=unique_name, redis_url=redis_url))
    ids = list(TEXTS)
    legacy.add_texts([t for t, _ in TEXTS.values()], [m for _, m in TEXTS.values()], ids=ids)
    try:
        ours = LCStore(embeddings, unique_name, settings=settings)
        assert ours.index.layout.dialect == "langchain-redis"
        [(doc, score)] = ours.similarity_search_with_score("baking bread in an oven", k=1)
        assert doc.id == "ck" and doc.page_content == TEXTS["ck"][0]
        assert doc.metadata == TEXTS["ck"][1]  # from its _metadata_json field, types kept
        [(_, distance)] = legacy.similarity_search_with_score("baking bread in an oven", k=1)
        assert score == pytest.approx(1.0 - distance, abs=1e-5)  # same index, our score is the similarity
        li = LIStore(unique_name, settings=settings)
        q = local_embedder.embed(["memory and disk"])[0].tolist()
        assert li.query(VectorStoreQuery(query_embedding=q, similarity_top_k=1)).ids == ["rd"]
        with pytest.raises(LayoutMismatchError, match="read-only"):
            ours.add_texts(["more"], ids=["x"])
    finally:
        legacy.index.delete(drop=True)


def test_langchain_redis_index_reads_whole_through_every_path(
    settings: Settings, unique_name: str, redis_url: str, local_embedder: LocalEmbedder
) -> None:
    """get_by_ids, MMR, BM25 and hybrid search read a legacy index with its text and metadata (they returned [] or
    empty metadata while KNN worked)."""
    embeddings = RagEmbeddings(local_embedder)
    legacy = LangchainRedisStore(embeddings, config=RedisConfig(index_name=unique_name, redis_url=redis_url))
    legacy.add_texts([t for t, _ in TEXTS.values()], [m for _, m in TEXTS.values()], ids=list(TEXTS))
    try:
        ours = LCStore(embeddings, unique_name, settings=settings)
        got = ours.get_by_ids(["py", "missing", "ck"])
        assert [(d.id, d.page_content, d.metadata) for d in got] == [
            ("py", TEXTS["py"][0], TEXTS["py"][1]),
            ("ck", TEXTS["ck"][0], TEXTS["ck"][1]),
        ]
        mmr = ours.max_marginal_relevance_search("baking bread", k=2, fetch_k=3)
        assert len(mmr) == 2 and mmr[0].id == "ck" and mmr[0].metadata == TEXTS["ck"][1]
        [(doc, _)] = ours.hybrid_search("bread crust oven", k=1)
        assert (doc.id, doc.page_content, doc.metadata) == ("ck", TEXTS["ck"][0], TEXTS["ck"][1])
        [hit] = ours.index.text_search("crust golden", k=1)
        assert (hit.record.id, hit.record.metadata) == ("ck", TEXTS["ck"][1])
        [rec] = ours.index.get(["rd"], with_vectors=True)
        assert rec.vector is not None and rec.vector.shape == (384,)
    finally:
        legacy.index.delete(drop=True)


async def test_llama_index_vector_stores_redis_index_opens_and_searches(
    settings: Settings, unique_name: str, local_embedder: LocalEmbedder, write_llamaindex_legacy: Any
) -> None:
    vectors = local_embedder.embed([t for t, _ in TEXTS.values()])
    write_llamaindex_legacy(unique_name, TEXTS, vectors)
    li = LIStore(unique_name, settings=settings)
    try:
        assert li.index is not None and li.index.layout.dialect == "llama-index"
        q = local_embedder.embed(["baking bread in an oven"])[0]
        result = li.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=1))
        [node] = result.nodes or []
        assert node.node_id == "node-ck" and node.ref_doc_id == "doc-ck"
        assert node.metadata == TEXTS["ck"][1] and node.get_content() == TEXTS["ck"][0]  # types kept (JSON)
        expected = float(q @ vectors[1] / np.linalg.norm(q) / np.linalg.norm(vectors[1]))
        assert result.similarities == pytest.approx([expected], abs=1e-4)
        again = await li.aquery(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=1))
        assert again.ids == ["node-ck"]
        lc = LCStore(RagEmbeddings(local_embedder), unique_name, settings=settings)
        [doc] = lc.similarity_search("keys in memory", k=1)
        assert doc.id == "node-rd" and doc.metadata == TEXTS["rd"][1]
        [got] = li.get_nodes(node_ids=["node-py"])  # by the legacy id tag, then read whole
        assert got.get_content() == TEXTS["py"][0] and got.metadata == TEXTS["py"][1] and got.ref_doc_id == "doc-py"
        assert [d.id for d in lc.get_by_ids(["node-ck", "nope"])] == ["node-ck"]
        [hit] = li.index.text_search("crust golden", k=1)
        assert (hit.record.id, hit.record.doc_id, hit.record.metadata) == ("node-ck", "doc-ck", TEXTS["ck"][1])
        with pytest.raises(LayoutMismatchError, match="read-only"):
            li.index.upsert([Record("x", "t", q)])
    finally:
        li.index.drop()  # type: ignore[union-attr]
