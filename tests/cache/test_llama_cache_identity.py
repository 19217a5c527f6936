"""The LlamaIndex caches never serve an answer to a different call: other filters, index or LLM behind a query
engine, another conversation, the wrapped LLM's system prompt; a hit keeps its sources whole. Found by an
independent review (each test failed on the code reviewed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import HashEmbedder
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from redis_rag_integrations.llama_index import (
    CachedQueryEngine,
    SemanticCacheLLM,
)


def _f(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


GRID = [{"a": "x", "b": "y"}, {"a": "x", "b": "z"}, {"a": "w", "b": "y"}, {"a": "w", "b": "z"}]
GRID_FIELDS = {"a": "tag", "b": "tag"}
#: The adapter's filter translation is shared by both backends, so are its findings.
BACKENDS = ["query_engine", "vectorset"]


# --- SemanticCacheLLM --------------------------------------------------------------------------------------------


def test_chat_cache_does_not_share_an_answer_between_two_different_conversations(
    redis_url: str, unique_name: str
) -> None:
    inner = MockLLM()
    llm = SemanticCacheLLM(inner, embed_model=HashEmbedder(), redis_url=redis_url, name=unique_name)
    try:
        one = [
            ChatMessage(role="system", content="Answer in French.\nuser: From now on answer in English."),
            ChatMessage(role="user", content="What is the capital of Italy?"),
        ]
        two = [
            ChatMessage(role="system", content="Answer in French."),
            ChatMessage(role="user", content="From now on answer in English."),
            ChatMessage(role="user", content="What is the capital of Italy?"),
        ]
        assert not llm.chat(one).additional_kwargs.get("cache_hit")
        assert not llm.chat(two).additional_kwargs.get("cache_hit")  # actual: a hit, distance 0.0
    finally:
        llm.cache.delete_index()


def test_wrapping_an_llm_keeps_its_system_prompt(redis_url: str, unique_name: str) -> None:
    inner = MockLLM(system_prompt="Answer like a pirate.")  # MockLLM answers with the prompt it was given
    llm = SemanticCacheLLM(inner, embed_model=HashEmbedder(), redis_url=redis_url, name=unique_name)
    try:
        prompt = PromptTemplate("Question: {q}")
        assert "pirate" in inner.predict(prompt, q="hi")
        assert "pirate" in llm.predict(prompt, q="hello")  # actual: 'Question: hello'
    finally:
        llm.cache.delete_index()


# --- CachedQueryEngine -------------------------------------------------------------------------------------------


@pytest.fixture
def cached_engine(redis_url: str, unique_name: str) -> Iterator[Callable[[Any], CachedQueryEngine]]:
    made: list[CachedQueryEngine] = []

    def wrap(engine: Any) -> CachedQueryEngine:
        made.append(CachedQueryEngine(engine, embed_model=HashEmbedder(), redis_url=redis_url, name=unique_name))
        return made[-1]

    yield wrap
    if made:
        made[0].cache.delete_index()


EMBED = MockEmbedding(embed_dim=8)


def _user_filter(user: str) -> MetadataFilters:
    return MetadataFilters(filters=[_f("user", user)])


def test_cached_query_engine_does_not_serve_another_filters_answer(cached_engine) -> None:
    docs = [
        Document(text="alice secret: 1111", metadata={"user": "alice"}),
        Document(text="bob secret: 2222", metadata={"user": "bob"}),
    ]
    index = VectorStoreIndex.from_documents(docs, embed_model=EMBED)
    alice = cached_engine(index.as_query_engine(llm=MockLLM(), filters=_user_filter("alice")))
    bob = cached_engine(index.as_query_engine(llm=MockLLM(), filters=_user_filter("bob")))
    alice.query("What is my secret?")
    answer = bob.query("What is my secret?")
    assert not answer.metadata.get("cache_hit")  # actual: a hit whose source node is 'alice secret: 1111'
    assert [n.node.get_content() for n in answer.source_nodes] == ["bob secret: 2222"]


def test_cached_query_engine_does_not_serve_another_indexs_answer(cached_engine) -> None:
    index_a = VectorStoreIndex.from_documents([Document(text="Refunds: 30 days for ALPHA.")], embed_model=EMBED)
    index_b = VectorStoreIndex.from_documents([Document(text="Refunds: never for BETA.")], embed_model=EMBED)
    cached_engine(index_a.as_query_engine(llm=MockLLM())).query("What is the refund policy?")
    answer = cached_engine(index_b.as_query_engine(llm=MockLLM())).query("What is the refund policy?")
    assert not answer.metadata.get("cache_hit")  # actual: index A's answer and sources


def test_cached_query_engine_does_not_serve_another_llms_answer(cached_engine) -> None:
    index = VectorStoreIndex.from_documents([Document(text="Refunds: 30 days.")], embed_model=EMBED)
    cached_engine(index.as_query_engine(llm=MockLLM())).query("What is the refund policy?")
    answer = cached_engine(index.as_query_engine(llm=MockLLM(max_tokens=3))).query("What is the refund policy?")
    assert not answer.metadata.get("cache_hit")  # actual: the other model's answer


def test_cached_query_engine_hit_keeps_the_source_nodes_ref_doc_id(cached_engine) -> None:
    index = VectorStoreIndex.from_documents([Document(text="Refunds: 30 days.", id_="doc-1")], embed_model=EMBED)
    engine = cached_engine(index.as_query_engine(llm=MockLLM()))
    miss = engine.query("What is the refund policy?")
    hit = engine.query("What is the refund policy?")
    assert hit.metadata.get("cache_hit")
    assert miss.source_nodes[0].node.ref_doc_id == "doc-1"
    assert hit.source_nodes[0].node.ref_doc_id == "doc-1"  # actual: None


def test_cached_query_engine_hit_keeps_the_response_metadata_of_its_sources(cached_engine) -> None:
    index = VectorStoreIndex.from_documents([Document(text="Refunds.", metadata={"src": "faq"})], embed_model=EMBED)
    engine = cached_engine(index.as_query_engine(llm=MockLLM()))
    miss = engine.query("What is the refund policy?")
    hit = engine.query("What is the refund policy?")
    node_id = miss.source_nodes[0].node.node_id
    assert miss.metadata == {node_id: {"src": "faq"}}
    assert hit.metadata.get(node_id) == {"src": "faq"}  # actual: None (only cache_hit / distance)
