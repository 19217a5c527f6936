"""RAG middleware + semantic cache middleware: the cache lookup rides in the retrieval's round trip (rag_turn).

Round trips are counted the way ``benchmarks/bench_agents.py`` counts them (every command or pipeline redis-py
sends; the sending itself is untouched) and the commands the server ran through ``INFO commandstats``. Beside the
counts: the answers and the cache statistics are those of the one-after-the-other path, and a lookup sent ahead
for a request that a middleware in between then changed is never used (a turn whose earlier messages differ must
not hit).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio.connection
from fakes import HashEmbedder
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, HumanMessage
from redis.connection import AbstractConnection

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.middleware import RAG_KEY, RedisRAGMiddleware
from redis_rag_integrations.langchain.rag_turn import UNUSED_LIMIT

from .conftest import ToolFakeChatModel

DOCS = {
    "files": ("Use a with statement to close files automatically.", "faq/files.md"),
    "sort": ("list.sort() sorts a list in place; sorted() returns a new list.", "faq/sorting.md"),
    "gil": ("The global interpreter lock lets one thread run Python bytecode at a time.", "faq/threads.md"),
}
QUESTION = "How do I close a file?"


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def store(redis_url: str, unique_name: str, embedder: HashEmbedder) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(RagEmbeddings(embedder), unique_name, redis_url=redis_url)
    vs.add_texts([t for t, _ in DOCS.values()], metadatas=[{"source": s} for _, s in DOCS.values()], ids=list(DOCS))
    yield vs
    vs.index.drop()


@pytest.fixture
def make_cache(redis_url: str, unique_name: str, embedder: HashEmbedder) -> Iterator[Callable[..., Any]]:
    made: list[SemanticCacheMiddleware] = []

    def factory(**kwargs: Any) -> SemanticCacheMiddleware:
        kwargs.setdefault("redis_url", redis_url)
        cache = SemanticCacheMiddleware(embeddings=embedder, name=f"{unique_name}c{len(made)}", **kwargs)
        made.append(cache)
        return cache

    yield factory
    for cache in made:
        cache.core.delete_index()


class Sent:
    """Counts sends (one per command or pipeline: one per round trip), sync and asyncio connections, while
    :attr:`on`, made by the thread that created it: the caller's critical path, not the cache's write-behind
    worker (whose writes the tests check after ``flush()``, through the server's command counts)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.on = True
        caller = threading.get_ident()
        sync_send = AbstractConnection.send_packed_command
        async_send = redis.asyncio.connection.AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> Any:
            self.count += self.on and threading.get_ident() == caller
            return sync_send(connection, command, check_health)

        async def acounted(connection: Any, command: Any, check_health: bool = True) -> Any:
            self.count += self.on and threading.get_ident() == caller
            return await async_send(connection, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "send_packed_command", acounted)


def counted(sent: Sent, call: Callable[[], Any]) -> tuple[Any, int]:
    """``call()`` and the round trips it made."""
    sent.on, sent.count = True, 0
    try:
        return call(), sent.count
    finally:
        sent.on = False


def commands(url: str) -> dict[str, int]:
    stats = redis.Redis.from_url(url).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def delta(url: str, before: dict[str, int]) -> dict[str, int]:
    after = commands(url)
    out = {name: n - before.get(name, 0) for name, n in after.items()}
    return {name: n for name, n in out.items() if n and name not in ("info", "client|setinfo", "hello")}


def answer(text: str) -> ToolFakeChatModel:
    return ToolFakeChatModel(messages=iter([AIMessage(text)]))


def ask(agent: Any, question: str = QUESTION) -> Any:
    return agent.invoke({"messages": [{"role": "user", "content": question}]})["messages"]


def make_agent(store: RedisVectorStore, cache: SemanticCacheMiddleware, *extra: AgentMiddleware) -> Any:
    """An agent whose model answers from a list set per call (``agent.model_answers``)."""
    model = ToolFakeChatModel(messages=iter([]))
    rag = RedisRAGMiddleware(store, k=2)
    agent = create_agent(model, system_prompt="Answer.", middleware=[rag, *extra, cache])
    agent.fake = model  # type: ignore[attr-defined]
    agent.fake_rag = rag  # type: ignore[attr-defined]
    return agent


def script(agent: Any, *answers: str) -> ToolFakeChatModel:
    model: ToolFakeChatModel = agent.fake
    model.messages = iter([AIMessage(a) for a in answers])
    model.calls = []
    return model


def inflight(cache: SemanticCacheMiddleware, url: str) -> int:
    """Watch tokens in flight in the cache's namespace (every one taken must be ended)."""
    return int(redis.Redis.from_url(url).zcard(cache.core._fresh.inflight))


def test_a_hit_and_a_miss_are_one_round_trip_each_and_the_write_follows(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = make_cache()
    agent = make_agent(store, cache)
    script(agent, "Use with.")
    ask(agent)  # a miss; the cache middleware now follows this RAG middleware
    assert cache.core.flush(10)
    sent = Sent(monkeypatch)
    sent.on = False
    before, stats = commands(redis_url), cache.stats.snapshot()
    model = script(agent)
    messages, trips = counted(sent, lambda: ask(agent, QUESTION))
    assert model.calls == [] and messages[-1].content == "Use with."
    assert messages[-1].response_metadata["cache_hit"]
    assert trips == 1  # watch + lookup + KNN + BM25 in one pipeline
    ran = delta(redis_url, before)
    assert ran["FT.SEARCH"] == 3 and "hset" not in ran and "multi" not in ran  # a hit writes nothing
    # its watch is kept to be ended by the next watch sent (no command of its own)
    assert "zrem" not in ran and inflight(cache, redis_url) == 1 and cache.core._writes.unfinished == 0
    now = cache.stats.snapshot()
    assert (now["lookups"] - stats["lookups"], now["hits"] - stats["hits"]) == (1, 1)

    before = commands(redis_url)
    model = script(agent, "The GIL.")
    messages, trips = counted(sent, lambda: ask(agent, "What is the global interpreter lock?"))
    assert messages[-1].content == "The GIL." and len(model.calls) == 1
    assert "[1]" in model.calls[0][0].content  # the retrieved context reached the model
    # the pipeline (the watch of the answer's sources, lookup, KNN, BM25); the store (one MULTI) written behind
    assert trips == 1
    assert cache.core.flush(10)
    ran = delta(redis_url, before)
    assert ran["FT.SEARCH"] == 3 and ran["multi"] == ran["exec"] == 1 and ran["hset"] == 1
    # the hit's watch was ended by this call's watch, this call's by its store (in the MULTI)
    assert inflight(cache, redis_url) == 0
    later = cache.stats.snapshot()
    assert (later["lookups"] - now["lookups"], later["hits"] - now["hits"], later["stores"] - now["stores"]) == (
        1,
        0,
        1,
    )
    model = script(agent)
    assert ask(agent, "What is the global interpreter lock?")[-1].content == "The GIL." and model.calls == []


def test_without_write_behind_a_miss_is_three_round_trips(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = make_cache(write_behind=False)
    agent = make_agent(store, cache)
    script(agent, "Use with.")
    ask(agent)
    sent = Sent(monkeypatch)
    model = script(agent)
    messages, trips = counted(sent, lambda: ask(agent, QUESTION))
    assert messages[-1].response_metadata["cache_hit"] and model.calls == [] and trips == 1
    before = commands(redis_url)
    script(agent, "The GIL.")
    messages, trips = counted(sent, lambda: ask(agent, "What is the global interpreter lock?"))
    assert trips == 3  # the pipeline, the watch (the answer has sources), the store (one MULTI)
    ran = delta(redis_url, before)
    assert ran["multi"] == ran["exec"] == 1 and ran["hset"] == 1 and cache.stats.stores == 2
    assert inflight(cache, redis_url) == 0


class ChangesTheDocument(AgentMiddleware):
    """Between the two middlewares: a source document changes through the vector store after the retrieval read
    it and before the cache middleware runs (another process' ingestion, in the real world)."""

    def __init__(self, store: RedisVectorStore) -> None:
        super().__init__()
        self.store = store
        self.armed = False
        self.changed: list[str] = []

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        if self.armed:  # the first passage the retrieval found, rewritten
            used = request.system_message.additional_kwargs[RAG_KEY]["sources"]  # type: ignore[union-attr]
            doc = next(s["id"] for s in used if s["id"] in DOCS)
            text, source = DOCS[doc]
            self.store.add_texts([text + " (changed)"], metadatas=[{"source": source}], ids=[doc])
            self.changed.append(doc)
        return handler(request)


def test_a_document_changed_after_retrieval_drops_the_answer(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str
) -> None:
    cache = make_cache()
    changer = ChangesTheDocument(store)
    agent = make_agent(store, cache, changer)
    script(agent, "Warm-up.")
    ask(agent, "warm-up question")  # the cache middleware now follows the RAG middleware
    question = "What is the global interpreter lock?"
    changer.armed = True
    script(agent, "The GIL: one thread at a time.")
    ask(agent, question)  # retrieved the old text; the document changed before the answer was stored
    assert cache.core.flush(10)
    assert changer.changed and cache.stats.stale == 1  # the watch predates the retrieval: the change stamped it
    changer.armed = False
    model = script(agent, "The GIL, answered again.")
    assert ask(agent, question)[-1].content == "The GIL, answered again." and len(model.calls) == 1
    assert cache.core.flush(10) and inflight(cache, redis_url) == 0


def test_async_agent_shares_the_round_trip(
    store: RedisVectorStore, make_cache: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = make_cache()
    agent = make_agent(store, cache)

    async def main() -> tuple[list[Any], int]:
        script(agent, "Use with.")
        await agent.ainvoke({"messages": [{"role": "user", "content": QUESTION}]})
        await agent.ainvoke({"messages": [{"role": "user", "content": QUESTION}]})  # warm: clients, follower
        assert await cache.core.aflush(10)
        sent = Sent(monkeypatch)
        script(agent)
        out = await agent.ainvoke({"messages": [{"role": "user", "content": QUESTION}]})
        return out["messages"], sent.count

    messages, count = asyncio.run(main())
    assert messages[-1].content == "Use with." and messages[-1].response_metadata["cache_hit"]
    assert count == 1


class EarlierContext(AgentMiddleware):
    """Between the two middlewares: puts an earlier exchange before the question (the model sees other messages
    than the ones the RAG middleware saw)."""

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        earlier = [HumanMessage("Let's talk about Rust."), AIMessage("Sure.")]
        return handler(request.override(messages=[*earlier, *request.messages]))


def test_a_lookup_made_for_other_messages_is_never_used(
    store: RedisVectorStore, make_cache: Callable[..., Any]
) -> None:
    cache = make_cache()
    plain = make_agent(store, cache)
    script(plain, "Python: use with.")
    ask(plain)  # cached for the plain thread
    changed = make_agent(store, cache, EarlierContext())
    script(changed, "Rust: files close when dropped.")
    assert ask(changed)[-1].content == "Rust: files close when dropped."  # a miss: other earlier messages
    # now the RAG middleware of `changed` sends the lookup ahead, keyed on the messages it sees, which would hit
    # the plain thread's answer; the cache middleware sees the changed messages and looks up on its own
    for _ in range(UNUSED_LIMIT + 1):
        model = script(changed)
        lookups = cache.stats.snapshot()["lookups"]
        messages = ask(changed)
        assert model.calls == [] and messages[-1].content == "Rust: files close when dropped."
        assert cache.stats.snapshot()["lookups"] == lookups + 1  # the unused one is not counted
    model = script(plain)
    assert ask(plain)[-1].content == "Python: use with." and model.calls == []


def test_a_cache_index_dropped_behind_its_back_is_a_miss_and_the_answer_still_comes(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str
) -> None:
    cache = make_cache()
    agent = make_agent(store, cache)
    script(agent, "Use with.")
    ask(agent)
    redis.Redis.from_url(redis_url).execute_command("FT.DROPINDEX", cache.core.name)
    model = script(agent, "Use with, again.")
    assert ask(agent)[-1].content == "Use with, again." and len(model.calls) == 1
    assert "[1]" in model.calls[0][0].content  # retrieval was not affected by the cache's failed lookup
    assert cache.stats.snapshot()["errors"] >= 1
    # the watch taken in the pipeline beside the failed lookup is ended, though the store is skipped (Redis is
    # marked down for the cache after the fault)
    assert cache.core.flush(10) and inflight(cache, redis_url) == 0


def test_other_clients_fall_back_to_one_command_after_the_other(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # other client settings: another client object, so nothing is pipelined across them
    cache = make_cache(settings=Settings(redis_url=redis_url, socket_timeout=7.5))
    agent = make_agent(store, cache)
    script(agent, "Use with.")
    ask(agent)
    ask(agent)
    sent = Sent(monkeypatch)
    model = script(agent)
    messages, trips = counted(sent, lambda: ask(agent))
    assert messages[-1].content == "Use with." and model.calls == []
    assert trips == 2  # retrieval, then the lookup
    rag = agent.fake_rag  # type: ignore[attr-defined]
    assert rag.followers == () and rag.solo == (cache,)  # asked once, then never again
    lookups = cache.stats.snapshot()["lookups"]
    for _ in range(3):
        ask(agent)
    assert cache.stats.snapshot()["lookups"] == lookups + 3 and rag.followers == ()


def test_a_rag_middleware_shared_with_a_cacheless_agent_stops_asking(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str
) -> None:
    cache = make_cache()
    rag = RedisRAGMiddleware(store, k=2)
    cached = create_agent(answer("Use with."), middleware=[rag, cache])
    bare = create_agent(ToolFakeChatModel(messages=iter([AIMessage(f"bare {i}") for i in range(20)])), middleware=[rag])
    ask(cached)
    assert rag.followers == (cache,)
    lookups = cache.stats.snapshot()["lookups"]
    for _ in range(UNUSED_LIMIT):
        ask(bare)
    assert rag.followers == ()  # its lookups went unused UNUSED_LIMIT times in a row
    assert cache.stats.snapshot()["lookups"] == lookups  # and none of them was counted


def test_a_similarity_retriever_asks_for_no_lookup(
    store: RedisVectorStore, make_cache: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = make_cache()
    rag = RedisRAGMiddleware(store, k=2, search_type="similarity")  # only the hybrid search carries lookups
    agent = create_agent(answer("Use with."), system_prompt="Answer.", middleware=[rag, cache])
    ask(agent)
    sent = Sent(monkeypatch)
    lookups = cache.stats.snapshot()["lookups"]
    messages, trips = counted(sent, lambda: ask(agent))
    assert messages[-1].content == "Use with." and messages[-1].response_metadata["cache_hit"]
    assert trips == 2 and cache.stats.snapshot()["lookups"] == lookups + 1


@pytest.mark.parametrize("write_behind", [True, False])
def test_an_answer_that_is_not_cached_ends_its_watch(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str, write_behind: bool
) -> None:
    cache = make_cache(write_behind=write_behind)
    agent = make_agent(store, cache)
    script(agent, "Use with.")
    ask(agent)  # the cache middleware now follows: its next watch rides in the retrieval's pipeline
    assert cache.core.flush(10)
    broken = AIMessage(
        "", invalid_tool_calls=[{"name": "x", "args": "{", "id": "1", "error": "bad json", "type": "invalid_tool_call"}]
    )
    agent.fake.messages = iter([broken])  # type: ignore[attr-defined]
    stores = cache.stats.snapshot()["stores"]
    ask(agent, "What is the global interpreter lock?")
    assert cache.core.flush(10)
    assert inflight(cache, redis_url) == 0 and cache.stats.snapshot()["stores"] == stores


class Broken(AgentMiddleware):
    """After the cache middleware: the model call fails."""

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        raise RuntimeError("the model is down")

    async def awrap_model_call(self, request: ModelRequest, handler: Any) -> Any:
        raise RuntimeError("the model is down")


@pytest.mark.parametrize("write_behind", [True, False])
def test_a_failed_model_call_ends_its_watch(
    store: RedisVectorStore, make_cache: Callable[..., Any], redis_url: str, write_behind: bool
) -> None:
    cache = make_cache(write_behind=write_behind)
    rag = RedisRAGMiddleware(store, k=2)
    working = create_agent(answer("Use with."), system_prompt="Answer.", middleware=[rag, cache])
    ask(working)  # the cache middleware now follows the RAG middleware: its watch rides in the pipeline
    broken = create_agent(answer("never"), system_prompt="Answer.", middleware=[rag, cache, Broken()])
    with pytest.raises(RuntimeError, match="the model is down"):
        ask(broken, "What is the global interpreter lock?")
    with pytest.raises(RuntimeError, match="the model is down"):
        asyncio.run(broken.ainvoke({"messages": [{"role": "user", "content": "Why is the GIL there?"}]}))
    assert cache.core.flush(10) and inflight(cache, redis_url) == 0
