"""End to end: a cached RAG answer is dropped when its source changes through OUR vector store or ingestion."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from langchain_core.runnables import RunnableLambda

from redis_rag_integrations import Settings, freshness
from redis_rag_integrations.ingest import Producer, Worker
from redis_rag_integrations.langchain import CachedRAGChain, RagEmbeddings, RedisVectorStore
from redis_rag_integrations.store.index import RedisVectorIndex

QUESTION = "How do I copy a file in Python?"


def rag_chain(store: RedisVectorStore, calls: list[str]) -> Any:
    retriever = store.as_retriever(search_kwargs={"k": 1})

    def answer(question: str) -> dict[str, Any]:
        calls.append(question)
        docs = retriever.invoke(question)
        return {"answer": f"Answer: {docs[0].page_content}", "context": docs}

    return RunnableLambda(answer)


def test_update_and_delete_through_the_vector_store_drop_cached_answers(
    redis_url: str, unique_name: str, local_embedder
) -> None:
    embeddings = RagEmbeddings(local_embedder)
    store = RedisVectorStore(embeddings, f"{unique_name}-kb", redis_url=redis_url)
    store.add_texts(["Use shutil.copy() to copy a file."], metadatas=[{"doc_id": "copying"}], ids=["copying#0"])
    calls: list[str] = []
    cached = CachedRAGChain(rag_chain(store, calls), embeddings=embeddings, redis_url=redis_url, name=unique_name)
    try:
        assert cached.invoke(QUESTION)["answer"] == "Answer: Use shutil.copy() to copy a file."
        cached.invoke(QUESTION)
        assert len(calls) == 1  # served from the cache

        store.add_texts(["Use shutil.copy2() to keep file metadata."], metadatas=[{"doc_id": "copying"}],
                        ids=["copying#0"])  # fmt: skip
        assert cached.invoke(QUESTION)["answer"] == "Answer: Use shutil.copy2() to keep file metadata."
        assert len(calls) == 2

        cached.invoke(QUESTION)
        assert len(calls) == 2
        store.add_texts(["Use shutil.copy2() to keep file metadata."], metadatas=[{"doc_id": "copying"}],
                        ids=["copying#0"])  # fmt: skip
        cached.invoke(QUESTION)
        assert len(calls) == 2  # an unchanged rewrite keeps the answer

        store.delete(["copying#0"])
        store.add_texts(["shutil.copyfile() copies contents only."], metadatas=[{"doc_id": "other"}], ids=["o#0"])
        assert cached.invoke(QUESTION)["answer"] == "Answer: shutil.copyfile() copies contents only."
        assert len(calls) == 3
    finally:
        cached.cache.delete_index()
        store.index.drop()


def test_streaming_ingestion_update_drops_cached_answers(redis_url: str, unique_name: str, local_embedder) -> None:
    embeddings = RagEmbeddings(local_embedder)
    index = RedisVectorIndex(f"{unique_name}-kb", dims=local_embedder.dims, settings=Settings(redis_url=redis_url))
    store = RedisVectorStore(embeddings, index=index)
    producer = Producer(index.name, client=index.client)
    producer.upsert("copying", "Use shutil.copy() to copy a file.")
    Worker(index, local_embedder).run(until_idle=True)
    calls: list[str] = []
    cached = CachedRAGChain(rag_chain(store, calls), embeddings=embeddings, redis_url=redis_url, name=unique_name)
    try:
        cached.invoke(QUESTION)
        producer.upsert("copying", "Use shutil.copy2() to keep file metadata.")
        Worker(index, local_embedder).run(until_idle=True)
        assert cached.invoke(QUESTION)["answer"] == "Answer: Use shutil.copy2() to keep file metadata."
        assert len(calls) == 2
    finally:
        cached.cache.delete_index()
        index.drop()
        index.client.delete(*index.client.scan_iter(match=f"ingest:{{{index.name}}}:*"), "-")


def racing_chain(store: RedisVectorStore, change: Any, calls: list[str]) -> Any:
    """Retrieves, then the source changes while the 'LLM' is still generating, then answers from the old text."""
    retriever = store.as_retriever(search_kwargs={"k": 1})

    def answer(question: str) -> dict[str, Any]:
        calls.append(question)
        docs = retriever.invoke(question)
        if len(calls) == 1:
            change()
        return {"answer": f"Answer: {docs[0].page_content}", "context": docs}

    return RunnableLambda(answer)


@pytest.mark.parametrize("write_path", ["new-first", "script", "client-side", "delete", "new-chunk"])
def test_a_source_changing_during_generation_is_not_cached(
    redis_url: str, unique_name: str, local_embedder, client: redis.Redis, write_path: str
) -> None:
    """The source is replaced (on each write path), deleted, or its document gains a chunk mid-generation."""
    embeddings = RagEmbeddings(local_embedder)
    store = RedisVectorStore(embeddings, f"{unique_name}-kb", redis_url=redis_url)
    if write_path in ("new-first", "script", "client-side"):
        store.index._write_path = write_path  # type: ignore[assignment]
    store.index._small_write = 1  # even one-record writes take the new-first path when it is on
    store.add_texts(["Use shutil.copy() to copy a file."], metadatas=[{"doc_id": "copying"}], ids=["copying#0"])

    def change() -> None:
        if write_path == "delete":
            store.delete(["copying#0"])
            store.add_texts(["shutil.copyfile() copies contents only."], metadatas=[{"doc_id": "o"}], ids=["o#0"])
        elif write_path == "new-chunk":  # a new record: created by HSETEX, its document invalidated after
            store.add_texts(["Or shutil.copy2() to copy a file with its metadata."],
                            metadatas=[{"doc_id": "copying"}], ids=["copying#1"])  # fmt: skip
        else:
            store.add_texts(["Use shutil.copy2() to keep metadata."], metadatas=[{"doc_id": "copying"}],
                            ids=["copying#0"])  # fmt: skip

    calls: list[str] = []
    chain = racing_chain(store, change, calls)
    cached = CachedRAGChain(chain, embeddings=embeddings, redis_url=redis_url, name=unique_name)
    try:
        assert cached.invoke(QUESTION)["answer"] == "Answer: Use shutil.copy() to copy a file."  # stale already
        assert cached.cache.stats.stale == 1 and len(cached.cache) == 0
        fresh = cached.invoke(QUESTION)["answer"]
        assert len(calls) == 2
        if write_path != "new-chunk":  # the old chunk is still there (and may still rank first) when one is added
            assert fresh != "Answer: Use shutil.copy() to copy a file."
        cached.invoke(QUESTION)
        assert len(calls) == 2  # the fresh answer is cached normally
        assert client.zcard(freshness.INFLIGHT_KEY) == 0  # every watch ended
    finally:
        cached.cache.delete_index()
        store.index.drop()


async def test_async_answers_race_the_same_way_and_failed_generations_end_their_watch(
    redis_url: str, unique_name: str, local_embedder, client: redis.Redis
) -> None:
    embeddings = RagEmbeddings(local_embedder)
    store = RedisVectorStore(embeddings, f"{unique_name}-kb", redis_url=redis_url)
    await store.aadd_texts(["Use shutil.copy() to copy a file."], metadatas=[{"doc_id": "copying"}], ids=["c#0"])
    calls: list[str] = []

    async def answer(question: str) -> dict[str, Any]:
        calls.append(question)
        docs = await store.as_retriever(search_kwargs={"k": 1}).ainvoke(question)
        if len(calls) == 1:
            await store.aadd_texts(["Use shutil.copy2()."], metadatas=[{"doc_id": "copying"}], ids=["c#0"])
        if len(calls) == 2:
            raise RuntimeError("the LLM failed")
        return {"answer": f"Answer: {docs[0].page_content}", "context": docs}

    cached = CachedRAGChain(RunnableLambda(answer), embeddings=embeddings, redis_url=redis_url, name=unique_name)
    try:
        await cached.ainvoke(QUESTION)
        assert cached.cache.stats.stale == 1 and len(cached.cache) == 0
        with pytest.raises(RuntimeError, match="LLM failed"):
            await cached.ainvoke(QUESTION)
        assert client.zcard(freshness.INFLIGHT_KEY) == 0
        assert (await cached.ainvoke(QUESTION))["answer"] == "Answer: Use shutil.copy2()."
        await cached.ainvoke(QUESTION)
        assert len(calls) == 3
    finally:
        cached.cache.delete_index()
        store.index.drop()


def test_without_answers_in_flight_ingestion_writes_no_change_stamps(
    redis_url: str, unique_name: str, local_embedder, client: redis.Redis
) -> None:
    store = RedisVectorStore(RagEmbeddings(local_embedder), f"{unique_name}-kb", redis_url=redis_url)
    try:
        assert client.zcard(freshness.INFLIGHT_KEY) == 0
        store.add_texts(["one"], ids=[f"{unique_name}-a"])
        store.add_texts(["two"], ids=[f"{unique_name}-a"])
        store.delete([f"{unique_name}-a"])
        assert client.exists(freshness.changed_key(f"{unique_name}-a")) == 0
    finally:
        store.index.drop()
