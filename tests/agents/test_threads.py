"""One conversation, two frameworks: an agent's thread read as a shared session by LlamaIndex, and seeded from one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.memory import Memory

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore, InvalidSessionIdError
from redis_rag_integrations.langchain import RedisChatMessageHistory
from redis_rag_integrations.langchain.agents import checkpointer
from redis_rag_integrations.langchain.threads import (
    SessionMirrorMiddleware,
    ThreadExistsError,
    UnknownThreadError,
    export_thread_to_session,
    seed_thread_from_session,
)
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore

from .conftest import ToolFakeChatModel


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@pytest.fixture
def history(redis_url: str, unique_name: str) -> Iterator[ChatHistoryStore]:
    store = ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url))
    yield store
    for sid in store.sessions():
        store.delete(sid)


def tool_model(*extra: AIMessage) -> ToolFakeChatModel:
    call = AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": "call-7"}])
    return ToolFakeChatModel(messages=iter([call, AIMessage("It is sunny in Lisbon."), *extra]))


def test_agent_thread_is_read_by_llama_index(redis_url: str, unique_name: str, history: ChatHistoryStore) -> None:
    agent = create_agent(
        tool_model(), tools=[weather], checkpointer=checkpointer(redis_url),
        middleware=[SessionMirrorMiddleware(history)],
    )  # fmt: skip
    config = {"configurable": {"thread_id": unique_name}}
    state = agent.invoke({"messages": [{"role": "user", "content": "Weather in Lisbon?"}]}, config)

    got = RedisChatStore(store=history).get_messages(unique_name)
    assert [m.role.value for m in got] == ["user", "assistant", "tool", "assistant"]
    (call,) = [b for b in got[1].blocks if isinstance(b, ToolCallBlock)]
    assert (call.tool_call_id, call.tool_name, call.tool_kwargs) == ("call-7", "weather", {"city": "Lisbon"})
    assert got[2].content == "sunny in Lisbon" and got[3].content == "It is sunny in Lisbon."
    # LangChain reads back exactly the thread's messages (ids, tool calls and all)
    assert RedisChatMessageHistory(unique_name, store=history).messages == state["messages"]

    memory = Memory.from_defaults(session_id=unique_name, chat_store=RedisAsyncChatStore(store=history))
    seen = asyncio.run(memory.aget_all())
    assert [m.content for m in seen if m.role == MessageRole.USER] == ["Weather in Lisbon?"]


def test_export_thread_without_middleware(redis_url: str, unique_name: str, history: ChatHistoryStore) -> None:
    agent = create_agent(tool_model(), tools=[weather], checkpointer=checkpointer(redis_url))
    config = {"configurable": {"thread_id": unique_name}}
    state = agent.invoke({"messages": [{"role": "user", "content": "Weather?"}]}, config)
    assert export_thread_to_session(agent, unique_name, session_id="copy", history=history) == 4
    assert RedisChatMessageHistory("copy", store=history).messages == state["messages"]
    with pytest.raises(UnknownThreadError, match="no checkpoint"):
        export_thread_to_session(agent, unique_name + "-typo", history=history)


def test_session_seeds_a_new_thread(redis_url: str, unique_name: str, history: ChatHistoryStore) -> None:
    RedisChatStore(store=history).set_messages(
        "from-llama",
        [
            ChatMessage(role=MessageRole.USER, content="My name is Ada."),
            ChatMessage(role=MessageRole.ASSISTANT, content="Hello Ada."),
        ],
    )
    model = ToolFakeChatModel(messages=iter([AIMessage("Your name is Ada.")]))
    agent = create_agent(model, checkpointer=checkpointer(redis_url), middleware=[SessionMirrorMiddleware(history)])
    assert seed_thread_from_session(agent, unique_name, session_id="from-llama", history=history) == 2
    config = {"configurable": {"thread_id": unique_name}}
    agent.invoke({"messages": [{"role": "user", "content": "What is my name?"}]}, config)
    assert [m.content for m in model.calls[0]] == ["My name is Ada.", "Hello Ada.", "What is my name?"]
    assert [m.content for m in RedisChatStore(store=history).get_messages(unique_name)][-1] == "Your name is Ada."
    with pytest.raises(ThreadExistsError):
        seed_thread_from_session(agent, unique_name, session_id="from-llama", history=history)
    with pytest.raises(LookupError, match="empty or does not exist"):
        seed_thread_from_session(agent, unique_name + "-new", session_id="nobody", history=history)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(thread_id=st.text(min_size=1, max_size=20))
def test_any_thread_id_is_exact_or_refused(redis_url: str, history: ChatHistoryStore, thread_id: str) -> None:
    """A thread id of any text mirrors to exactly its own session, or is refused before the model runs."""
    model = ToolFakeChatModel(messages=iter([AIMessage(f"reply to {thread_id!r}")]))
    agent = create_agent(model, checkpointer=checkpointer(redis_url), middleware=[SessionMirrorMiddleware(history)])
    config = {"configurable": {"thread_id": thread_id}}
    try:
        agent.invoke({"messages": [{"role": "user", "content": thread_id}]}, config)
    except InvalidSessionIdError:
        assert model.calls == []  # refused before the model was called
        return
    got = [(m.type, m.content) for m in RedisChatMessageHistory(thread_id, store=history).messages]
    assert got[-2:] == [("human", thread_id), ("ai", f"reply to {thread_id!r}")]
    assert all(m.content != thread_id for m in RedisChatMessageHistory(thread_id + "x", store=history).messages)
