"""The LlamaIndex chat stores against ``SQLAlchemyChatStore`` / in-memory ``Memory``: replacing a session replaces
its archive too, archived-only sessions are listed, reads keep insertion order, a bad index loses nothing. Found by
an independent review; each test failed on the code before the fix."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus

from redis_rag_integrations.llama_index import (
    RedisAsyncChatStore,
    RedisChatStore,
)

Metas = list[dict[str, Any]]

# --- chat store / Memory -----------------------------------------------------------------------------------------


def _msgs(*texts: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=t) for t in texts]


def test_async_chat_store_set_messages_replaces_archived_messages_too(redis_url: str, unique_name: str) -> None:
    store = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)

    async def run() -> list[str]:
        await store.add_messages("s", _msgs("0", "1", "2"))
        await store.archive_oldest_messages("s", 2)
        await store.set_messages("s", _msgs("new"))
        return [m.content or "" for m in await store.get_messages("s", status=None)]

    try:
        assert asyncio.run(run()) == ["new"]  # was: ['0', '1', 'new']
    finally:
        asyncio.run(store.delete_messages("s"))


def test_memory_set_forgets_the_archived_history(redis_url: str, unique_name: str) -> None:
    store = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)
    memory = Memory.from_defaults(
        session_id="s", chat_store=store, token_limit=40, chat_history_token_ratio=0.5, token_flush_size=10
    )
    try:
        for i in range(12):
            memory.put(ChatMessage(role="user", content=f"message number {i} with some words"))
        assert asyncio.run(store.count_messages("s", status=MessageStatus.ARCHIVED)) > 0
        memory.set(_msgs("fresh start"))
        assert [m.content for m in memory.get_all()] == ["fresh start"]  # was: ten old turns, then 'fresh start'
    finally:
        memory.reset()


@pytest.mark.parametrize("idx", ["1", 1.5, None])
def test_delete_message_with_a_bad_index_is_a_clear_error_that_loses_nothing(
    redis_url: str, unique_name: str, idx: Any
) -> None:
    store = RedisChatStore(redis_url=redis_url, prefix=unique_name)
    store.set_messages("s", _msgs("0", "1", "2"))
    try:
        with pytest.raises(TypeError, match="index must be an integer"):  # was: TypeError after deleting for '1'
            store.delete_message("s", idx)
        assert [m.content for m in store.get_messages("s")] == ["0", "1", "2"]  # was for '1': ['0', '2']
    finally:
        store.delete_messages("s")


def test_async_chat_store_all_status_read_keeps_insertion_order(redis_url: str, unique_name: str) -> None:
    store = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)

    async def run() -> list[str]:
        await store.add_messages("s", _msgs("a1"))
        await store.add_messages("s", _msgs("z"), status=MessageStatus.ARCHIVED)
        await store.add_messages("s", _msgs("a2"))
        return [m.content or "" for m in await store.get_messages("s", status=None)]

    try:
        assert asyncio.run(run()) == ["a1", "z", "a2"]  # was: ['z', 'a1', 'a2']
    finally:
        asyncio.run(store.delete_messages("s"))


def test_async_chat_store_get_keys_lists_a_session_with_only_archived_messages(
    redis_url: str, unique_name: str
) -> None:
    store = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)

    async def run() -> tuple[list[str], int]:
        await store.add_messages("s", _msgs("0", "1"))
        await store.archive_oldest_messages("s", 2)
        return await store.get_keys(), await store.count_messages("s", status=None)

    try:
        keys, held = asyncio.run(run())
        assert held == 2
        assert keys == ["s"]  # was: []
    finally:
        asyncio.run(store.delete_messages("s"))
