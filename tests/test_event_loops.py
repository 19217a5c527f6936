"""Every component's async API works in any number of event loops: consecutive ``asyncio.run`` calls on one object,
and threads each running their own loop at the same time.

An asyncio client belongs to the loop it first connected on. A component that kept one async client forever worked
in the first ``asyncio.run`` and failed in the second ("Event loop is closed"), or, behind the caches' fault guard,
missed silently from then on. These tests run each component through three loops in a row and four threads'
loops at once, on the real embedded Redis, with a deterministic embedder (they are about plumbing, not meaning).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import redis
from fakes import HashEmbedder
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import Generation
from langchain_core.runnables import RunnableLambda
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import ExactCache, SemanticCache
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.langchain import CachedRAGChain, RedisCache, RedisChatMessageHistory, RedisSemanticCache
from redis_rag_integrations.langchain import RedisVectorStore as LangChainStore
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore
from redis_rag_integrations.llama_index import RedisVectorStore as LlamaIndexStore
from redis_rag_integrations.store import Record, RedisVectorIndex

T = TypeVar("T")
DIMS = 16
LOOPS = 3
THREADS = 4


EMBED = HashEmbedder()


def in_loops(step: Callable[[int], Awaitable[T]], n: int = LOOPS) -> list[T]:
    """``step(i)`` in a fresh event loop each time, one after the other (what sync code calling async does)."""
    return [asyncio.run(step(i)) for i in range(n)]  # type: ignore[arg-type]


def in_threads(step: Callable[[int], Awaitable[T]], n: int = THREADS) -> list[T]:
    """``step(i)`` in ``n`` threads at once, each running its own event loop; started together by a barrier."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait(timeout=60)
        return asyncio.run(step(i))  # type: ignore[arg-type]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def records(tag: str, n: int) -> list[Record]:
    texts = [f"{tag} chunk {j}" for j in range(n)]
    return [Record(f"{tag}-{j}", t, EMBED.embed([t])[0], {"n": j}, doc_id=tag) for j, t in enumerate(texts)]


