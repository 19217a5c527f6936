"""``engine_identity``: two query engines have one identity only when everything that decides their answers is
the same (review finding: filters, index and LLM were left out, so one user's answer was served to another)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.prompts import PromptTemplate
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from redis_rag_integrations.llama_index import CachedQueryEngine, RagEmbedding, RedisVectorStore
from redis_rag_integrations.llama_index.engine_identity import engine_identity, object_token

EMBED = MockEmbedding(embed_dim=8)
INDEX = VectorStoreIndex.from_documents([Document(text="Refunds: 30 days.")], embed_model=EMBED)
LLM = MockLLM()


def _engine(**kwargs: Any) -> Any:
    return INDEX.as_query_engine(llm=kwargs.pop("llm", LLM), **kwargs)


# --- filters: exact ----------------------------------------------------------------------------------------------

VALUES = st.one_of(
    st.sampled_from(["alice", "bob", "1", "", "a,b"]),
    st.integers(-2, 2),
    st.sampled_from([1.0, 0.5, -0.0]),
    st.lists(st.sampled_from(["a", "b", "a,b"]), max_size=2),
)
FILTER = st.tuples(
    st.sampled_from(["user", "tenant"]),
    st.sampled_from([FilterOperator.EQ, FilterOperator.NE, FilterOperator.GT]),
    VALUES,
)
FILTERS = st.tuples(st.lists(FILTER, max_size=3), st.sampled_from([FilterCondition.AND, FilterCondition.OR]))


def _filters(spec: tuple[list[tuple[str, FilterOperator, Any]], FilterCondition]) -> MetadataFilters:
    items, condition = spec
    return MetadataFilters(
        filters=[MetadataFilter(key=k, operator=op, value=v) for k, op, v in items], condition=condition
    )


def _typed(filters: MetadataFilters) -> Any:
    """What the filters are, with 1, 1.0 and '1' told apart (as the store compares them)."""
    items = [(f.key, f.operator, type(f.value), repr(f.value)) for f in filters.filters]
    return items, filters.condition


@settings(max_examples=300, deadline=None)
@given(one=FILTERS, other=FILTERS)
def test_engines_share_an_identity_only_when_their_filters_are_equal(one: Any, other: Any) -> None:
    first, second = _filters(one), _filters(other)
    a = engine_identity(_engine(filters=first))
    b = engine_identity(_engine(filters=second))
    assert (a == b) == (_typed(first) == _typed(second))


_cases = iter(range(10**9))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(one=FILTERS, other=FILTERS)
def test_engines_share_answers_only_when_their_filters_are_equal(
    one: Any, other: Any, redis_url: str, unique_name: str
) -> None:
    """End to end on one cache: the second engine gets the first one's answer only for equal filters."""
    first, second = _filters(one), _filters(other)
    name = f"{unique_name}-{next(_cases)}"  # a cache of its own for each example
    wrap = [CachedQueryEngine(_engine(filters=f), embed_model=HashEmbedder(), redis_url=redis_url, name=name)
            for f in (first, second)]  # fmt: skip
    try:
        wrap[0].query("What is the refund policy?")
        served = (wrap[1].query("What is the refund policy?").metadata or {}).get("cache_hit", False)
        assert served == (_typed(first) == _typed(second))
    finally:
        wrap[0].cache.delete_index()


# --- every other part that decides an answer ---------------------------------------------------------------------


def test_each_part_of_an_engine_changes_its_identity() -> None:
    base = engine_identity(_engine())
    assert engine_identity(_engine()) == base  # built again alike: the same engine
    qa = PromptTemplate("Context: {context_str}\nAnswer briefly: {query_str}")
    variants = {
        "top_k": _engine(similarity_top_k=5),
        "mode": _engine(vector_store_query_mode="mmr"),
        "alpha": _engine(alpha=0.3),
        "doc_ids": _engine(doc_ids=["d1"]),
        "llm": _engine(llm=MockLLM(max_tokens=3)),
        "synthesizer mode": _engine(response_mode="tree_summarize"),
        "prompt": _engine(text_qa_template=qa),
        "postprocessor": _engine(node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.5)]),
        "embedding": INDEX.as_query_engine(llm=LLM, embed_model=MockEmbedding(embed_dim=4)),
        "index": VectorStoreIndex.from_documents([Document(text="Refunds: 30 days.")], embed_model=EMBED)
        .as_query_engine(llm=LLM),
    }  # fmt: skip
    identities = {name: engine_identity(engine) for name, engine in variants.items()}
    assert base not in identities.values()
    assert len(set(identities.values())) == len(identities)


