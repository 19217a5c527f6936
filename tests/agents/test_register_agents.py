"""register() on the LangChain side also returns agent memory: a checkpointer and a long-term store, same Redis."""

from __future__ import annotations

import asyncio

from langchain.agents import create_agent
from langchain_core.messages import AIMessage

from redis_rag_integrations.langchain import RagEmbeddings, register
from redis_rag_integrations.langchain.agents import AsyncRedisCheckpointSaver, RedisCheckpointSaver
from redis_rag_integrations.langchain.memory_store import RedisMemoryStore

from .conftest import ToolFakeChatModel


def test_register_returns_checkpointer_and_store(redis_url: str, unique_name: str, local_embedder) -> None:
    parts = register(embeddings=RagEmbeddings(local_embedder), index_name=unique_name, semantic_cache=False)
    try:
        assert isinstance(parts.checkpointer, RedisCheckpointSaver) and isinstance(parts.store, RedisMemoryStore)
        assert parts.store.name == f"{parts.vector_store.index.name}-memory"
        parts.store.put(("user-1", "memories"), "m1", {"text": "I am vegetarian"})
        parts.store.put(("user-1", "memories"), "m2", {"text": "I work as a nurse"})
        assert parts.store.search(("user-1",), query="what do I eat?", limit=1)[0].key == "m1"

        model = ToolFakeChatModel(messages=iter([AIMessage("one"), AIMessage("two")]))
        agent = create_agent(model, checkpointer=parts.checkpointer, store=parts.store)
        config = {"configurable": {"thread_id": unique_name}}
        agent.invoke({"messages": [{"role": "user", "content": "hi"}]}, config)

        async def resume() -> list[str]:
            async with parts.async_checkpointer() as saver:
                assert isinstance(saver, AsyncRedisCheckpointSaver)
                again = create_agent(model, checkpointer=saver, store=parts.store)
                result = await again.ainvoke({"messages": [{"role": "user", "content": "again"}]}, config)
                return [m.content for m in result["messages"]]

        assert asyncio.run(resume()) == ["hi", "one", "again", "two"]
    finally:
        parts.store.drop()
        parts.vector_store.index.drop()


def test_register_without_agents(redis_url: str, unique_name: str, local_embedder) -> None:
    parts = register(
        embeddings=RagEmbeddings(local_embedder), index_name=unique_name, semantic_cache=False, agents=False
    )
    try:
        assert parts.checkpointer is None and parts.store is None and parts.async_checkpointer is None
    finally:
        parts.vector_store.index.drop()
