"""LlamaIndex RedisChatStore (ChatMemoryBuffer) and RedisAsyncChatStore (Memory): round trips and semantics."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus

from redis_rag_integrations.history import ChatHistoryStore
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore


def words(text: str) -> list[str]:
    return text.split()


EVERY_KIND = [
    ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
    ChatMessage(role=MessageRole.DEVELOPER, content="Developer note."),
    ChatMessage(role=MessageRole.USER, content="Hi", additional_kwargs={"name": "ann", "n": 1}),
    ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="Look:"),
            ImageBlock(url="https://example.com/cat.png", image_mimetype="image/png", detail="low"),
        ],
    ),
    ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[TextBlock(text="Calling."), ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 1})],
    ),
    ChatMessage(
        role=MessageRole.ASSISTANT,
        content=None,
        additional_kwargs={
            "tool_calls": [{"id": "c2", "type": "function", "function": {"name": "mul", "arguments": '{"x": 3}'}}]
        },
    ),
    ChatMessage(role=MessageRole.TOOL, content="2", additional_kwargs={"tool_call_id": "c1", "name": "add"}),
    ChatMessage(role=MessageRole.FUNCTION, content="6", additional_kwargs={"name": "mul"}),
    ChatMessage(role=MessageRole.ASSISTANT, blocks=[]),
    ChatMessage(role=MessageRole.USER, blocks=[ImageBlock(image=b"\x89PNG tiny inline")]),
]


def test_every_message_kind_round_trips_exactly(store: ChatHistoryStore) -> None:
    chat_store = RedisChatStore(store=store)
    chat_store.set_messages("k", EVERY_KIND)
    assert chat_store.get_messages("k") == EVERY_KIND


async def test_async_store_round_trips_exactly(store: ChatHistoryStore) -> None:
    chat_store = RedisAsyncChatStore(store=store)
    await chat_store.add_messages("k", EVERY_KIND)
    assert await chat_store.get_messages("k") == EVERY_KIND


def test_base_chat_store_operations(store: ChatHistoryStore) -> None:
    cs = RedisChatStore(store=store)
    for text in ["a", "b", "c", "d"]:
        cs.add_message("s1", ChatMessage(role="user", content=text))
    cs.add_message("s2", ChatMessage(role="user", content="other"))
    assert cs.delete_message("s1", 1).content == "b"  # type: ignore[union-attr]
    assert cs.delete_last_message("s1").content == "d"  # type: ignore[union-attr]
    assert [m.content for m in cs.get_messages("s1")] == ["a", "c"]
    assert cs.get_keys() == ["s1", "s2"]
    assert [m.content for m in cs.delete_messages("s1") or []] == ["a", "c"]
    assert cs.get_messages("s1") == [] and cs.get_keys() == ["s2"]


async def test_base_chat_store_async_operations(store: ChatHistoryStore) -> None:
    cs = RedisChatStore(store=store)
    await cs.aset_messages("s", [ChatMessage(role="user", content=t) for t in "xyz"])
    await cs.async_add_message("s", ChatMessage(role="assistant", content="w"))
    assert (await cs.adelete_last_message("s")).content == "w"  # type: ignore[union-attr]
    assert [m.content for m in await cs.aget_messages("s")] == ["x", "y", "z"]
    assert await cs.aget_keys() == ["s"]


def test_chat_memory_buffer_keeps_the_conversation(store: ChatHistoryStore) -> None:
    memory = ChatMemoryBuffer.from_defaults(
        chat_store=RedisChatStore(store=store), chat_store_key="buf", token_limit=10_000, tokenizer_fn=words
    )
    memory.put(ChatMessage(role="user", content="My name is Ann."))
    memory.put(ChatMessage(role="assistant", content="Hello Ann."))
    again = ChatMemoryBuffer.from_defaults(
        chat_store=RedisChatStore(store=store), chat_store_key="buf", token_limit=10_000, tokenizer_fn=words
    )
    assert [m.content for m in again.get()] == ["My name is Ann.", "Hello Ann."]


async def test_memory_archives_old_turns_and_keeps_them_readable(store: ChatHistoryStore) -> None:
    chat_store = RedisAsyncChatStore(store=store)
    memory = Memory.from_defaults(
        session_id="mem", chat_store=chat_store, token_limit=40, token_flush_size=10, tokenizer_fn=words
    )
    turns = [f"turn {i} " + "word " * 6 for i in range(8)]
    for i, text in enumerate(turns):
        await memory.aput(ChatMessage(role="user" if i % 2 == 0 else "assistant", content=text))
    active = await memory.aget()
    everything = await memory.aget_all()
    archived = await chat_store.get_messages("mem", status=MessageStatus.ARCHIVED)
    assert archived, "the token limit must have pushed old turns out of the active queue"
    assert [m.content for m in everything] == turns
    assert [m.content for m in archived + active] == turns
    assert await chat_store.count_messages("mem", status=None) == len(turns)


async def test_async_db_store_status_paging_and_deletes(store: ChatHistoryStore) -> None:
    cs = RedisAsyncChatStore(store=store)
    await cs.add_messages("s", [ChatMessage(role="user", content=str(i)) for i in range(6)])
    assert [m.content for m in await cs.archive_oldest_messages("s", 2)] == ["0", "1"]
    await cs.add_message("s", ChatMessage(role="user", content="old"), status=MessageStatus.ARCHIVED)
    # insertion order, whatever the status (SQLAlchemyChatStore): "old" was written last
    assert [m.content for m in await cs.get_messages("s", status=None, limit=3, offset=1)] == ["1", "2", "3"]
    assert [m.content for m in await cs.get_messages("s", status=None, offset=5)] == ["5", "old"]
    assert await cs.count_messages("s") == 4
    assert [m.content for m in await cs.delete_oldest_messages("s", 1)] == ["2"]
    assert (await cs.delete_message("s", 0)).content == "3"  # type: ignore[union-attr]
    await cs.delete_messages("s", status=MessageStatus.ARCHIVED)
    assert [m.content for m in await cs.get_messages("s", status=None)] == ["4", "5"]
    await cs.set_messages("s", [ChatMessage(role="user", content="new")])
    assert await cs.get_keys() == ["s"]
    await cs.delete_messages("s")
    assert await cs.get_keys() == []


def test_memory_sync_wrappers_run_on_fresh_event_loops(store: ChatHistoryStore) -> None:
    # Memory.put / get run coroutines with asyncio_run: every call may be a new loop; one client per loop.
    memory = Memory.from_defaults(session_id="sync", chat_store=RedisAsyncChatStore(store=store), tokenizer_fn=words)
    memory.put(ChatMessage(role="user", content="one"))
    memory.put(ChatMessage(role="assistant", content="two"))
    assert [m.content for m in memory.get_all()] == ["one", "two"]


def test_inserting_at_an_index_is_refused(store: ChatHistoryStore) -> None:
    with pytest.raises(NotImplementedError, match="append-only"):
        RedisChatStore(store=store).add_message("s", ChatMessage(role="user", content="x"), idx=0)
