"""A thread's checkpoint history through our saver against LangGraph's ``InMemorySaver``: only the thread's own
checkpoints, in its namespace, before a bound, and clear errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage

from redis_rag_integrations.langchain.agents import checkpointer

from .conftest import ToolFakeChatModel

# --- checkpointer -------------------------------------------------------------------------------------------------


class _Model(ToolFakeChatModel):
    pass


def _turn(saver: Any, thread: str, text: str) -> None:
    agent = create_agent(_Model(messages=iter([AIMessage(f"answer to {text}")])), checkpointer=saver)
    agent.invoke({"messages": [{"role": "user", "content": text}]}, {"configurable": {"thread_id": thread}})


def _two_turns(saver: Any) -> dict[str, Any]:
    thread = f"t{uuid.uuid4().hex[:8]}"
    for text in ("first", "second"):
        _turn(saver, thread, text)
    return {"configurable": {"thread_id": thread}}


def test_state_history_holds_only_the_threads_own_checkpoints(redis_url: str) -> None:
    saver = checkpointer(redis_url)
    base = f"user-{uuid.uuid4().hex[:8]}"
    others = [base.upper(), f"{base},x"]
    for thread in [base, *others]:
        _turn(saver, thread, f"secret of {thread}")
    agent = create_agent(_Model(messages=iter([])), checkpointer=saver)
    history = list(agent.get_state_history({"configurable": {"thread_id": base}}))
    assert {h.config["configurable"]["thread_id"] for h in history} == {base}
    assert all(m.content.endswith(base) for h in history for m in h.values.get("messages", []))
    for thread in others:
        saver.delete_thread(thread)
    saver.delete_thread(base)


@pytest.mark.parametrize("suffix", [",1", " "], ids=["comma", "space"])
def test_state_history_of_a_thread_with_punctuation(redis_url: str, suffix: str) -> None:
    saver = checkpointer(redis_url)
    thread = f"t{uuid.uuid4().hex[:8]}{suffix}" if suffix != " " else " "
    _turn(saver, thread, "hello")
    agent = create_agent(_Model(messages=iter([])), checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    assert len(agent.get_state(config).values["messages"]) == 2
    try:
        assert len(list(agent.get_state_history(config))) == 3  # InMemorySaver: input, model, start
    finally:
        saver.delete_thread(thread)


def test_list_by_checkpoint_ns_returns_that_namespace_only(redis_url: str) -> None:
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.memory import InMemorySaver

    thread = f"t{uuid.uuid4().hex[:8]}"
    namespaces = ["", "sub", "Sub", "a,b", "parent:abc|child:def"]
    found: dict[str, dict[str, list[str]]] = {}
    savers = {"redis": checkpointer(redis_url), "reference": InMemorySaver()}
    for name, saver in savers.items():
        for ns in namespaces:
            checkpoint = empty_checkpoint()
            checkpoint["channel_values"] = {"x": ns}
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            saver.put(config, checkpoint, {"source": "input", "step": 0}, {})
        found[name] = {
            ns: sorted(
                c.config["configurable"]["checkpoint_ns"]
                for c in saver.list({"configurable": {"thread_id": thread, "checkpoint_ns": ns}})
            )
            for ns in namespaces
        }
    savers["redis"].delete_thread(thread)
    assert found["reference"] == {ns: [ns] for ns in namespaces}
    assert found["redis"] == found["reference"]


@pytest.mark.parametrize("ttl", [0, -5])
def test_a_checkpoint_ttl_below_one_second_is_refused(redis_url: str, ttl: int) -> None:
    """The saver would expire each checkpoint as it writes it: every thread silently empty. Refused instead."""
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        checkpointer(redis_url, ttl=ttl)


def test_list_before_a_checkpoint_returns_only_older_ones(redis_url: str) -> None:
    saver = checkpointer(redis_url)
    config = _two_turns(saver)
    history = list(saver.list(config))
    assert len(history) == 6
    try:
        older = list(saver.list(config, before=history[3].config))
        assert [c.config["configurable"]["checkpoint_id"] for c in older] == [
            c.config["configurable"]["checkpoint_id"] for c in history[4:]
        ]
    finally:
        saver.delete_thread(config["configurable"]["thread_id"])


def test_history_filter_on_custom_metadata_is_not_reported_as_corruption(redis_url: str) -> None:
    from redis_rag_integrations.langchain.agents import CorruptCheckpointError

    saver = checkpointer(redis_url)
    config = _two_turns(saver)
    agent = create_agent(_Model(messages=iter([])), checkpointer=saver)
    try:
        try:
            found = list(agent.get_state_history(config, filter={"user": "u-1"}))
        except CorruptCheckpointError:
            pytest.fail("a filter the saver cannot apply is reported as a corrupt checkpoint (delete the thread?)")
        except (ValueError, NotImplementedError):
            return  # a clear refusal naming the filter is fine
        assert found == []  # InMemorySaver: no checkpoint has that metadata
    finally:
        saver.delete_thread(config["configurable"]["thread_id"])


@pytest.mark.parametrize("ttl", [0, -5])
def test_async_checkpointer_and_register_refuse_a_ttl_below_one_second(
    redis_url: str, unique_name: str, hash_embedder: Any, client: Any, ttl: int
) -> None:
    """The same refusal on the async factory and on ``register(history_ttl=...)`` (which builds both savers and the
    LCEL history), before anything is created on the server."""
    from redis_rag_integrations.langchain import RagEmbeddings, register
    from redis_rag_integrations.langchain.agents import async_checkpointer

    with pytest.raises(ValueError, match="ttl"):
        async_checkpointer(redis_url, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        register(embeddings=RagEmbeddings(hash_embedder), index_name=unique_name, history_ttl=ttl, agents=True)
    assert not [name for name in client.execute_command("FT._LIST") if unique_name in str(name)]
