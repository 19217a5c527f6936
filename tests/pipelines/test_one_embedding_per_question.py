"""One model call per question: cache lookup, retrieval and cache store share one query embedding, and a repeated
question (a cache hit) costs no model call at all (the exact query-vector cache in Redis).

Counted at the core embedder: a counting wrapper around the real all-MiniLM-L6-v2 (:class:`CountingEmbedder`),
behind the package's public wrappers; Redis is the test server, never mocked. Each path: LangChain
``CachedRAGChain`` over an LCEL chain on our retriever, LlamaIndex ``CachedQueryEngine`` over a retriever query
engine on our store, the agent middleware pair, and the demo's own chain builders; sync and async.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import TextNode

from redis_rag_integrations.demo import langchain_rag, llama_index_rag
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.langchain import CachedRAGChain, RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.middleware import RedisRAGMiddleware
from redis_rag_integrations.llama_index import CachedQueryEngine, RagEmbedding
from redis_rag_integrations.llama_index import RedisVectorStore as LlamaStore
from redis_rag_integrations.query_embedder import QueryEmbedder
from redis_rag_integrations.query_vector_cache import QueryVectorCache

DOCS = {
    "files": ("Use a with statement to close files automatically.", "faq/files.md"),
    "sort": ("list.sort() sorts a list in place; sorted() returns a new list.", "faq/sorting.md"),
    "gil": ("The global interpreter lock lets one thread run Python bytecode at a time.", "faq/threads.md"),
}
QUESTION = "How do I make sure a file gets closed?"


class CountingEmbedder:
    """The real embedder, with every model call counted (sync and async)."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.calls = 0

    @property
    def dims(self) -> int:
        return self.inner.dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return self.inner.embed(texts)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return await self.inner.aembed(texts)


@pytest.fixture
def counting(local_embedder: LocalEmbedder) -> CountingEmbedder:
    return CountingEmbedder(local_embedder)


@pytest.fixture
def embedder(counting: CountingEmbedder, redis_url: str, unique_name: str) -> Iterator[QueryEmbedder]:
    """What applications get by default: the model behind the exact query-vector cache (a fresh namespace)."""
    cache = QueryVectorCache(redis_url=redis_url, namespace=unique_name)
    yield QueryEmbedder(counting, cache=cache)
    cache.clear()


@pytest.fixture
def lc_store(embedder: QueryEmbedder, redis_url: str, unique_name: str) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(RagEmbeddings(embedder), f"{unique_name}lc", redis_url=redis_url)
    vs.add_texts([t for t, _ in DOCS.values()], metadatas=[{"source": s} for _, s in DOCS.values()], ids=list(DOCS))
    yield vs
    vs.index.drop()


@pytest.fixture
def li_index(embedder: QueryEmbedder, redis_url: str, unique_name: str) -> Iterator[VectorStoreIndex]:
    store = LlamaStore(f"{unique_name}li", redis_url=redis_url)
    index = VectorStoreIndex.from_vector_store(store, embed_model=RagEmbedding(embedder))
    index.insert_nodes([TextNode(id_=k, text=t, metadata={"source": s}) for k, (t, s) in DOCS.items()])
    yield index
    if store.index is not None:
        store.index.drop()


def lcel_chain(retriever: Any) -> Any:
    answer = RunnableLambda(lambda inputs: f"Answer from {len(inputs['context'])} passages")
    return (
        RunnablePassthrough.assign(context=itemgetter("question") | retriever)
        .assign(answer=answer)
        .pick(["answer", "context"])
    )


@contextlib.contextmanager
def dropped(cache: Any) -> Iterator[None]:
    try:
        yield
    finally:
        cache.delete_index()


def test_cached_rag_chain_embeds_a_question_once_and_a_repeat_never(
    lc_store: RedisVectorStore, counting: CountingEmbedder, redis_url: str, unique_name: str
) -> None:
    rag = CachedRAGChain(
        lcel_chain(lc_store.as_retriever(search_kwargs={"k": 2})),
        embeddings=lc_store.embeddings, redis_url=redis_url, name=f"{unique_name}c",
    )  # fmt: skip
    with dropped(rag.cache):
        counting.calls = 0
        first = rag.invoke({"question": QUESTION})
        assert counting.calls == 1 and rag.cache.stats.stores == 1  # lookup, retrieval and store: one model call
        assert first["context"][0].id == "files"
        assert rag.invoke({"question": QUESTION}) == first and rag.cache.stats.hits == 1
        assert counting.calls == 1  # the repeat: its vector comes from Redis, the answer from the cache


async def test_cached_rag_chain_async_embeds_a_question_once_and_a_repeat_never(
    lc_store: RedisVectorStore, counting: CountingEmbedder, redis_url: str, unique_name: str
) -> None:
    rag = CachedRAGChain(
        lcel_chain(lc_store.as_retriever(search_type="hybrid", search_kwargs={"k": 2})),
        embeddings=lc_store.embeddings, redis_url=redis_url, name=f"{unique_name}c",
    )  # fmt: skip
    with dropped(rag.cache):
        counting.calls = 0
        first = await rag.ainvoke({"question": QUESTION})
        assert counting.calls == 1 and first["context"][0].id == "files"
        assert await rag.ainvoke({"question": QUESTION}) == first and counting.calls == 1


def test_cached_query_engine_embeds_a_question_once_and_a_repeat_never(
    li_index: VectorStoreIndex, embedder: QueryEmbedder, counting: CountingEmbedder, redis_url: str, unique_name: str
) -> None:
    engine = li_index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
    cached = CachedQueryEngine(engine, embed_model=RagEmbedding(embedder), redis_url=redis_url, name=f"{unique_name}c")
    with dropped(cached.cache):
        counting.calls = 0
        first = cached.query(QUESTION)
        assert counting.calls == 1 and first.source_nodes[0].node.node_id == "files"
        again = cached.query(QUESTION)
        assert again.metadata["cache_hit"] is True and counting.calls == 1


