"""LangChain ``RedisChatMessageHistory`` over the framework-neutral history core.

Use it with ``RunnableWithMessageHistory``::

    chain = RunnableWithMessageHistory(llm, lambda sid: RedisChatMessageHistory(sid))

LangChain messages become :class:`~redis_rag_integrations.history.StoredMessage` entries: the shared fields carry what
LlamaIndex understands too (role, content, tool calls...), and LangChain-only fields (message ``id``,
``response_metadata``, ``usage_metadata``, ``artifact``...) ride in ``extra["langchain"]`` so every LangChain message
type reads back equal to what was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, messages_from_dict

from ..embeddings import Embedder
from ..history import ChatHistoryStore, RelevantRecall, StoredMessage, check_session_id
from ..history.checks import whole_number

# LangChain message type -> neutral role. Anything else (ChatMessage) stores its own role.
_ROLE_OF_TYPE = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "function",
    "HumanMessageChunk": "user",
    "AIMessageChunk": "assistant",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
    "FunctionMessageChunk": "function",
}
_TYPE_OF_ROLE = {"user": "human", "assistant": "ai", "system": "system", "tool": "tool", "function": "function"}
_SHARED = ("content", "name", "additional_kwargs", "tool_calls", "tool_call_id", "type", "role")


def to_stored(message: BaseMessage) -> StoredMessage:
    """A LangChain message as a stored entry (nothing dropped)."""
    if not isinstance(message, BaseMessage):
        raise TypeError(f"expected a LangChain BaseMessage, got {type(message).__name__}")
    data = message.model_dump()
    role = getattr(message, "role", None) if message.type in ("chat", "ChatMessageChunk") else None
    tool_calls = [{"id": c.get("id"), "name": c["name"], "args": c["args"]} for c in data.get("tool_calls") or []]
    own = {k: v for k, v in data.items() if k not in _SHARED and v not in (None, {}, [])}
    return StoredMessage(
        role=role or _ROLE_OF_TYPE.get(message.type, message.type),
        content=data["content"],
        name=data.get("name"),
        tool_calls=tool_calls,
        tool_call_id=data.get("tool_call_id"),
        additional_kwargs=data.get("additional_kwargs") or {},
        extra={"langchain": {"type": message.type, **own}},
    )


def from_stored(stored: StoredMessage) -> BaseMessage:
    """The LangChain message for an entry written by either framework."""
    own = dict(stored.extra.get("langchain") or {})
    msg_type = own.pop("type", None) or _TYPE_OF_ROLE.get(stored.role, "chat")
    data: dict[str, Any] = {"content": stored.content, "additional_kwargs": dict(stored.additional_kwargs), **own}
    if stored.name is not None:
        data["name"] = stored.name
    if msg_type in ("ai", "AIMessageChunk"):
        data["tool_calls"] = [{**c, "type": "tool_call"} for c in stored.tool_calls]
    if msg_type in ("tool", "ToolMessageChunk"):
        data["tool_call_id"] = stored.tool_call_id or ""
    if msg_type in ("chat", "ChatMessageChunk"):
        data["role"] = stored.role
    if msg_type in ("function", "FunctionMessageChunk"):
        data.setdefault("name", "")
    return messages_from_dict([{"type": msg_type, "data": data}])[0]


class RedisChatMessageHistory(BaseChatMessageHistory):
    """One chat session in Redis; sync and async, shared with LlamaIndex's ``RedisChatStore``.

    Args:
        session_id: the conversation; any string without ``{`` / ``}`` (they delimit the cluster hash tag).
        redis_url: default the package's Redis (``REDIS_URL`` or the embedded server). No module needed.
        ttl: seconds the session lives after its last write; default ``Settings.history_ttl``.
        window: when set, ``messages`` returns only the last ``window`` messages (what the LLM gets).
        store: share one :class:`ChatHistoryStore` (and its connections) between many histories.
        embedder: for :meth:`get_relevant`; default the package's embedder.
        **store_kwargs: ``prefix``, ``max_message_bytes``, ``on_corrupt``... for a new store.
    """

    def __init__(
        self,
        session_id: str,
        redis_url: str | None = None,
        ttl: int | None = None,
        *,
        window: int | None = None,
        store: ChatHistoryStore | None = None,
        embedder: Embedder | None = None,
        **store_kwargs: Any,
    ) -> None:
        self.session_id = check_session_id(session_id)
        self.window = None if window is None else whole_number("window", window, minimum=0)
        self.store = store or ChatHistoryStore(redis_url, ttl=ttl, **store_kwargs)
        self._embedder = embedder
        self._recall: RelevantRecall | None = None

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        return [from_stored(m) for m in self.store.read(self.session_id, last=self.window)]

    async def aget_messages(self) -> list[BaseMessage]:
        return [from_stored(m) for m in await self.store.aread(self.session_id, last=self.window)]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append all ``messages`` in one atomic write (all or nothing)."""
        self.store.append(self.session_id, [to_stored(m) for m in messages])

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        await self.store.aappend(self.session_id, [to_stored(m) for m in messages])

    def clear(self) -> None:
        self.store.delete(self.session_id)

    async def aclear(self) -> None:
        await self.store.adelete(self.session_id)

    def get_last(self, n: int) -> list[BaseMessage]:
        """The last ``n`` messages, oldest first."""
        return [from_stored(m) for m in self.store.read(self.session_id, last=n)]

    def trim(self, keep_last: int) -> int:
        """Drop all but the last ``keep_last`` messages; returns how many were dropped."""
        return self.store.trim(self.session_id, keep_last)

    @property
    def recall(self) -> RelevantRecall:
        if self._recall is None:
            self._recall = RelevantRecall(self.store, self._embedder)
        return self._recall

    def get_relevant(self, query: str, k: int = 4, *, exclude_recent: int = 0) -> list[BaseMessage]:
        """Earlier messages of this session most relevant to ``query`` (best first); needs the search module."""
        found = self.recall.get_relevant(self.session_id, query, k, exclude_recent=exclude_recent)
        return [from_stored(m) for m in found]

    async def aget_relevant(self, query: str, k: int = 4, *, exclude_recent: int = 0) -> list[BaseMessage]:
        found = await self.recall.aget_relevant(self.session_id, query, k, exclude_recent=exclude_recent)
        return [from_stored(m) for m in found]

    def __repr__(self) -> str:
        return f"RedisChatMessageHistory(session_id={self.session_id!r}, window={self.window})"
