"""RAG for agents: RedisRAGMiddleware (context with sources in the system prompt), the retriever tool, and the
semantic cache behind the middleware (paraphrases hit; a changed source document drops the answer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage

from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.middleware import RedisRAGMiddleware, retriever_tool

from .conftest import ToolFakeChatModel

DOCS = {
    "files": ("Use a with statement to close files automatically.", "faq/files.md"),
    "sort": ("list.sort() sorts a list in place; sorted() returns a new list.", "faq/sorting.md"),
    "gil": ("The global interpreter lock lets one thread run Python bytecode at a time.", "faq/threads.md"),
}


@pytest.fixture
def store(redis_url: str, unique_name: str, local_embedder) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(RagEmbeddings(local_embedder), unique_name, redis_url=redis_url)
    vs.add_texts([t for t, _ in DOCS.values()], metadatas=[{"source": s} for _, s in DOCS.values()], ids=list(DOCS))
    yield vs
    vs.index.drop()


def test_context_with_sources_in_system_prompt(store: RedisVectorStore) -> None:
    model = ToolFakeChatModel(messages=iter([AIMessage("Use `with` [1].")]))
    agent = create_agent(
        model, system_prompt="You answer Python questions.", middleware=[RedisRAGMiddleware(store, k=2)]
    )
    agent.invoke({"messages": [{"role": "user", "content": "How do I make sure a file gets closed?"}]})
    system = model.calls[0][0]
    assert system.type == "system" and system.text.startswith("You answer Python questions.")
    assert "[1] (source: faq/files.md)\nUse a with statement" in system.text
    assert "[3]" not in system.text  # k=2
    assert system.additional_kwargs["redis_rag"]["base_prompt"] == "You answer Python questions."


def test_retriever_tool_in_an_agentic_loop(store: RedisVectorStore) -> None:
    search = retriever_tool(store, k=1)
    call = AIMessage("", tool_calls=[{"name": search.name, "args": {"query": "sorting a list"}, "id": "c1"}])
    model = ToolFakeChatModel(messages=iter([call, AIMessage("sorted() [1]")]))
    messages = create_agent(model, tools=[search]).invoke({"messages": [{"role": "user", "content": "sort?"}]})[
        "messages"
    ]
    result = messages[2]
    assert result.type == "tool" and result.content.startswith("[1] (source: faq/sorting.md)")
    assert [d.id for d in result.artifact] == ["sort"]


def test_cache_behind_rag_hits_paraphrases_and_forgets_changed_sources(
    store: RedisVectorStore, local_embedder, redis_url: str, unique_name: str
) -> None:
    cache = SemanticCacheMiddleware(embeddings=local_embedder, name=f"{unique_name}c", redis_url=redis_url)
    try:

        def ask(model: ToolFakeChatModel, question: str) -> str:
            middleware = [RedisRAGMiddleware(store, k=1), cache]
            agent = create_agent(model, system_prompt="You answer Python questions.", middleware=middleware)
            return agent.invoke({"messages": [{"role": "user", "content": question}]})["messages"][-1].content

        assert ask(ToolFakeChatModel(messages=iter([AIMessage("Use with.")])), "How do I close a file?") == "Use with."
        idle = ToolFakeChatModel(messages=iter([]))
        assert ask(idle, "How can I close a file?") == "Use with." and idle.calls == []
        # the source changes through the vector store: the answer built on it is dropped
        store.add_texts(
            ["Call f.close(), or better, use a with statement."], [{"source": "faq/files.md"}], ids=["files"]
        )
        fresh = ToolFakeChatModel(messages=iter([AIMessage("Call close() or use with.")]))
        assert ask(fresh, "How do I close a file?") == "Call close() or use with." and len(fresh.calls) == 1
    finally:
        cache.core.delete_index()
