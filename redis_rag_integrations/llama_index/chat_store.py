"""LlamaIndex chat stores over the framework-neutral history core.

- :class:`RedisChatStore` is a ``BaseChatStore`` (for ``ChatMemoryBuffer`` and the older memory classes);
- :class:`RedisAsyncChatStore` is an ``AsyncDBChatStore``, what the newer ``llama_index.core.memory.Memory`` takes
  as ``chat_store``: active messages are the session LIST, archived ones (``archive_oldest_messages``, called when
  Memory flushes its short-term queue) a second LIST, so archiving is one atomic server-side move.

Both read and write the same entries as LangChain's ``RedisChatMessageHistory``. A LlamaIndex message keeps its
role, ``additional_kwargs`` and blocks: text blocks become the shared ``content``, tool calls the shared
``tool_calls``, images a reference (``url``) that LangChain reads too; every block's full LlamaIndex form rides
along, so LlamaIndex messages read back equal to what was written.
"""

from __future__ import annotations

import json
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus

from ..embeddings import Embedder
from ..history import ChatHistoryStore, RelevantRecall, StoredMessage

_ROLES = {r.value for r in MessageRole}


def _openai_tool_calls(raw: Any) -> list[dict[str, Any]]:
    """Tool calls an OpenAI-style LLM put into ``additional_kwargs["tool_calls"]``, in the shared shape."""
    out: list[dict[str, Any]] = []
    for call in raw if isinstance(raw, list) else []:
        data = call.model_dump() if hasattr(call, "model_dump") else call
        function = data.get("function") if isinstance(data, dict) else None
        if not isinstance(function, dict) or "name" not in function:
            continue
        try:
            args = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            args = {"__raw_arguments__": function.get("arguments")}
        out.append({"id": data.get("id"), "name": function["name"], "args": args})
    return out


def to_stored(message: ChatMessage) -> StoredMessage:
    """A LlamaIndex message as a stored entry."""
    if not isinstance(message, ChatMessage):
        raise TypeError(f"expected a llama_index ChatMessage, got {type(message).__name__}")
    blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    for block in message.blocks:
        dump = block.model_dump(mode="json")
        if isinstance(block, TextBlock):
            blocks.append({"type": "text", "text": block.text})
        elif isinstance(block, ToolCallBlock):
            call = {"id": block.tool_call_id, "name": block.tool_name, "args": block.tool_kwargs}
            tool_calls.append(call)
            blocks.append({"type": "tool_call", **call, "llama_index": dump})
        elif dump.get("block_type") == "image" and (dump.get("url") or dump.get("path")):
            ref = {"type": "image", "url": str(dump.get("url") or dump.get("path"))}
            if dump.get("image_mimetype"):
                ref["mime_type"] = dump["image_mimetype"]
            blocks.append({**ref, "llama_index": dump})
        else:
            blocks.append({"type": f"llama_index:{dump.get('block_type')}", "llama_index": dump})
    single_text = len(blocks) == 1 and blocks[0]["type"] == "text"
    kwargs = dict(message.additional_kwargs)
    if not tool_calls:
        tool_calls = _openai_tool_calls(kwargs.get("tool_calls"))
    tool_call_id = kwargs.get("tool_call_id") if message.role == MessageRole.TOOL else None
    return StoredMessage(
        role=message.role.value,
        content=blocks[0]["text"] if single_text else blocks,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id if isinstance(tool_call_id, str) else None,
        additional_kwargs=kwargs,
        extra={"llama_index": {}},
    )


