"""Scores mean the same in both frameworks (similarity, higher is better); the LangChain retriever's search types."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from redis_rag_integrations import Settings
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import Hit, Layout, Record
from redis_rag_integrations.store.ranking import relative_score_fuse

DOCS = [
    Document(id="py", page_content="Python lists grow with append and shrink with pop.", metadata={"topic": "py"}),
    Document(
        id="rd", page_content="Redis keeps keys in memory and can persist them to disk.", metadata={"topic": "db"}
    ),
    Document(
        id="ck", page_content="Bake the bread at 220 degrees until the crust is golden.", metadata={"topic": "ck"}
    ),
    Document(id="gc", page_content="CPython frees memory with reference counting and a cycle collector.", metadata={}),
]


@pytest.fixture
def store(settings: Settings, unique_name: str, local_embedder: LocalEmbedder) -> Iterator[LCStore]:
    s = LCStore(RagEmbeddings(local_embedder), unique_name, metadata_fields={"topic": "tag"}, settings=settings)
    s.add_documents(DOCS)
    yield s
    s.index.drop()


def test_the_same_query_scores_the_same_through_both_adapters(
    store: LCStore, settings: Settings, local_embedder: LocalEmbedder
) -> None:
    query = "How does Python manage memory?"
    q = local_embedder.embed([query])[0]
    lc = store.similarity_search_with_score(query, k=4)
    li = LIStore(store.index.name, settings=settings).query(
        VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=4)
    )
    assert [d.id for d, _ in lc] == li.ids
    assert [s for _, s in lc] == pytest.approx(li.similarities, abs=1e-6)
    # similarity, higher is better: sorted descending, and equal to the cosine similarity computed here
    scores = [s for _, s in lc]
    assert scores == sorted(scores, reverse=True) and lc[0][0].id == "gc"
    stored = {r.id: r.vector for r in store.index.get([d.id for d, _ in lc], with_vectors=True)}
    cosine = [float(stored[d.id] @ q / np.linalg.norm(stored[d.id]) / np.linalg.norm(q)) for d, _ in lc]
    assert scores == pytest.approx(cosine, abs=1e-4)


async def test_async_scores_match_sync_scores(
    store: LCStore, settings: Settings, local_embedder: LocalEmbedder
) -> None:
    sync = store.similarity_search_with_score("baking bread", k=3)
    assert [
        (d.id, pytest.approx(s, abs=1e-6)) for d, s in await store.asimilarity_search_with_score("baking bread", k=3)
    ] == [(d.id, s) for d, s in sync]
    q = local_embedder.embed(["baking bread"])[0].tolist()
    li = await LIStore(store.index.name, settings=settings).aquery(
        VectorStoreQuery(query_embedding=q, similarity_top_k=3)
    )
    assert li.similarities == pytest.approx([s for _, s in sync], abs=1e-6)


def test_hybrid_scores_agree_across_adapters(store: LCStore, settings: Settings, local_embedder: LocalEmbedder) -> None:
    lc = store.hybrid_search("crust golden", k=2)
    q = local_embedder.embed(["crust golden"])[0].tolist()
    li = LIStore(store.index.name, settings=settings).query(
        VectorStoreQuery(
            query_str="crust golden", query_embedding=q, similarity_top_k=2, mode=VectorStoreQueryMode.HYBRID
        )
    )
    assert [d.id for d, _ in lc] == li.ids and li.ids[0] == "ck"
    assert [s for _, s in lc] == pytest.approx(li.similarities)


def test_relevance_scores_follow_the_similarity(store: LCStore) -> None:
    pairs = store.similarity_search_with_relevance_scores("bread oven", k=4)
    scores = store.similarity_search_with_score("bread oven", k=4)
    assert [d.id for d, _ in pairs] == [d.id for d, _ in scores]
    assert [r for _, r in pairs] == pytest.approx([min(1.0, max(0.0, s)) for _, s in scores])


@pytest.mark.parametrize(
    ("metric", "distance", "similarity"), [("cosine", 0.25, 0.75), ("ip", 0.25, 0.75), ("l2", 0.5, 0.75)]
)
def test_each_metric_turns_distance_into_a_similarity(metric: str, distance: float, similarity: float) -> None:
    layout = Layout(index_name="x", dims=2, distance_metric=metric)  # type: ignore[arg-type]
    assert layout.similarity(distance) == pytest.approx(similarity)
    assert layout.similarity(0.0) > layout.similarity(distance)  # closer is higher


def test_retriever_runs_hybrid_search(store: LCStore) -> None:
    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 1, "alpha": 0.3})
    assert [d.id for d in retriever.invoke("persist keys to disk")] == ["rd"]
    filtered = store.as_retriever(search_type="hybrid", search_kwargs={"k": 3, "filter": {"topic": "py"}})
    assert [d.id for d in filtered.invoke("memory")] == ["py"]


async def test_retriever_runs_hybrid_search_async(store: LCStore) -> None:
    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 1})
    assert [d.id for d in await retriever.ainvoke("bake bread crust")] == ["ck"]


async def test_retriever_still_runs_mmr_and_score_threshold(store: LCStore) -> None:
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4})
    assert len(mmr.invoke("memory")) == 2 and len(await mmr.ainvoke("memory")) == 2
    strict = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.5, "k": 4}
    )
    assert [d.id for d in strict.invoke("Bake the bread at 220 degrees")] == ["ck"]
    assert [d.id for d in await strict.ainvoke("Bake the bread at 220 degrees")] == ["ck"]
    plain = store.as_retriever(search_kwargs={"k": 2})
    assert plain.invoke("bread")[0].id == "ck"


def test_retriever_rejects_an_unknown_search_type(store: LCStore) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        store.as_retriever(search_type="bogus")


def _hit(i: str, score: float) -> Hit:
    return Hit(record=Record(i, i), distance=-score, score=score)


def test_relative_score_fusion_normalises_each_side_then_weighs_them() -> None:
    dense = [_hit("a", 0.9), _hit("b", 0.8), _hit("c", 0.5)]  # normalised: a 1, b 0.75, c 0
    sparse = [_hit("c", 12.0), _hit("d", 4.0)]  # normalised: c 1, d 0
    fused = relative_score_fuse([dense, sparse], k=4, weights=[0.7, 0.3])
    assert [h.record.id for h in fused] == ["a", "b", "c", "d"]
    assert [h.score for h in fused] == pytest.approx([0.7, 0.525, 0.3, 0.0])
    assert [h.distance for h in fused] == pytest.approx([1 - h.score for h in fused])
    # A lone result (or equal scores) counts as the best of its list; an empty list contributes nothing.
    assert [h.score for h in relative_score_fuse([[_hit("x", 3.0)], []], k=2, weights=[0.6, 0.4])] == [0.6]


def test_fusion_and_alpha_come_from_the_call_or_the_settings(
    settings: Settings, unique_name: str, local_embedder: LocalEmbedder
) -> None:
    rrf = LCStore(RagEmbeddings(local_embedder), unique_name, settings=settings, hybrid_fusion="rrf", hybrid_alpha=0.5)
    rrf.add_documents(DOCS)
    try:
        default = LCStore(RagEmbeddings(local_embedder), unique_name, settings=settings)
        by_rank = rrf.hybrid_search("persist keys to disk", k=4)
        assert max(s for _, s in by_rank) <= 2 / 61  # RRF: at most weight/(60 + 1) from each side
        assert [s for _, s in default.hybrid_search("persist keys to disk", k=4, fusion="rrf", alpha=0.5)] == (
            pytest.approx([s for _, s in by_rank])
        )
        relative = default.hybrid_search("persist keys to disk", k=4)
        assert relative[0][0].id == "rd" and relative[0][1] == pytest.approx(1.0)  # best on both sides
        vectors_only = default.hybrid_search("persist keys to disk", k=4, alpha=1.0)
        assert [d.id for d, _ in vectors_only] == [
            d.id for d, _ in default.similarity_search_with_score("persist keys to disk", k=4)
        ]
        with pytest.raises(ValueError, match="unknown hybrid fusion"):
            default.hybrid_search("disk", fusion="borda")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="alpha"):
            default.hybrid_search("disk", alpha=1.5)
    finally:
        rrf.index.drop()
