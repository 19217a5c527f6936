"""Errors and warnings of the chat history, each naming what is wrong and where."""

from __future__ import annotations

from typing import Any

from ..errors import RedisRagError


class HistoryError(RedisRagError):
    """Base class of chat history errors."""


class InvalidSessionIdError(HistoryError, ValueError):
    """A session id that cannot name a session (empty, or with the braces that delimit the cluster hash tag)."""


class MessageTooLargeError(HistoryError, ValueError):
    """A message above ``max_message_bytes``; it was not written (never truncated)."""


class CorruptEntryError(HistoryError, ValueError):
    """A stored entry that does not decode (edited by hand, written by something else).

    ``key`` and ``index`` say where it is; ``readable`` holds the session's other messages, all decoded, so the
    caller loses nothing else (read with ``on_corrupt="skip"`` to get them with a warning instead).
    """

    def __init__(self, key: str, index: int, reason: str) -> None:
        self.key = key
        self.index = index
        self.reason = reason
        self.readable: list[Any] = []
        super().__init__(
            f"corrupt chat history entry at index {index} of Redis key {key!r}: {reason}. The other entries are "
            "intact: read with on_corrupt='skip' to get them, and fix or LREM the entry."
        )


class CorruptEntryWarning(UserWarning):
    """Emitted for each corrupt entry skipped when reading with ``on_corrupt="skip"``."""
