"""The one stored message format that both frameworks read and write.

A chat message is stored as one compact JSON object (an *entry*) in a Redis LIST. The fields are the common
ground of LangChain and LlamaIndex messages, so that a session written through one framework reads back through
the other with the same roles, contents and order:

==================== =====================================================================================
``v``                format version (1)
``id``               our entry id (a ULID, unique per message; recall and deletes refer to it)
``ts``               unix time the entry was written
``role``             ``user``, ``assistant``, ``system``, ``tool``, ``function``, ``developer``... or any
                     custom role string
``content``          a string, or a list of content blocks (dicts with a ``type``: ``text``, ``image`` /
                     ``image_url`` by reference, ``tool_call``...), as LangChain's standard blocks spell them
``name``             optional author / function name
``tool_calls``       ``[{"id", "name", "args"}]`` requested by an assistant message
``tool_call_id``     the call a ``tool`` message answers
``additional_kwargs``provider extras, kept verbatim
``extra``            framework-only details, namespaced (``{"langchain": {...}}``), so that each framework's
                     own messages round-trip exactly without the other needing to understand them
``seq``              the write's insertion order, always the last key (see :mod:`.order`); not part of the
                     message: a rewrite gives it a new one
==================== =====================================================================================

Nothing here imports LangChain or LlamaIndex: the adapters translate their message types to :class:`StoredMessage`.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from redisvl.utils.utils import create_ulid

from .errors import CorruptEntryError, MessageTooLargeError

FORMAT_VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 1_048_576  # 1 MiB: far above any chat turn, far below what hurts Redis latency


@dataclass
class StoredMessage:
    """A framework-neutral chat message, as stored. Build it with the adapters or by hand."""

    role: str
    content: str | list[dict[str, Any]] = ""
    name: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_call_id: str | None = None
    additional_kwargs: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=create_ulid)
    ts: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        """The message's plain text (text blocks joined): what relevant recall embeds."""
        if isinstance(self.content, str):
            return self.content
        parts = [str(b.get("text", "")) for b in self.content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored in Redis; empty optional fields are left out to keep entries small."""
        out: dict[str, Any] = {"v": FORMAT_VERSION, "id": self.id, "ts": self.ts, "role": self.role}
        out["content"] = self.content
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.additional_kwargs:
            out["additional_kwargs"] = self.additional_kwargs
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredMessage:
        """Build from a decoded entry; raises ``ValueError`` / ``TypeError`` on a malformed one."""
        if not isinstance(data, dict):
            raise TypeError(f"entry is a JSON {type(data).__name__}, expected an object")
        if data.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown format version {data.get('v')!r} (this code reads version {FORMAT_VERSION})")
        role, content = data.get("role"), data.get("content", "")
        if not isinstance(role, str) or not role:
            raise ValueError(f"'role' must be a non-empty string, got {role!r}")
        if not isinstance(content, (str, list)):
            raise ValueError(f"'content' must be a string or a list of blocks, got {type(content).__name__}")
        tool_calls = data.get("tool_calls", [])
        if not isinstance(tool_calls, list):
            raise ValueError("'tool_calls' must be a list")
        entry_id = data.get("id")
        if not isinstance(entry_id, str) or not entry_id:
            raise ValueError("'id' must be a non-empty string")
        return cls(
            role=role,
            content=content,
            name=data.get("name"),
            tool_calls=tool_calls,
            tool_call_id=data.get("tool_call_id"),
            additional_kwargs=dict(data.get("additional_kwargs") or {}),
            extra=dict(data.get("extra") or {}),
            id=entry_id,
            ts=float(data.get("ts", 0.0)),
        )


def _json_default(value: Any) -> Any:
    """Serialise what providers put into ``additional_kwargs`` (pydantic objects, bytes); refuse the rest."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be stored in chat history (not JSON-serialisable)")


def encode(message: StoredMessage, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, seq: int | None = None) -> bytes:
    """The entry bytes for ``message``. Raises :class:`MessageTooLargeError` above ``max_bytes`` (never truncates)
    and ``TypeError`` for values that are not JSON-serialisable, before anything is written. ``seq``, the write's
    insertion order (:mod:`.order`), goes last, where the archive script finds it."""
    fields = message.to_dict()
    if seq is not None:
        fields["seq"] = seq
    try:
        raw = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot store {message.role!r} message: {exc}") from exc
    data = raw.encode("utf-8")
    # the limit is on the message: the seq (our bookkeeping, ',"seq":N') does not count against it
    if len(data) - (len(f',"seq":{seq}') if seq is not None else 0) > max_bytes:
        raise MessageTooLargeError(
            f"{message.role!r} message is {len(data)} bytes once encoded, above max_message_bytes={max_bytes}: "
            "nothing was written. Store large payloads (files, images) elsewhere and keep a reference (a URL) in "
            "the message, or raise max_message_bytes."
        )
    return data


def decode(raw: bytes | str, *, key: str, index: int) -> StoredMessage:
    """Decode one entry; a malformed entry raises :class:`CorruptEntryError` naming the key and position."""
    try:
        return StoredMessage.from_dict(json.loads(raw))
    except (ValueError, TypeError) as exc:
        preview = raw[:80] if isinstance(raw, str) else raw[:80].decode("utf-8", "replace")
        raise CorruptEntryError(key, index, f"{exc} (entry starts {preview!r})") from exc
