"""What a second review of the LangChain-side fixes (agent cache key, CachedRAGChain, checkpointer list(), memory
store, chat history) found: a rebuilt agent with an equal filter and the same picture asked twice hit, chains
wrapped in fallbacks or branches or differing by a filter expression do not share answers, pending writes survive
every list() path, checkpoint TTLs are exact, the memory store reopens on RESP3. Each test failed on the reviewed
code."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fakes import HashEmbedder
from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from redisvl.query.filter import Tag

from redis_rag_integrations.connection import get_async_client
from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.agents import AsyncRedisCheckpointSaver, checkpointer
from redis_rag_integrations.langchain.memory_store import RedisMemoryStore
from redis_rag_integrations.langchain.middleware import RedisRAGMiddleware
from redis_rag_integrations.langchain.rag_cache import CachedRAGChain

from .conftest import DIMS, ToolFakeChatModel

# --- agent cache behind the RAG middleware (ec68c64) ---------------------------------------------------------------


@pytest.fixture
def vector_store(redis_url: str, unique_name: str) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(
        RagEmbeddings(HashEmbedder(DIMS)), f"{unique_name}vs", redis_url=redis_url, metadata_fields={"source": "tag"}
    )
    vs.add_texts(["Refunds: 30 days, in full."], metadatas=[{"source": "refund.md"}], ids=["refund"])
    yield vs
    vs.index.drop()


@pytest.fixture
def agent_cache(redis_url: str, unique_name: str) -> Iterator[SemanticCacheMiddleware]:
    middleware = SemanticCacheMiddleware(
        embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url, write_behind=False
    )
    yield middleware
    middleware.core.delete_index()


def _ask(middleware: list[Any], answer: str) -> AIMessage:
    model = ToolFakeChatModel(messages=iter([AIMessage(answer)]))
    agent = create_agent(model, system_prompt="Support bot.", middleware=middleware)
    return agent.invoke({"messages": [HumanMessage("What is the refund policy?")]})["messages"][-1]


def test_a_rebuilt_rag_agent_with_an_equal_filter_hits(
    vector_store: RedisVectorStore, agent_cache: SemanticCacheMiddleware
) -> None:
    def rag() -> RedisRAGMiddleware:
        return RedisRAGMiddleware(vector_store, k=1, search_kwargs={"filter": Tag("source") == "refund.md"})

    first = _ask([rag(), agent_cache], "30 days [1].")
    assert first.content == "30 days [1]." and not first.response_metadata.get("cache_hit")
    again = _ask([rag(), agent_cache], "never asked")
    assert again.content == "30 days [1]." and again.response_metadata.get("cache_hit")


def test_the_same_picture_built_with_the_v1_block_factories_hits(agent_cache: SemanticCacheMiddleware) -> None:
    from langchain_core.messages.content import create_image_block, create_text_block

    def ask(answer: str) -> AIMessage:
        model = ToolFakeChatModel(messages=iter([AIMessage(answer)]))
        question = HumanMessage(
            content_blocks=[
                create_text_block("What is in this picture?"),
                create_image_block(url="https://example.com/cat.png"),
            ]
        )
        return create_agent(model, middleware=[agent_cache]).invoke({"messages": [question]})["messages"][-1]

    assert ask("A cat.").content == "A cat."
    again = ask("never asked")
    assert again.content == "A cat." and again.response_metadata.get("cache_hit")


@pytest.mark.parametrize("template", ["Context: {context.foo}", "Context: {context[a]}"])
def test_a_template_with_an_attribute_or_index_field_is_refused_clearly(
    vector_store: RedisVectorStore, template: str
) -> None:
    with pytest.raises(ValueError, match="template"):
        RedisRAGMiddleware(vector_store, template=template)


# --- CachedRAGChain (a8636db) ------------------------------------------------------------------------------------


class _NoIdRetriever(BaseRetriever):
    """A retriever whose documents carry no id, doc_id or source (BM25 / TF-IDF style, or a custom one)."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document("Refunds within 30 days.")]