@pytest.fixture
def index(settings: Settings, unique_name: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(unique_name, dims=DIMS, settings=settings)
    yield idx
    idx.drop()


# --- the vector index and the two framework stores ------------------------------------------------------------------
def test_vector_index_serves_consecutive_loops(index: RedisVectorIndex) -> None:
    async def step(i: int) -> tuple[str, int, list[str], int]:
        written = records(f"loop{i}", 10)  # >= SMALL_WRITE: the scripted new-first path, on this loop's client
        await index.aupsert(written)
        await index.aupsert(written[:2])  # replacing existing records runs the upsert script
        top = await index.asearch(written[3].vector, k=1)  # type: ignore[arg-type]
        found = await index.aget([r.id for r in written[:3]])
        deleted = await index.adelete([written[9].id])
        return top[0].record.id, await index.acount(), [r.id for r in found], deleted

    results = in_loops(step)
    assert [r[0] for r in results] == ["loop0-3", "loop1-3", "loop2-3"]
    assert [r[1] for r in results] == [9, 18, 27]
    assert [r[2] for r in results] == [[f"loop{i}-{j}" for j in range(3)] for i in range(LOOPS)]
    assert [r[3] for r in results] == [1, 1, 1]


def test_vector_index_serves_threads_with_their_own_loops(index: RedisVectorIndex) -> None:
    async def step(i: int) -> tuple[str, list[str]]:
        written = records(f"thread{i}", 10)
        await index.aupsert(written)
        top = await index.asearch(written[5].vector, k=1)  # type: ignore[arg-type]
        text = await index.atext_search(f"thread{i}", k=20)
        return top[0].record.id, sorted({h.record.doc_id or "" for h in text})

    results = in_threads(step)
    assert [r[0] for r in results] == [f"thread{i}-5" for i in range(THREADS)]
    assert [r[1] for r in results] == [[f"thread{i}"] for i in range(THREADS)]
    assert index.count() == 10 * THREADS


def test_langchain_store_serves_consecutive_loops(settings: Settings, unique_name: str) -> None:
    store = LangChainStore(EMBED, unique_name, settings=settings)  # type: ignore[arg-type]
    try:

        async def step(i: int) -> list[str | None]:
            texts = [f"loop {i} text {j}" for j in range(3)]
            await store.aadd_texts(texts, ids=[f"l{i}-{j}" for j in range(3)])
            return [d.id for d in await store.asimilarity_search(texts[1], k=1)]

        assert in_loops(step) == [["l0-1"], ["l1-1"], ["l2-1"]]
        assert in_threads(step) == [[f"l{i}-1"] for i in range(THREADS)]
    finally:
        store.index.drop()


def test_llama_index_store_serves_consecutive_loops(settings: Settings, unique_name: str) -> None:
    store = LlamaIndexStore(unique_name, settings=settings)  # no index yet: the first async_add creates it
    try:

        async def step(i: int) -> list[str]:
            nodes = [TextNode(id_=f"n{i}-{j}", text=f"node {i} {j}") for j in range(3)]
            for node in nodes:
                node.embedding = EMBED.embed([node.text])[0].tolist()
            await store.async_add(nodes)
            result = await store.aquery(VectorStoreQuery(query_embedding=nodes[2].embedding, similarity_top_k=1))
            return list(result.ids or [])

        assert in_loops(step) == [["n0-2"], ["n1-2"], ["n2-2"]]
        assert in_threads(step) == [[f"n{i}-2"] for i in range(THREADS)]
    finally:
        assert store.index is not None
        store.index.drop()


# --- caches -----------------------------------------------------------------------------------------------------------
@pytest.fixture
def semantic(redis_url: str, unique_name: str) -> Iterator[SemanticCache]:
    cache = SemanticCache(EMBED, name=unique_name, redis_url=redis_url, retry_interval=0.0)
    yield cache
    cache.delete_index()


def test_semantic_cache_hits_in_a_later_loop_not_a_silent_miss(semantic: SemanticCache, caplog) -> None:
    async def step(i: int) -> str | None:
        if i == 0:
            assert await semantic.astore("what is redis?", "an in-memory store") is not None
        hit = await semantic.acheck("what is redis?")
        return hit.response if hit is not None else None

    with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.cache"):
        assert in_loops(step) == ["an in-memory store"] * LOOPS
    assert "Redis unavailable" not in caplog.text
    assert (semantic.stats.hits, semantic.stats.errors) == (LOOPS, 0)


def test_semantic_cache_serves_threads_with_their_own_loops(semantic: SemanticCache) -> None:
    async def step(i: int) -> tuple[str | None, bool]:
        await semantic.astore(f"question {i}", f"answer {i}")
        mine = await semantic.acheck(f"question {i}")
        watched = await semantic.awatch()
        await semantic.aunwatch(watched)
        return (mine.response if mine else None), watched is not None

    assert in_threads(step) == [(f"answer {i}", True) for i in range(THREADS)]
    assert len(semantic) == THREADS and semantic.stats.errors == 0


def test_exact_cache_serves_consecutive_loops_and_threads(redis_url: str, unique_name: str) -> None:
    cache = ExactCache(name=unique_name, redis_url=redis_url, retry_interval=0.0)

    async def step(i: int) -> list[str | None]:
        assert await cache.aset(f"p{i}", f"v{i}")
        return [await cache.aget(f"p{j}") for j in range(i + 1)]

    assert in_loops(step) == [["v0"], ["v0", "v1"], ["v0", "v1", "v2"]]
    assert in_threads(step)[0] == ["v0"]
    assert cache.stats.errors == 0
    assert asyncio.run(cache.aclear()) == THREADS


def test_langchain_llm_caches_serve_consecutive_loops(redis_url: str, unique_name: str) -> None:
    semantic = RedisSemanticCache(EMBED, redis_url=redis_url, name=unique_name)  # type: ignore[arg-type]
    exact = RedisCache(redis_url=redis_url, name=f"{unique_name}:exact")

    async def step(i: int) -> tuple[Any, Any]:
        if i == 0:
            await semantic.aupdate("hello", "llm-a", [Generation(text="hi there")])
            await exact.aupdate("hello", "llm-a", [Generation(text="hi exactly")])
        return await semantic.alookup("hello", "llm-a"), await exact.alookup("hello", "llm-a")

    try:
        for found_semantic, found_exact in in_loops(step):
            assert [g.text for g in found_semantic] == ["hi there"]
            assert [g.text for g in found_exact] == ["hi exactly"]
    finally:
        semantic.core.delete_index()
        exact.clear()


def test_rag_cache_hits_in_later_loops(redis_url: str, unique_name: str) -> None:
    calls: list[str] = []

    def answer(question: str) -> dict[str, Any]:
        calls.append(question)
        return {"answer": "use shutil.copy()", "context": [Document(id="copy#0", page_content="shutil.copy")]}

    cached = CachedRAGChain(RunnableLambda(answer), embeddings=EMBED, redis_url=redis_url, name=unique_name)  # type: ignore[arg-type]
    try:
        outputs = in_loops(lambda i: cached.ainvoke("How do I copy a file?"))
        assert [o["answer"] for o in outputs] == ["use shutil.copy()"] * LOOPS
        assert calls == ["How do I copy a file?"]  # loops 2 and 3 were hits, not silent misses
    finally:
        cached.cache.delete_index()


# --- chat history -----------------------------------------------------------------------------------------------------
def test_history_store_serves_consecutive_loops_and_threads(redis_url: str, unique_name: str) -> None:
    store = ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url))

    async def step(i: int) -> list[str]:
        await store.aappend(f"s{i}", [StoredMessage(role="user", content=f"hello {i}")])
        await store.aappend("shared", [StoredMessage(role="user", content=f"m{i}")])
        return [m.content for m in await store.aread(f"s{i}")]  # type: ignore[misc]

    try:
        assert in_loops(step) == [["hello 0"], ["hello 1"], ["hello 2"]]
        assert in_threads(step) == [[f"hello {i}"] * (2 if i < LOOPS else 1) for i in range(THREADS)]
        assert store.count("shared") == LOOPS + THREADS
    finally:
        for sid in store.sessions():
            store.delete(sid)