def _block_from(item: Any) -> dict[str, Any] | None:
    """A LlamaIndex block (as a dict) for one shared content block, or None for kinds LlamaIndex cannot hold."""
    if isinstance(item, str):
        return {"block_type": "text", "text": item}
    if not isinstance(item, dict):
        return None
    if "llama_index" in item:
        return item["llama_index"]
    kind = item.get("type")
    if kind == "text":
        return {"block_type": "text", "text": item.get("text", "")}
    if kind == "image_url":
        url = item.get("image_url", {})
        return {"block_type": "image", "url": url.get("url") if isinstance(url, dict) else url}
    if kind == "image" and item.get("url"):
        return {"block_type": "image", "url": item["url"], "image_mimetype": item.get("mime_type")}
    if kind == "tool_call":
        return {
            "block_type": "tool_call",
            "tool_call_id": item.get("id"),
            "tool_name": item["name"],
            "tool_kwargs": item.get("args", {}),
        }
    return {"block_type": "text", "text": json.dumps(item, ensure_ascii=False)}  # keep unknown blocks visible


def from_stored(stored: StoredMessage) -> ChatMessage:
    """The LlamaIndex message for an entry written by either framework."""
    kwargs = dict(stored.additional_kwargs)
    content = stored.content
    blocks = [b for b in ([content] if isinstance(content, str) else content) if b is not None]
    if (
        content == "" and stored.tool_calls and "llama_index" not in stored.extra
    ):  # LangChain's tool-calling AIMessage: no empty text block
        blocks = []
    dumps = [d for d in (_block_from(b) for b in blocks) if d is not None]
    if "llama_index" not in stored.extra:  # written by LangChain: bring its shared fields over
        present = {d.get("tool_call_id") for d in dumps if d.get("block_type") == "tool_call"}
        for call in stored.tool_calls:
            if call.get("id") not in present or call.get("id") is None:
                dumps.append(
                    {
                        "block_type": "tool_call",
                        "tool_call_id": call.get("id"),
                        "tool_name": call["name"],
                        "tool_kwargs": call.get("args", {}),
                    }
                )
        if stored.tool_call_id is not None:
            kwargs.setdefault("tool_call_id", stored.tool_call_id)
        if stored.name is not None:
            kwargs.setdefault("name", stored.name)
        if stored.role not in _ROLES:
            kwargs.setdefault("role", stored.role)
    role = stored.role if stored.role in _ROLES else MessageRole.USER.value
    return ChatMessage.model_validate({"role": role, "additional_kwargs": kwargs, "blocks": dumps})


def _status(status: MessageStatus | None) -> str:
    return "all" if status is None else MessageStatus(status).value


