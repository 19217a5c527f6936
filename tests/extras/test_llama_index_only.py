"""What a LlamaIndex-only install (`pip install "redis-rag-integrations[llama-index,embedded]"`) must do: vector
store (direct and through a VectorStoreIndex), the semantic-cache LLM, the chat store, on a real embedded Redis.

Only LlamaIndex's own mocks (no torch, no LangChain): scripts/check-extras.sh runs this module in a venv holding just
that extra, and again in one holding every dependency at its lowest declared version. It runs in the main suite too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from redis_rag_integrations.llama_index import RedisChatStore, RedisVectorStore, SemanticCacheLLM

DIMS = 8


def axis(i: int) -> list[float]:
    """A unit vector along axis ``i``: hand-placed embeddings make the expected neighbours exact."""
    return [1.0 if j == i else 0.0 for j in range(DIMS)]


@pytest.fixture
def store(redis_url: str, unique_name: str) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(
        unique_name, dims=DIMS, redis_url=redis_url, metadata_fields={"topic": "tag", "year": "numeric"}
    )
    yield vs
    if vs.index is not None:
        vs.index.drop()


def node(node_id: str, doc_id: str, i: int, topic: str, year: int) -> TextNode:
    return TextNode(
        id_=node_id,
        text=f"chunk {node_id} about {topic}",
        metadata={"topic": topic, "year": year},
        embedding=axis(i),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc_id)},
    )


NODES = [node("a", "doc1", 0, "io", 2024), node("b", "doc1", 1, "lists", 2021), node("c", "doc2", 2, "dicts", 2019)]


def test_store_add_query_filter_delete(store: RedisVectorStore) -> None:
    assert store.add(NODES) == ["a", "b", "c"]
    result = store.query(VectorStoreQuery(query_embedding=axis(1), similarity_top_k=3))
    assert result.ids[0] == "b"
    assert result.nodes[0].get_content() == "chunk b about lists"
    assert result.nodes[0].metadata == {"topic": "lists", "year": 2021}
    assert result.nodes[0].ref_doc_id == "doc1"
    year = MetadataFilters(filters=[MetadataFilter(key="year", value=2020, operator=FilterOperator.GTE)])
    assert set(store.query(VectorStoreQuery(query_embedding=axis(2), similarity_top_k=3, filters=year)).ids) == {
        "a",
        "b",
    }
    topic = MetadataFilters(filters=[MetadataFilter(key="topic", value="dicts")])
    assert store.query(VectorStoreQuery(query_embedding=axis(0), similarity_top_k=3, filters=topic)).ids == ["c"]
    store.delete("doc1")  # by source document: both of its chunks
    assert [n.node_id for n in store.get_nodes(["a", "b", "c"])] == ["c"]


def test_vector_store_index_inserts_and_retrieves(store: RedisVectorStore) -> None:
    embed = MockEmbedding(embed_dim=DIMS)
    index = VectorStoreIndex.from_documents(
        [Document(text="Close files with a with statement.", id_="files")],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
    )
    (hit,) = index.as_retriever(similarity_top_k=1).retrieve("closing files")
    assert hit.node.ref_doc_id == "files"
    assert "with statement" in hit.node.get_content()


def test_semantic_cache_llm_answers_a_repeated_prompt(redis_url: str, unique_name: str) -> None:
    llm = SemanticCacheLLM(MockLLM(), embed_model=MockEmbedding(embed_dim=DIMS), redis_url=redis_url, name=unique_name)
    try:
        first = llm.complete("How do I reverse a list?")
        again = llm.complete("How do I reverse a list?")
        assert again.text == first.text
        assert not first.additional_kwargs.get("cache_hit")
        assert again.additional_kwargs.get("cache_hit") is True
        reply = llm.chat([ChatMessage(role=MessageRole.USER, content="Lists or tuples?")])
        cached = llm.chat([ChatMessage(role=MessageRole.USER, content="Lists or tuples?")])
        assert cached.message.content == reply.message.content
        assert cached.additional_kwargs.get("cache_hit") is True
    finally:
        llm.cache.delete_index()


def test_chat_store_round_trip_with_tool_calls(redis_url: str, unique_name: str) -> None:
    chat_store = RedisChatStore(redis_url=redis_url)
    messages = [
        ChatMessage(role=MessageRole.USER, content="How do I close a file?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[TextBlock(text="Looking."), ToolCallBlock(tool_call_id="c1", tool_name="lookup", tool_kwargs={})],
        ),
        ChatMessage(role=MessageRole.TOOL, content="use with", additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role=MessageRole.ASSISTANT, content="Use a with statement."),
    ]
    chat_store.set_messages(unique_name, messages)
    got = chat_store.get_messages(unique_name)
    assert [m.role for m in got] == [m.role for m in messages]
    assert [m.content for m in got] == [m.content for m in messages]
    (call,) = [b for b in got[1].blocks if isinstance(b, ToolCallBlock)]
    assert (call.tool_call_id, call.tool_name) == ("c1", "lookup")
    chat_store.delete_messages(unique_name)
    assert chat_store.get_messages(unique_name) == []