async def test_cached_query_engine_async_embeds_a_question_once_and_a_repeat_never(
    li_index: VectorStoreIndex, embedder: QueryEmbedder, counting: CountingEmbedder, redis_url: str, unique_name: str
) -> None:
    engine = li_index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
    cached = CachedQueryEngine(engine, embed_model=RagEmbedding(embedder), redis_url=redis_url, name=f"{unique_name}c")
    with dropped(cached.cache):
        counting.calls = 0
        first = await cached.aquery(QUESTION)
        assert counting.calls == 1 and first.source_nodes[0].node.node_id == "files"
        assert (await cached.aquery(QUESTION)).metadata["cache_hit"] is True and counting.calls == 1


class _Model(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> _Model:
        return self


def _agent(store: RedisVectorStore, cache: SemanticCacheMiddleware) -> Any:
    model = _Model(messages=iter([AIMessage("Use with [1].")]))
    return create_agent(
        model, system_prompt="You answer Python questions.", middleware=[RedisRAGMiddleware(store), cache]
    )


def test_agent_middleware_pair_embeds_a_question_once_and_a_repeat_never(
    lc_store: RedisVectorStore, embedder: QueryEmbedder, counting: CountingEmbedder, redis_url: str, unique_name: str
) -> None:
    cache = SemanticCacheMiddleware(embeddings=embedder, name=f"{unique_name}c", redis_url=redis_url)
    with dropped(cache.core):
        counting.calls = 0
        ask = {"messages": [{"role": "user", "content": QUESTION}]}
        assert _agent(lc_store, cache).invoke(ask)["messages"][-1].content == "Use with [1]."
        assert cache.core.flush(10)  # the store is written behind; its outcome counted once written
        assert counting.calls == 1 and cache.stats.stores == 1
        assert _agent(lc_store, cache).invoke(ask)["messages"][-1].content == "Use with [1]."
        assert cache.stats.hits == 1 and counting.calls == 1


async def test_agent_middleware_pair_async_embeds_a_question_once_and_a_repeat_never(
    lc_store: RedisVectorStore, embedder: QueryEmbedder, counting: CountingEmbedder, redis_url: str, unique_name: str
) -> None:
    cache = SemanticCacheMiddleware(embeddings=embedder, name=f"{unique_name}c", redis_url=redis_url)
    with dropped(cache.core):
        counting.calls = 0
        ask = {"messages": [{"role": "user", "content": QUESTION}]}
        assert (await _agent(lc_store, cache).ainvoke(ask))["messages"][-1].content == "Use with [1]."
        assert counting.calls == 1
        await _agent(lc_store, cache).ainvoke(ask)
        assert cache.stats.hits == 1 and counting.calls == 1


def test_demo_chains_embed_a_question_once_and_a_repeat_never(
    lc_store: RedisVectorStore,
    li_index: VectorStoreIndex,
    embedder: QueryEmbedder,
    counting: CountingEmbedder,
    redis_url: str,
    unique_name: str,
) -> None:
    """The demo's builders (LCEL chain on the hybrid retriever, the LlamaIndex engine), sharing one cache."""
    model = _Model(messages=iter(["Use a with statement."]))
    retriever = lc_store.as_retriever(search_type="hybrid", search_kwargs={"k": 2})
    rag = CachedRAGChain(
        langchain_rag.answer_and_sources(langchain_rag.rag_chain(retriever, model)),
        embeddings=lc_store.embeddings, redis_url=redis_url, name=f"{unique_name}c", chain_id="demo-langchain",
    )  # fmt: skip
    with dropped(rag.cache):
        counting.calls = 0
        assert rag.invoke({"question": QUESTION})["answer"] == "Use a with statement." and counting.calls == 1
        rag.invoke({"question": QUESTION})
        assert rag.cache.stats.hits == 1 and counting.calls == 1
        engine, _ = llama_index_rag.query_engine(
            li_index, MockLLM(), k=2, embed_model=RagEmbedding(embedder), cache=rag.cache, engine_id="demo-li"
        )
        other = "What does the global interpreter lock do?"
        assert engine.query(other).source_nodes[0].node.node_id == "gil" and counting.calls == 2
        assert engine.query(other).metadata["cache_hit"] is True and counting.calls == 2


async def test_two_embedder_objects_share_the_query_vector_cache(
    counting: CountingEmbedder, local_embedder: LocalEmbedder, redis_url: str, unique_name: str
) -> None:
    """A fresh process builds a fresh embedder: the vector cached by another one is found in Redis, exactly."""
    other_counting = CountingEmbedder(local_embedder)
    cache = QueryVectorCache(redis_url=redis_url, namespace=unique_name)
    try:
        first, second = QueryEmbedder(counting, cache=cache), QueryEmbedder(other_counting, cache=QueryVectorCache(
            redis_url=redis_url, namespace=unique_name))  # fmt: skip
        vector = first.embed([QUESTION])[0]
        assert counting.calls == 1
        again = second.embed([QUESTION])[0]
        assert other_counting.calls == 0 and np.array_equal(again, vector) and again.dtype == np.float32
        assert np.array_equal((await second.aembed([QUESTION]))[0], vector) and other_counting.calls == 0
        other = (await second.aembed(["Another question?"]))[0]
        assert other_counting.calls == 1 and np.array_equal(other, local_embedder.embed(["Another question?"])[0])
    finally:
        cache.clear()
