"""Framework-neutral chat history: sessions in Redis LISTs, one stored format, relevant recall.

The LangChain ``RedisChatMessageHistory`` and the LlamaIndex ``RedisChatStore`` / ``RedisAsyncChatStore`` are thin
translations over :class:`ChatHistoryStore` and :class:`RelevantRecall`, so a session written by one framework
reads back through the other.
"""

from __future__ import annotations

from .errors import CorruptEntryError, CorruptEntryWarning, HistoryError, InvalidSessionIdError, MessageTooLargeError
from .keys import SessionKeys, SessionLayout, check_session_id
from .message import DEFAULT_MAX_MESSAGE_BYTES, StoredMessage, decode, encode
from .recall import RelevantRecall
from .store import ChatHistoryStore

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ChatHistoryStore",
    "CorruptEntryError",
    "CorruptEntryWarning",
    "HistoryError",
    "InvalidSessionIdError",
    "MessageTooLargeError",
    "RelevantRecall",
    "SessionKeys",
    "SessionLayout",
    "StoredMessage",
    "check_session_id",
    "decode",
    "encode",
]