def test_langchain_history_and_llama_index_chat_stores_serve_consecutive_loops(
    redis_url: str, unique_name: str
) -> None:
    history = RedisChatMessageHistory("lc", redis_url=redis_url, prefix=unique_name)
    chat = RedisChatStore(redis_url=redis_url, prefix=unique_name)
    achat = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)

    async def step(i: int) -> tuple[int, int, int]:
        await history.aadd_messages([HumanMessage(content=f"q{i}"), AIMessage(content=f"a{i}")])
        await chat.async_add_message("li", ChatMessage(role=MessageRole.USER, content=f"q{i}"))
        await achat.add_message("lia", ChatMessage(role=MessageRole.USER, content=f"q{i}"))
        return (
            len(await history.aget_messages()),
            len(await chat.aget_messages("li")),
            await achat.count_messages("lia"),
        )

    try:
        assert in_loops(step) == [(2, 1, 1), (4, 2, 2), (6, 3, 3)]
    finally:
        for sid in history.store.sessions():
            history.store.delete(sid)


# --- no synchronous Redis call on an event loop -----------------------------------------------------------------------
@pytest.fixture
def sync_calls_on_a_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Commands sent by a SYNCHRONOUS redis-py client while an event loop runs on the calling thread: each one
    blocks that loop for a network round trip. (The commands still reach the real Redis; this only records.)"""
    seen: list[str] = []
    for cls, name in ((redis.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
        original = getattr(cls, name)

        def spy(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            if asyncio._get_running_loop() is not None:
                seen.append(str(args[0]) if args and _name == "execute_command" else "pipeline")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)
    return seen


def test_async_paths_send_no_synchronous_command_on_the_loop(
    redis_url: str, unique_name: str, sync_calls_on_a_loop: list[str]
) -> None:
    # "localhost" names the same server under a URL no other test used: nothing about it is cached yet
    url = redis_url.replace("127.0.0.1", "localhost")
    settings = Settings(redis_url=url)
    index = RedisVectorIndex(unique_name, dims=DIMS, settings=settings)
    store = LlamaIndexStore(f"{unique_name}li", settings=settings)
    semantic = SemanticCache(EMBED, name=f"{unique_name}sc", redis_url=url)
    exact = ExactCache(name=f"{unique_name}ex", redis_url=url)
    history = ChatHistoryStore(url, prefix=unique_name)

    async def step(i: int) -> None:
        await index.aupsert(records(f"r{i}", 10))
        assert len(await index.asearch(EMBED.embed(["x"])[0], k=2)) == 2
        node = TextNode(id_=f"n{i}", text="t", embedding=EMBED.embed(["t"])[0].tolist())
        await store.async_add([node])  # opens (creates) the index on the first call
        await semantic.astore(f"q{i}", "a")
        assert await semantic.acheck(f"q{i}") is not None
        assert await exact.aset(f"q{i}", "a") and await exact.aget(f"q{i}") == "a"
        await history.aappend("s", [StoredMessage(role="user", content="m")])
        assert len(await history.aread("s")) == i + 1

    try:
        in_loops(step, 2)
        assert sync_calls_on_a_loop == []
    finally:
        index.drop()
        if store.index is not None:
            store.index.drop()
        semantic.delete_index()
        history.delete("s")