class _RedisBacked:
    """What both stores share: the core store, built from the pydantic fields, and relevant recall."""

    _core: ChatHistoryStore
    _recall: RelevantRecall | None
    _embedder: Embedder | None

    def __init__(
        self,
        redis_url: str | None = None,
        ttl: int | None = None,
        *,
        prefix: str = "chat",
        store: ChatHistoryStore | None = None,
        embedder: Embedder | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(redis_url=redis_url, ttl=ttl, prefix=prefix)  # the pydantic base of the concrete store
        self._core = store or ChatHistoryStore(redis_url, ttl=ttl, prefix=prefix, **kwargs)
        self._recall = None
        self._embedder = embedder

    @property
    def core(self) -> ChatHistoryStore:
        """The framework-neutral store (shared with LangChain's ``RedisChatMessageHistory``)."""
        return self._core

    @property
    def recall(self) -> RelevantRecall:
        if self._recall is None:
            self._recall = RelevantRecall(self._core, self._embedder)
        return self._recall

    def get_relevant(self, key: str, query: str, k: int = 4, *, exclude_recent: int = 0) -> list[ChatMessage]:
        """Earlier messages of session ``key`` most relevant to ``query`` (best first); needs the search module."""
        return [from_stored(m) for m in self.recall.get_relevant(key, query, k, exclude_recent=exclude_recent)]

    async def aget_relevant(self, key: str, query: str, k: int = 4, *, exclude_recent: int = 0) -> list[ChatMessage]:
        found = await self.recall.aget_relevant(key, query, k, exclude_recent=exclude_recent)
        return [from_stored(m) for m in found]


class RedisChatStore(_RedisBacked, BaseChatStore):
    """A ``BaseChatStore`` in Redis: ``ChatMemoryBuffer.from_defaults(chat_store=RedisChatStore(), ...)``.

    Args: ``redis_url`` (default the package's Redis; no module needed), ``ttl`` (default ``Settings.history_ttl``,
    refreshed on write), ``prefix``, or a shared core ``store``; ``embedder`` for :meth:`get_relevant`; other keyword
    arguments (``max_message_bytes``, ``on_corrupt``) go to :class:`ChatHistoryStore`.
    """

    redis_url: str | None = Field(default=None, description="Redis URL; unset = the package default.")
    ttl: int | None = Field(default=None, description="Seconds a session lives after its last write.")
    prefix: str = Field(default="chat", description="Key prefix of the sessions.")
    _core: ChatHistoryStore = PrivateAttr()
    _recall: RelevantRecall | None = PrivateAttr(default=None)
    _embedder: Embedder | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "RedisRagChatStore"

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        self._core.replace(key, [to_stored(m) for m in messages])

    def get_messages(self, key: str, **kwargs: Any) -> list[ChatMessage]:
        return [from_stored(m) for m in self._core.read(key, last=kwargs.get("last"))]

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is not None:
            raise NotImplementedError("inserting at an index breaks the append-only order; append or set_messages")
        self._core.append(key, [to_stored(message)])

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        found = self.get_messages(key)
        self._core.delete(key)
        return found or None

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        found = self._core.delete_at(key, idx)
        return from_stored(found) if found else None

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return self.delete_message(key, -1)

    def get_keys(self) -> list[str]:
        return self._core.sessions()

    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        await self._core.areplace(key, [to_stored(m) for m in messages])

    async def aget_messages(self, key: str, **kwargs: Any) -> list[ChatMessage]:
        return [from_stored(m) for m in await self._core.aread(key, last=kwargs.get("last"))]

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is not None:
            raise NotImplementedError("inserting at an index breaks the append-only order; append or set_messages")
        await self._core.aappend(key, [to_stored(message)])

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        found = await self.aget_messages(key)
        await self._core.adelete(key)
        return found or None

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        found = await self._core.adelete_at(key, idx)
        return from_stored(found) if found else None

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        return await self.adelete_message(key, -1)

    async def aget_keys(self) -> list[str]:
        return await self._core.asessions()


class RedisAsyncChatStore(_RedisBacked, AsyncDBChatStore):
    """The ``AsyncDBChatStore`` for ``Memory.from_defaults(session_id=..., chat_store=RedisAsyncChatStore())``."""

    redis_url: str | None = Field(default=None, description="Redis URL; unset = the package default.")
    ttl: int | None = Field(default=None, description="Seconds a session lives after its last write.")
    prefix: str = Field(default="chat", description="Key prefix of the sessions.")
    _core: ChatHistoryStore = PrivateAttr()
    _recall: RelevantRecall | None = PrivateAttr(default=None)
    _embedder: Embedder | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "RedisAsyncChatStore"

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        found = await self._core.aread(key, limit=limit, offset=offset, status=_status(status))  # type: ignore[arg-type]
        return [from_stored(m) for m in found]

    async def count_messages(self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE) -> int:
        return await self._core.acount(key, status=_status(status))  # type: ignore[arg-type]

    async def add_message(self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE) -> None:
        await self.add_messages(key, [message], status=status)

    async def add_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        await self._core.aappend(key, [to_stored(m) for m in messages], status=_status(status))  # type: ignore[arg-type]

    async def set_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Every message of ``key`` (active and archived, as ``SQLAlchemyChatStore``) replaced by ``messages``."""
        stored = [to_stored(m) for m in messages]
        await self._core.areplace(key, stored, status=_status(status), whole_session=True)  # type: ignore[arg-type]

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        found = await self._core.adelete_at(key, idx)
        return from_stored(found) if found else None

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        await self._core.adelete(key, status=_status(status))  # type: ignore[arg-type]

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        return [from_stored(m) for m in await self._core.apop_oldest(key, n)]

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        return [from_stored(m) for m in await self._core.aarchive_oldest(key, n)]

    async def get_keys(self) -> list[str]:
        return await self._core.asessions()
