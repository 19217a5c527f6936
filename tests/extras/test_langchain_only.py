"""What a LangChain-only install (`pip install "redis-rag-integrations[langchain,embedded]"`) must do: vector store,
exact and semantic LLM caches through ``set_llm_cache``, chat history, on a real embedded Redis.

Only langchain-core's own fakes (no torch, no LlamaIndex): scripts/check-extras.sh runs this module in a venv holding
just that extra, and again in one holding every dependency at its lowest declared version. It runs in the main
suite as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from redis_rag_integrations.langchain import (
    RedisCache,
    RedisChatMessageHistory,
    RedisSemanticCache,
    RedisVectorStore,
)

DIMS = 32


@pytest.fixture
def embeddings() -> DeterministicFakeEmbedding:
    return DeterministicFakeEmbedding(size=DIMS)


@pytest.fixture
def store(redis_url: str, unique_name: str, embeddings: DeterministicFakeEmbedding) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(
        embeddings, unique_name, redis_url=redis_url, metadata_fields={"topic": "tag", "year": "numeric"}
    )
    yield vs
    vs.index.drop()


TEXTS = ["Close files with a with statement.", "Reverse a list with reversed().", "Sort a dict by value with sorted()."]
METADATAS = [{"topic": "io", "year": 2024}, {"topic": "lists", "year": 2021}, {"topic": "dicts", "year": 2019}]


def test_store_add_search_filter_delete(store: RedisVectorStore) -> None:
    ids = store.add_texts(TEXTS, metadatas=METADATAS, ids=["files", "reverse", "sort"])
    assert ids == ["files", "reverse", "sort"]
    # The fake embeds a text to the same vector every time: the text itself is its nearest neighbour.
    (doc, score), *_ = store.similarity_search_with_score(TEXTS[1], k=3)
    assert (doc.id, doc.page_content, doc.metadata) == ("reverse", TEXTS[1], METADATAS[1])
    assert score == pytest.approx(1.0, abs=1e-3)
    found = store.similarity_search(TEXTS[0], k=3, filter={"year": {"$gte": 2020}})
    assert {d.id for d in found} == {"files", "reverse"}
    assert [d.id for d in store.similarity_search(TEXTS[0], k=3, filter={"topic": "dicts"})] == ["sort"]
    assert store.delete(["reverse"])
    assert [d.id for d in store.get_by_ids(["files", "reverse"])] == ["files"]


async def test_store_async_search(store: RedisVectorStore) -> None:
    await store.aadd_texts(TEXTS, metadatas=METADATAS, ids=["files", "reverse", "sort"])
    docs = await store.asimilarity_search(TEXTS[2], k=1, filter={"topic": "dicts"})
    assert [d.id for d in docs] == ["sort"]


@pytest.fixture
def global_cache() -> Iterator[None]:
    yield
    set_llm_cache(None)


def test_semantic_cache_answers_a_repeated_prompt(
    redis_url: str, unique_name: str, embeddings: DeterministicFakeEmbedding, global_cache: None
) -> None:
    cache = RedisSemanticCache(embeddings, redis_url=redis_url, name=unique_name, distance_threshold=0.1)
    try:
        set_llm_cache(cache)
        llm = FakeListLLM(responses=["Use reversed().", "SECOND CALL"])
        assert llm.invoke("How do I reverse a list?") == "Use reversed()."
        assert llm.invoke("How do I reverse a list?") == "Use reversed()."  # a decode failure would be a miss
        assert cache.stats.hits == 1
        assert llm.invoke("How do I sort a dict?") == "SECOND CALL"
        # A chat model's message (with its type) survives the round trip through LangChain's serialisation.
        chat = GenericFakeChatModel(messages=iter([AIMessage(content="A tuple is immutable.")]))
        first = chat.invoke("Lists or tuples?")
        again = chat.invoke("Lists or tuples?")  # the fake has no second answer: it must come from the cache
        assert isinstance(again, AIMessage)
        assert again.content == first.content == "A tuple is immutable."
    finally:
        cache.core.delete_index()


def test_exact_cache_through_set_llm_cache(redis_url: str, unique_name: str, global_cache: None) -> None:
    cache = RedisCache(redis_url=redis_url, name=f"{unique_name}:exact")
    try:
        set_llm_cache(cache)
        llm = FakeListLLM(responses=["first", "second"])
        assert [llm.invoke("same prompt"), llm.invoke("same prompt"), llm.invoke("other")] == [
            "first",
            "first",
            "second",
        ]
    finally:
        cache.clear()


def test_chat_history_round_trip(redis_url: str, unique_name: str) -> None:
    history = RedisChatMessageHistory(unique_name, redis_url=redis_url)
    call = {"name": "lookup", "args": {"q": "files"}, "id": "call-1", "type": "tool_call"}
    messages = [
        HumanMessage(content="How do I close a file?"),
        AIMessage(content="", tool_calls=[call]),
        ToolMessage(content="use with", tool_call_id="call-1"),
        AIMessage(content="Use a with statement."),
    ]
    history.add_messages(messages)
    got = history.messages
    assert [type(m) for m in got] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert [m.content for m in got] == [m.content for m in messages]
    assert got[1].tool_calls == [call]
    assert got[2].tool_call_id == "call-1"
    history.clear()
    assert history.messages == []
