"""Question-level RAG caches: a hit skips retrieval and generation; changing a source document drops the answer."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda
from llama_index.core.base.response.schema import Response
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode

from redis_rag_integrations.freshness import invalidate_documents
from redis_rag_integrations.langchain import CachedRAGChain, RagEmbeddings
from redis_rag_integrations.llama_index import CachedQueryEngine, RagEmbedding

QUESTION = "How do I copy a file in Python?"
PARAPHRASE = "How can I copy a file in Python?"


def make_chain(client, prefix: str, calls: list[str]):
    """A retrieve-then-answer chain whose 'knowledge base' is a Redis hash per document."""

    def retrieve(question: str) -> list[Document]:
        calls.append(question)
        text = client.hget(f"{prefix}:doc:copy", "text").decode()
        return [Document(id="copy#0", page_content=text, metadata={"doc_id": "copy"})]

    def answer(inputs: dict[str, Any]) -> dict[str, Any]:
        return {"answer": f"Answer: {inputs['context'][0].page_content}", "context": inputs["context"]}

    return RunnableLambda(lambda q: {"question": q, "context": retrieve(q)}) | RunnableLambda(answer)


def test_rag_chain_hit_skips_retrieval_and_fresh_answer_after_document_change(
    redis_url, client, unique_name, local_embedder
) -> None:
    client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy()")
    calls: list[str] = []
    cached = CachedRAGChain(
        make_chain(client, unique_name, calls),
        embeddings=RagEmbeddings(local_embedder),
        redis_url=redis_url,
        name=unique_name,
        distance_threshold=0.2,
    )
    try:
        first = cached.invoke(QUESTION)
        again = cached.invoke(PARAPHRASE)
        assert again == first and first["answer"] == "Answer: use shutil.copy()" and len(calls) == 1
        assert isinstance(again["context"][0], Document)
        client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy2() to keep metadata")
        assert invalidate_documents(client, ["copy"]) == 1  # what the vector store does on update
        fresh = cached.invoke(QUESTION)
        assert fresh["answer"] == "Answer: use shutil.copy2() to keep metadata" and len(calls) == 2
    finally:
        cached.cache.delete_index()


async def test_rag_chain_async_and_tenant_scope(redis_url, client, unique_name, local_embedder) -> None:
    client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy()")
    calls: list[str] = []
    cached = CachedRAGChain(
        make_chain(client, unique_name, calls),
        embeddings=RagEmbeddings(local_embedder),
        redis_url=redis_url,
        name=unique_name,
    )
    try:
        await cached.ainvoke(QUESTION, {"configurable": {"cache_scope": "acme"}})
        await cached.ainvoke(QUESTION, {"configurable": {"cache_scope": "acme"}})
        assert len(calls) == 1
        await cached.ainvoke(QUESTION, {"configurable": {"cache_scope": "globex"}})
        assert len(calls) == 2
        assert cached.cache.check(QUESTION, llm=cached.llm_scope, scope="acme").sources[0].id == "copy#0"
    finally:
        cached.cache.delete_index()


class RedisBackedEngine(CustomQueryEngine):
    """A query engine that answers from a Redis hash and reports it as its source node."""

    client: Any
    prefix: str
    # A count of calls, not configuration: a private attribute, since an engine's fields are part of its cache
    # identity (a field that changed at each query would make every query another engine's).
    _calls: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        return self._calls

    def custom_query(self, query_str: str) -> Response:
        self._calls += 1
        text = self.client.hget(f"{self.prefix}:doc:copy", "text").decode()
        node = TextNode(id_="copy#0", text=text)
        node.relationships = {}
        return Response(response=f"Answer: {text}", source_nodes=[NodeWithScore(node=node, score=0.9)])


def test_query_engine_hit_keeps_sources_and_invalidation_gives_a_fresh_answer(
    redis_url, client, unique_name, local_embedder
) -> None:
    client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy()")
    engine = RedisBackedEngine(client=client, prefix=unique_name)
    cached = CachedQueryEngine(
        engine, embed_model=RagEmbedding(local_embedder), redis_url=redis_url, name=unique_name, distance_threshold=0.2
    )
    try:
        first = cached.query(QUESTION)
        again = cached.query(PARAPHRASE)
        assert str(again) == str(first) and engine.calls == 1
        assert again.metadata["cache_hit"] is True
        assert again.source_nodes[0].node.node_id == "copy#0" and again.source_nodes[0].score == 0.9
        client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy2()")
        invalidate_documents(client, ["copy#0"])
        assert str(cached.query(QUESTION)) == "Answer: use shutil.copy2()" and engine.calls == 2
    finally:
        cached.cache.delete_index()


async def test_query_engine_async_hit(redis_url, client, unique_name, local_embedder) -> None:
    client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy()")
    engine = RedisBackedEngine(client=client, prefix=unique_name)
    cached = CachedQueryEngine(engine, embed_model=RagEmbedding(local_embedder), redis_url=redis_url, name=unique_name)
    try:
        await cached.aquery(QUESTION)
        assert (await cached.aquery(QUESTION)).metadata["cache_hit"] is True and engine.calls == 1
    finally:
        cached.cache.delete_index()


class RacingEngine(RedisBackedEngine):
    """Reads its source, which then changes (through the freshness contract) before the answer is returned."""

    def custom_query(self, query_str: str) -> Response:
        response = super().custom_query(query_str)
        if self.calls == 1:
            self.client.hset(f"{self.prefix}:doc:copy", "text", "use shutil.copy2()")
            invalidate_documents(self.client, ["copy#0"])
        return response


async def test_query_engine_does_not_keep_an_answer_whose_source_changed_while_it_was_generated(
    redis_url, client, unique_name, local_embedder
) -> None:
    client.hset(f"{unique_name}:doc:copy", "text", "use shutil.copy()")
    engine = RacingEngine(client=client, prefix=unique_name)
    cached = CachedQueryEngine(engine, embed_model=RagEmbedding(local_embedder), redis_url=redis_url, name=unique_name)
    try:
        assert str(cached.query(QUESTION)) == "Answer: use shutil.copy()"
        assert cached.cache.stats.stale == 1 and len(cached.cache) == 0
        assert str(await cached.aquery(QUESTION)) == "Answer: use shutil.copy2()" and engine.calls == 2
        assert (await cached.aquery(QUESTION)).metadata["cache_hit"] is True and engine.calls == 2
    finally:
        cached.cache.delete_index()
