"""Short-term memory: create_agent with our Redis checkpointer (sync and async), resumed across processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from redis_rag_integrations.errors import RedisConnectionFailed
from redis_rag_integrations.langchain.agents import _ttl, async_checkpointer, checkpointer

from .conftest import ToolFakeChatModel

HERE = Path(__file__).parent


@tool
def lookup(query: str) -> str:
    """Look the query up."""
    return f"result for {query}"


def tool_calling_model() -> ToolFakeChatModel:
    return ToolFakeChatModel(
        messages=iter(
            [
                AIMessage("", tool_calls=[{"name": "lookup", "args": {"query": "x"}, "id": "call-1"}]),
                AIMessage("done"),
                AIMessage("second turn"),
            ]
        )
    )


def run_two_turns(saver: object, thread: str) -> list:
    agent = create_agent(tool_calling_model(), tools=[lookup], checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    agent.invoke({"messages": [{"role": "user", "content": "hi"}]}, config)
    agent.invoke({"messages": [{"role": "user", "content": "again"}]}, config)
    return list(agent.get_state_history(config))


def test_state_history_matches_in_memory_saver(redis_url: str, unique_name: str) -> None:
    """Every checkpoint's pending work (``next``) and messages, as LangGraph's own saver records them: the step
    before the tool call must say ``("tools",)`` (the plain RedisSaver's list() said ``()``)."""
    ours = run_two_turns(checkpointer(redis_url), unique_name)
    reference = run_two_turns(InMemorySaver(), unique_name)
    assert [s.next for s in ours] == [s.next for s in reference]
    assert ("tools",) in [s.next for s in ours]
    assert [[m.content for m in s.values.get("messages", [])] for s in ours] == [
        [m.content for m in s.values.get("messages", [])] for s in reference
    ]


def test_tool_calls_and_results_survive(redis_url: str, unique_name: str) -> None:
    agent = create_agent(tool_calling_model(), tools=[lookup], checkpointer=checkpointer(redis_url))
    config = {"configurable": {"thread_id": unique_name}}
    agent.invoke({"messages": [{"role": "user", "content": "hi"}]}, config)
    fresh = create_agent(ToolFakeChatModel(messages=iter([])), tools=[lookup], checkpointer=checkpointer(redis_url))
    messages = fresh.get_state(config).values["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls[0]["args"] == {"query": "x"} and messages[1].tool_calls[0]["id"] == "call-1"
    assert messages[2].tool_call_id == "call-1" and messages[2].content == "result for x"


def test_thread_resumes_in_another_process(redis_url: str, unique_name: str) -> None:
    def turn(text: str) -> dict:
        out = subprocess.run(
            [sys.executable, str(HERE / "agent_turn.py"), redis_url, unique_name, text],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = turn("my name is Ada")
    assert first["messages"] == [["human", "my name is Ada"], ["ai", "answer to my name is Ada"]]
    second = turn("what is my name?")
    assert second["seen"] == 3  # the model got the first turn back, from Redis, in a new process
    assert [c for _, c in second["messages"]][:2] == ["my name is Ada", "answer to my name is Ada"]


def test_async_checkpointer(redis_url: str, unique_name: str) -> None:
    async def scenario() -> tuple[list, int]:
        async with async_checkpointer(redis_url) as saver:
            agent = create_agent(tool_calling_model(), tools=[lookup], checkpointer=saver)
            config = {"configurable": {"thread_id": unique_name}}
            result = await agent.ainvoke({"messages": [{"role": "user", "content": "hi"}]}, config)
            history = [s async for s in agent.aget_state_history(config)]
            return [m.type for m in result["messages"]], [s.next for s in history]

    types, nexts = asyncio.run(scenario())
    assert types == ["human", "ai", "tool", "ai"]
    assert ("tools",) in nexts
    # the sync saver reads what the async one wrote
    agent = create_agent(ToolFakeChatModel(messages=iter([])), tools=[lookup], checkpointer=checkpointer(redis_url))
    assert len(agent.get_state({"configurable": {"thread_id": unique_name}}).values["messages"]) == 4


def test_ttl_in_seconds(redis_url: str, unique_name: str, client) -> None:
    agent = create_agent(
        ToolFakeChatModel(messages=iter([AIMessage("ok")])), checkpointer=checkpointer(redis_url, ttl=120)
    )
    agent.invoke({"messages": [{"role": "user", "content": "hi"}]}, {"configurable": {"thread_id": unique_name}})
    keys = [k for k in client.scan_iter(match=f"checkpoint:{unique_name}:*")]
    assert keys and all(0 < client.ttl(k) <= 120 for k in keys)


_TTLS = st.one_of(
    st.integers(-10, 10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
)


@settings(max_examples=500, deadline=None)
@given(_TTLS)
def test_a_checkpoint_ttl_is_exact_seconds_or_refused(ttl: object) -> None:
    """What the library makes of our minutes (``int(default_ttl * 60)`` seconds) is exactly the TTL asked for, or
    the TTL is refused clearly: 0.5 became 0 = no expiry, 123 became 122, "60" failed deep in the library."""
    try:
        config = _ttl(ttl, refresh_on_read=True)  # type: ignore[arg-type]
    except ValueError as exc:
        assert "ttl must be a positive number of seconds" in str(exc)
        assert not (type(ttl) is int and ttl >= 1)
        return
    if ttl is None:
        assert config is None
        return
    assert type(ttl) is int and config is not None
    assert int(config["default_ttl"] * 60) == ttl


def test_redis_down_is_a_clear_error() -> None:
    with pytest.raises(RedisConnectionFailed, match=r"127\.0\.0\.1:1"):
        checkpointer("redis://127.0.0.1:1/0")


def test_redis_down_is_a_clear_error_for_the_async_checkpointer() -> None:
    """It raised redisvl's RedisSearchError ('Error while fetching checkpoint index info') from entering the saver,
    where the sync one raises RedisConnectionFailed naming the URL."""

    async def enter() -> None:
        async with async_checkpointer("redis://127.0.0.1:1/0"):
            pass

    with pytest.raises(RedisConnectionFailed, match=r"cannot reach Redis at redis://127\.0\.0\.1:1"):
        asyncio.run(enter())


def _corrupt_thread(client, thread: str) -> None:
    """Overwrite the stored checkpoints of ``thread`` with text that is not JSON (a bad restore, a foreign writer)."""
    for key in client.scan_iter(match=f"checkpoint:{thread}:*"):
        doc = client.json().get(key)
        if isinstance(doc, dict) and "checkpoint" in doc:
            doc["checkpoint"] = "{not json"
            client.json().set(key, "$", doc)


def test_a_corrupt_checkpoint_is_a_clear_error_naming_the_thread(redis_url: str, unique_name: str, client) -> None:
    from redis_rag_integrations.langchain.agents import CorruptCheckpointError

    saver = checkpointer(redis_url)
    agent = create_agent(ToolFakeChatModel(messages=iter([AIMessage("ok"), AIMessage("more")])), checkpointer=saver)
    config = {"configurable": {"thread_id": unique_name}}
    agent.invoke({"messages": [{"role": "user", "content": "hi"}]}, config)
    _corrupt_thread(client, unique_name)
    with pytest.raises(CorruptCheckpointError, match=unique_name):
        agent.get_state(config)
    with pytest.raises(CorruptCheckpointError, match="delete_thread"):
        agent.invoke({"messages": [{"role": "user", "content": "again"}]}, config)
    with pytest.raises(CorruptCheckpointError):
        list(agent.get_state_history(config))

    async def async_read() -> None:
        async with async_checkpointer(redis_url) as asaver:
            await asaver.aget_tuple(config)

    with pytest.raises(CorruptCheckpointError, match=unique_name):
        asyncio.run(async_read())
    saver.delete_thread(unique_name)  # the way out the error names
    assert agent.get_state(config).values == {}