def test_a_repeated_question_hits_when_the_retrieved_documents_have_no_id(redis_url: str, unique_name: str) -> None:
    model = ToolFakeChatModel(messages=iter([AIMessage("30 days."), AIMessage("second answer")]))
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    chain = {"context": _NoIdRetriever(), "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
    cached = CachedRAGChain(chain, embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url)
    try:
        assert cached.invoke("What is the refund policy?") == "30 days."
        assert cached.invoke("What is the refund policy?") == "30 days."
        assert len(model.calls) == 1
    finally:
        cached.cache.delete_index()


def test_a_repeated_question_hits_through_string_and_dict_chains(
    vector_store: RedisVectorStore, redis_url: str, unique_name: str
) -> None:
    """Checked and correct (not a defect): a plain string chain and a dict chain over our store hit when repeated."""
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    model = GenericFakeChatModel(messages=iter([AIMessage("one"), AIMessage("two")]))
    chain = {"context": vector_store.as_retriever(k=1), "question": RunnablePassthrough()} | prompt | model
    cached = CachedRAGChain(chain | StrOutputParser(), embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url)
    try:
        assert [cached.invoke("Refunds?"), cached.invoke("Refunds?")] == ["one", "one"]
        assert [asyncio.run(cached.ainvoke("Refund rules?")), asyncio.run(cached.ainvoke("Refund rules?"))] == [
            "two",
            "two",
        ]
    finally:
        cached.cache.delete_index()


@pytest.mark.parametrize("shape", ["with_fallbacks", "branch"])
def test_wrapped_rag_chains_over_different_stores_do_not_share_answers(
    redis_url: str, unique_name: str, shape: str
) -> None:
    from langchain_core.runnables import RunnableBranch

    stores = [
        RedisVectorStore(RagEmbeddings(HashEmbedder(DIMS)), f"{unique_name}{name}", redis_url=redis_url)
        for name in ("a", "b")
    ]
    stores[0].add_texts(["Refunds within 30 days."], ids=["refund"])
    stores[1].add_texts(["Rockets burn fuel."], ids=["rockets"])
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")

    def cached(store: RedisVectorStore, answer: str) -> CachedRAGChain:
        model = GenericFakeChatModel(messages=iter([AIMessage(answer)]))
        core = {"context": store.as_retriever(k=1), "question": RunnablePassthrough()} | prompt | model
        core = core | StrOutputParser()
        chain = (
            core.with_fallbacks([core]) if shape == "with_fallbacks" else RunnableBranch((lambda q: not q, core), core)
        )
        return CachedRAGChain(chain, embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url)

    first = cached(stores[0], "30 days")
    try:
        assert first.invoke("What is the refund policy?") == "30 days"
        assert cached(stores[1], "Nothing about refunds.").invoke("What is the refund policy?") == (
            "Nothing about refunds."
        )
    finally:
        first.cache.delete_index()
        for store in stores:
            store.index.drop()


def test_rag_chains_with_different_filter_expressions_do_not_share_answers(redis_url: str, unique_name: str) -> None:
    store = RedisVectorStore(
        RagEmbeddings(HashEmbedder(DIMS)), f"{unique_name}f", redis_url=redis_url, metadata_fields={"tenant": "tag"}
    )
    store.add_texts(
        ["Refunds within 30 days.", "Refunds within 90 days."],
        metadatas=[{"tenant": "a"}, {"tenant": "b"}],
        ids=["ra", "rb"],
    )
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")

    def cached(tenant: str, answer: str) -> CachedRAGChain:
        model = GenericFakeChatModel(messages=iter([AIMessage(answer)]))
        retriever = store.as_retriever(search_kwargs={"k": 1, "filter": Tag("tenant") == tenant})
        chain = {"context": retriever, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
        return CachedRAGChain(chain, embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url)

    first = cached("a", "30 days")
    try:
        assert first.invoke("What is the refund policy?") == "30 days"
        assert cached("b", "90 days").invoke("What is the refund policy?") == "90 days"
    finally:
        first.cache.delete_index()
        store.index.drop()


# --- checkpointer list() (12815b4 .. 062ea19) --------------------------------------------------------------------


def _writes_by_thread(found: Any, threads: set[str]) -> dict[str, Any]:
    return {
        t.config["configurable"]["thread_id"]: [tuple(w) for w in t.pending_writes or []]
        for t in found
        if t.config["configurable"]["thread_id"] in threads
    }


def _rewritten(saver: Any, thread: str, checkpoint: Any) -> dict[str, Any]:
    """A checkpoint whose pending writes were stored before its own put() finished: LangGraph runs put() and
    put_writes() on background threads, and in a real graph run (Send fan-out + a subgraph + an interrupt) the
    library's checkpoint document ended with has_writes=False while its write registry held the writes."""
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    stored = saver.put(config, checkpoint, {"source": "loop", "step": 0}, {})
    saver.put_writes(stored, [("ch", "v")], "task-1")
    return saver.put(config, checkpoint, {"source": "loop", "step": 0}, {})


def test_list_of_every_thread_keeps_pending_writes(redis_url: str) -> None:
    saver, reference = checkpointer(redis_url), InMemorySaver()
    thread = f"plain-{uuid.uuid4().hex[:8]}"
    checkpoint = empty_checkpoint()
    try:
        for s in (saver, reference):
            _rewritten(s, thread, checkpoint)
        expected = _writes_by_thread(reference.list(None), {thread})
        assert _writes_by_thread(saver.list({"configurable": {"thread_id": thread}}), {thread}) == expected
        assert _writes_by_thread(saver.list(None), {thread}) == expected
    finally:
        saver.delete_thread(thread)


def test_sync_and_async_list_agree_on_pending_writes_of_a_comma_thread(redis_url: str) -> None:
    saver, reference = checkpointer(redis_url), InMemorySaver()
    thread = f"x,{uuid.uuid4().hex[:8]}"
    checkpoint = empty_checkpoint()
    config = {"configurable": {"thread_id": thread}}

    async def alist() -> list[Any]:
        async with AsyncRedisCheckpointSaver(redis_client=get_async_client(redis_url)) as asaver:
            return [t async for t in asaver.alist(config)]

    try:
        for s in (saver, reference):
            _rewritten(s, thread, checkpoint)
        expected = _writes_by_thread(reference.list(config), {thread})
        assert _writes_by_thread(asyncio.run(alist()), {thread}) == expected
        assert _writes_by_thread(saver.list(config), {thread}) == expected
    finally:
        saver.delete_thread(thread)


def test_a_checkpoint_ttl_below_one_second_expires_or_is_refused(redis_url: str) -> None:
    try:
        saver = checkpointer(redis_url, ttl=0.5)  # type: ignore[arg-type]
    except ValueError:
        return  # a clear refusal is fine
    thread = f"ttl-{uuid.uuid4().hex[:8]}"
    stored = saver.put({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
    try:
        key = saver._make_redis_checkpoint_key(thread, "", stored["configurable"]["checkpoint_id"])
        assert saver._redis.pttl(key) > 0  # it expires (-1 is: kept forever)
    finally:
        saver.delete_thread(thread)


# --- memory store (bad94a3 .. 495420d) ---------------------------------------------------------------------------


def test_a_memory_store_reopens_on_a_resp3_client(redis_url: str, unique_name: str) -> None:
    client = redis.Redis.from_url(redis_url, protocol=3)
    index = {"dims": DIMS, "embed": HashEmbedder(DIMS), "fields": ["text"]}
    store = RedisMemoryStore(client=client, name=f"{unique_name}m", index=index)  # type: ignore[arg-type]
    try:
        store.put(("u",), "a", {"text": "likes tea"})
        again = RedisMemoryStore(client=client, name=f"{unique_name}m", index=index)  # type: ignore[arg-type]
        assert [item.key for item in again.search(("u",), query="tea")] == ["a"]
    finally:
        store.drop()
        client.close()