def test_a_change_to_an_engine_after_it_was_wrapped_counts() -> None:
    engine = _engine()
    before = engine_identity(engine)
    engine.retriever.similarity_top_k = 7
    assert engine_identity(engine) != before
    engine.retriever.similarity_top_k = 2
    assert engine_identity(engine) == before


class _FunctionEngine(CustomQueryEngine):
    answer: Any

    def custom_query(self, query_str: str) -> str:
        return self.answer(query_str)


def test_a_part_without_an_exact_form_is_shared_with_no_other_engine() -> None:
    one = _FunctionEngine(answer=lambda q: "yes")
    two = _FunctionEngine(answer=lambda q: "no")
    assert engine_identity(one) == engine_identity(one)  # the same engine keeps its answers
    assert engine_identity(one) != engine_identity(two)


def test_object_tokens_are_unique_to_a_living_object() -> None:
    class Thing:
        pass

    a, b = Thing(), Thing()
    assert object_token(a) == object_token(a) != object_token(b)
    old_id, old_token = id(a), object_token(a)
    del a
    gc.collect()
    reused = [Thing() for _ in range(64)]  # one of these may take the freed id: it gets a new token
    assert all(object_token(t) != old_token for t in reused)
    assert old_id not in {id(t) for t in reused} or object_token(reused[0]) != old_token


# --- our vector store: named by its index, the same across rebuilt engines ---------------------------------------


@pytest.fixture
def redis_index(redis_url: str, unique_name: str) -> Any:
    embed = RagEmbedding(HashEmbedder())
    store = RedisVectorStore(unique_name, redis_url=redis_url)
    VectorStoreIndex.from_vector_store(store, embed_model=embed).insert_nodes([TextNode(id_="n", text="Refunds.")])
    yield embed
    store.index.drop()


def test_engines_over_our_store_are_named_by_its_index(redis_index: Any, redis_url: str, unique_name: str) -> None:
    def engine(name: str) -> Any:
        store = RedisVectorStore(name, redis_url=redis_url)
        return VectorStoreIndex.from_vector_store(store, embed_model=redis_index).as_query_engine(llm=MockLLM())

    assert engine_identity(engine(unique_name)) == engine_identity(engine(unique_name))  # rebuilt: shared
    other = RedisVectorStore(f"{unique_name}-b", redis_url=redis_url)
    VectorStoreIndex.from_vector_store(other, embed_model=redis_index).insert_nodes([TextNode(id_="m", text="No.")])
    try:
        assert engine_identity(engine(f"{unique_name}-b")) != engine_identity(engine(unique_name))
    finally:
        other.index.drop()


def test_the_readme_engine_rebuilt_is_the_same_engine(redis_url: str, unique_name: str) -> None:
    """``VectorStoreIndex.from_documents`` over our store, as in the README: rebuilt (another process would), the
    same identity, so its answers are shared."""
    embed = RagEmbedding(HashEmbedder())

    def build() -> VectorStoreIndex:
        storage = StorageContext.from_defaults(vector_store=RedisVectorStore(unique_name, redis_url=redis_url))
        docs = [Document(text="Use a with statement.", id_="d")]
        return VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed)

    one, two = build(), build()
    try:
        assert engine_identity(one.as_query_engine(llm=MockLLM())) == engine_identity(
            two.as_query_engine(llm=MockLLM())
        )
    finally:
        one.vector_store.index.drop()
