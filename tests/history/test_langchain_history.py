"""LangChain RedisChatMessageHistory: exact round trips, RunnableWithMessageHistory, async, windows."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from redis_rag_integrations.history import ChatHistoryStore
from redis_rag_integrations.langchain import RedisChatMessageHistory

EVERY_KIND: list[BaseMessage] = [
    SystemMessage(content="You are terse.", id="sys-1"),
    HumanMessage(content="What is 2+2?", name="ann", additional_kwargs={"lang": "en", "n": 3}),
    HumanMessage(
        content=[
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
            {"type": "image", "url": "https://example.com/dog.png", "mime_type": "image/png"},
        ]
    ),
    AIMessage(
        content="",
        tool_calls=[{"id": "call_1", "name": "add", "args": {"a": 2, "b": 2}, "type": "tool_call"}],
        additional_kwargs={"refusal": None},
        response_metadata={"model_name": "fake", "finish_reason": "tool_calls"},
        usage_metadata={"input_tokens": 5, "output_tokens": 7, "total_tokens": 12},
        id="run-1",
    ),
    ToolMessage(content="4", tool_call_id="call_1", artifact={"raw": [4]}, status="success"),
    FunctionMessage(content='{"r": 4}', name="add"),
    ChatMessage(content="I object.", role="critic"),
    AIMessageChunk(content="partial"),
    AIMessage(content="It is 4. Ünïcödé ✓"),
]


def test_every_message_type_round_trips_exactly(store: ChatHistoryStore) -> None:
    history = RedisChatMessageHistory("every-kind", store=store)
    history.add_messages(EVERY_KIND)
    again = RedisChatMessageHistory("every-kind", store=store).messages
    assert again == EVERY_KIND
    assert [type(m) for m in again] == [type(m) for m in EVERY_KIND]


async def test_async_round_trip_and_clear(store: ChatHistoryStore) -> None:
    history = RedisChatMessageHistory("async", store=store)
    await history.aadd_messages(EVERY_KIND[:3])
    assert await history.aget_messages() == EVERY_KIND[:3]
    await history.aclear()
    assert await history.aget_messages() == []


def test_window_limits_what_messages_returns(store: ChatHistoryStore) -> None:
    full = RedisChatMessageHistory("w", store=store)
    full.add_messages([HumanMessage(content=str(i)) for i in range(10)])
    windowed = RedisChatMessageHistory("w", store=store, window=3)
    assert [m.content for m in windowed.messages] == ["7", "8", "9"]
    assert [m.content for m in full.get_last(2)] == ["8", "9"]
    assert full.trim(4) == 6 and len(full.messages) == 4


def test_sessions_do_not_see_each_other(store: ChatHistoryStore) -> None:
    RedisChatMessageHistory("a", store=store).add_messages([HumanMessage(content="for a")])
    RedisChatMessageHistory("b", store=store).add_messages([HumanMessage(content="for b")])
    assert [m.content for m in RedisChatMessageHistory("a", store=store).messages] == ["for a"]


# LangChain deprecated RunnableWithMessageHistory (LangGraph persistence replaces it); LCEL users still run it, so it
# is tested, and only its own deprecation notice is filtered here.
@pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated:DeprecationWarning")
def test_works_with_runnable_with_message_history(store: ChatHistoryStore) -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="Hello Ann."), AIMessage(content="You are Ann.")]))
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{question}")])
    seen: list[list[BaseMessage]] = []

    def spy(value):  # records what the model is given
        seen.append(value.to_messages())
        return value

    chain = RunnableWithMessageHistory(
        prompt | spy | model,
        lambda session_id: RedisChatMessageHistory(session_id, store=store),
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "rwmh"}}
    chain.invoke({"question": "I am Ann."}, config=config)
    answer = chain.invoke({"question": "Who am I?"}, config=config)
    assert answer.content == "You are Ann."
    assert [m.content for m in seen[1]] == ["I am Ann.", "Hello Ann.", "Who am I?"]
    stored = RedisChatMessageHistory("rwmh", store=store).messages
    assert [(m.type, m.content) for m in stored] == [
        ("human", "I am Ann."),
        ("ai", "Hello Ann."),
        ("human", "Who am I?"),
        ("ai", "You are Ann."),
    ]


def test_constructor_defaults_use_settings_and_reject_bad_ids(redis_url: str) -> None:
    history = RedisChatMessageHistory("x", redis_url=redis_url, ttl=60, prefix="lcdefault")
    assert history.store.ttl == 60
    with pytest.raises(ValueError, match="hash tag"):
        RedisChatMessageHistory("{bad}")
