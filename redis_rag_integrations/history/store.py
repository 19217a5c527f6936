"""``ChatHistoryStore``: sessions of chat messages in Redis, sync and async, for any framework.

One instance serves many sessions (the session id is an argument), holds one sync client and one asyncio client
per event loop (LlamaIndex runs coroutines on fresh loops from sync code; a client bound to another loop fails).
The adapters in ``langchain/history.py`` and ``llama_index/chat_store.py`` only translate message types. The async
twins of the methods are in :mod:`.store_async`.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from .. import metrics, replication, tenancy
from ..clients import RedisClients
from ..connection import AsyncClient, SyncClient
from ..decoding import as_str
from ..settings import Settings, get_settings
from .checks import optional_count, whole_number
from .errors import CorruptEntryError, CorruptEntryWarning
from .keys import ARCHIVE_OLDEST_LUA, DELETE_AT_LUA, SessionKeys, SessionLayout
from .message import DEFAULT_MAX_MESSAGE_BYTES, StoredMessage, decode, encode
from .order import merge, next_seqs
from .store_async import AsyncHistoryMethods

Status = Literal["active", "archived", "all"]
OnCorrupt = Literal["raise", "skip"]


def _one_of(name: str, value: Any, alias: str, alias_value: Any) -> Any:
    if value is not None and alias_value is not None:
        raise TypeError(f"pass {name} or {alias}, not both")
    return value if value is not None else alias_value


class ChatHistoryStore(AsyncHistoryMethods):
    """Chat sessions in Redis LISTs (see :mod:`.layout`), with TTL, windows, trimming and archiving.

    Args:
        redis_url: the Redis to use; default :func:`redis_rag_integrations.redis_url` (the embedded server when
            ``REDIS_URL`` is unset). Plain history needs no Redis module.
        client / async_client: ready clients instead of a URL (``redis.Redis`` or ``redis.cluster.RedisCluster``
            and their asyncio kinds; ``redis_client`` / ``async_redis_client`` are accepted too, the names the
            vector stores use). A given async client is used on every loop; with only a sync client, the async
            API gets a twin of it per event loop (same servers and credentials), never the default Redis.
        prefix: key prefix; sessions live at ``{prefix}:{session_id}``.
        tenant: a tenant name (or :class:`~redis_rag_integrations.tenancy.Tenant`): its sessions, archives and
            recall entries live under the tenant's hash tag and no other tenant's store sees them.
        ttl: seconds a session lives after its last write (refreshed on every write); default
            ``Settings.history_ttl`` (unset = forever).
        max_message_bytes: larger messages are rejected with :class:`MessageTooLargeError`, nothing written.
        on_corrupt: ``"raise"`` (default) a :class:`CorruptEntryError` naming the key and index, carrying the
            other messages in ``.readable``; or ``"skip"`` the entry with a :class:`CorruptEntryWarning`.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        client: SyncClient | None = None,
        async_client: AsyncClient | None = None,
        prefix: str = "chat",
        ttl: int | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        on_corrupt: OnCorrupt = "raise",
        settings: Settings | None = None,
        redis_client: SyncClient | None = None,
        async_redis_client: AsyncClient | None = None,
        tenant: tenancy.TenantLike = None,
    ) -> None:
        client = _one_of("client", client, "redis_client", redis_client)
        async_client = _one_of("async_client", async_client, "async_redis_client", async_redis_client)
        self.settings = settings or get_settings()
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl}")
        if max_message_bytes <= 0:
            raise ValueError(f"max_message_bytes must be positive, got {max_message_bytes}")
        if on_corrupt not in ("raise", "skip"):
            raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")
        #: ``tenant``: sessions live under the tenant's hash tag, ``rag:{t}:chat:{sid}`` (:mod:`..tenancy`).
        self.tenant = tenancy.resolve(tenant)
        self.layout = SessionLayout(prefix, self.tenant)
        self.ttl = ttl if ttl is not None else self.settings.history_ttl
        self.max_message_bytes = max_message_bytes
        self.on_corrupt: OnCorrupt = on_corrupt
        url = redis_url or (None if client is not None else self.settings.redis_url)
        #: Every client comes from here; async ones per event loop, at call time (see :mod:`..clients`).
        self._clients = RedisClients(url, settings=self.settings, client=client, async_client=async_client, require=())

    # --- clients ----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._clients.url

    @property
    def clients(self) -> RedisClients:
        """Where this store's clients come from (shared with :class:`.recall.RelevantRecall`)."""
        return self._clients

    @property
    def client(self) -> SyncClient:
        return self._clients.client

    @property
    def async_client(self) -> AsyncClient:
        """The asyncio client of the running event loop (one per loop), for synchronous code on a loop; async
        code awaits :meth:`aclient`, which never blocks the loop."""
        return self._clients.current_async_client()

    async def aclient(self) -> AsyncClient:
        """The running loop's asyncio client, ready for transactions (see :func:`connection.ready`)."""
        return await self._clients.aclient()

    def keys(self, session_id: str) -> SessionKeys:
        return self.layout.session(session_id)

    # --- shared helpers -----------------------------------------------------------------------------------------
    def encode_all(self, messages: Sequence[StoredMessage]) -> list[bytes]:
        """Encode every message first, so a bad one fails the whole call before anything is written."""
        if isinstance(messages, StoredMessage):
            raise TypeError("pass a sequence of StoredMessage, not a single message")
        messages = list(messages)
        seqs = next_seqs(len(messages))
        return [encode(m, max_bytes=self.max_message_bytes, seq=seq) for m, seq in zip(messages, seqs, strict=True)]

    def decode_all(self, raws: Sequence[bytes], key: str, first_index: int) -> list[StoredMessage]:
        out: list[StoredMessage] = []
        errors: list[CorruptEntryError] = []
        for offset, raw in enumerate(raws):
            try:
                out.append(decode(raw, key=key, index=first_index + offset))
            except CorruptEntryError as exc:
                errors.append(exc)
        if errors:
            if self.on_corrupt == "raise":
                errors[0].readable = out
                raise errors[0]
            for exc in errors:
                warnings.warn(str(exc), CorruptEntryWarning, stacklevel=3)
        return out

    def _queue_ttl(self, pipe: Any, keys: SessionKeys) -> None:
        if self.ttl:
            for key in keys.refreshed_on_write():
                pipe.expire(key, self.ttl)

    def _queue_append(self, pipe: Any, keys: SessionKeys, key: str, entries: list[bytes]) -> None:
        pipe.rpush(key, *entries)
        self._queue_ttl(pipe, keys)

    def _queue_replace(
        self, pipe: Any, keys: SessionKeys, key: str, entries: list[bytes], *, whole_session: bool = False
    ) -> None:
        pipe.delete(*([keys.active, keys.archived] if whole_session else [key]))
        if entries:
            pipe.rpush(key, *entries)
        pipe.set(keys.recall_dirty, b"1")
        self._queue_ttl(pipe, keys)

    def _status_keys(self, keys: SessionKeys, status: Status) -> list[str]:
        if status == "active":
            return [keys.active]
        if status == "archived":
            return [keys.archived]
        if status == "all":
            return [keys.archived, keys.active]
        raise ValueError(f"status must be 'active', 'archived' or 'all', got {status!r}")

    @staticmethod
    def _window(total: int, last: int | None, limit: int | None, offset: int | None) -> tuple[int, int]:
        """[start, stop) over ``total`` entries for a last-N window or a limit/offset page."""
        last, limit, offset = ChatHistoryStore._window_args(last, limit, offset)
        start, stop = 0, total
        if last is not None:
            start = max(0, total - last)
        if offset is not None:
            start = min(total, start + offset)
        if limit is not None:
            stop = min(stop, start + limit)
        return start, stop

    @staticmethod
    def _window_args(last: Any, limit: Any, offset: Any) -> tuple[int | None, int | None, int | None]:
        """The window's numbers checked (whole, >= 0) before anything is sent."""
        return optional_count("last", last), optional_count("limit", limit), optional_count("offset", offset)

    def _delete_at_args(self, session_id: str, index: Any) -> tuple[SessionKeys, int, list[Any]]:
        """Keys, the checked index and the script's arguments of ``delete_at`` (sync and async)."""
        keys = self.keys(session_id)
        position = whole_number("index", index)
        args = [*keys.all_plain(), self.ttl or 0, position, uuid.uuid4().hex]
        return keys, position, args

    def _decode_ranges(self, parts: list[tuple[str, int, list[bytes]]]) -> list[StoredMessage]:
        out: list[StoredMessage] = []
        errors: list[CorruptEntryError] = []
        for key, first, raws in parts:
            try:
                out.extend(self.decode_all(raws, key, first))
            except CorruptEntryError as exc:
                out.extend(exc.readable)
                errors.append(exc)
        if errors:
            errors[0].readable = out
            raise errors[0]
        return out

    # --- sync API -----------------------------------------------------------------------------------------------
    @metrics.timed("history.append")
    def append(self, session_id: str, messages: Sequence[StoredMessage], *, status: Status = "active") -> None:
        """Append ``messages`` atomically (one RPUSH: contiguous, in order, never interleaved with other writers)
        to the active (or archived) list and refresh the session's TTL."""
        keys = self.keys(session_id)
        entries = self.encode_all(messages)
        if not entries:
            return
        (key,) = self._status_keys(keys, "archived" if status == "archived" else "active")
        pipe = self.client.pipeline(transaction=True)
        self._queue_append(pipe, keys, key, entries)
        pipe.execute()
        if (durability := replication.Durability.for_key(self.settings, key)) is not None:
            replication.wait(self.client, durability)  # write_replicas: the messages are on N replicas
        metrics.count("history.messages_written", len(entries))

    @metrics.timed("history.read")
    def read(
        self,
        session_id: str,
        *,
        last: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        status: Status = "active",
    ) -> list[StoredMessage]:
        """Messages oldest first: all, the ``last`` N, or a ``limit``/``offset`` page. ``status="all"`` interleaves
        the archived and the active messages in the order they were written (:mod:`.order`)."""
        keys = self.keys(session_id)
        lists = self._status_keys(keys, status)
        last, limit, offset = self._window_args(last, limit, offset)
        if last is not None and limit is None and offset is None and len(lists) == 1:
            return self._read_last(lists[0], last)
        pipe = self.client.pipeline(transaction=True)
        for key in lists:
            pipe.lrange(key, 0, -1)
        return self._slice(lists, pipe.execute(), last, limit, offset)

    def _read_last(self, key: str, last: int) -> list[StoredMessage]:
        if last < 0:
            raise ValueError(f"last must be >= 0, got {last}")
        if last == 0:
            return []
        pipe = self.client.pipeline(transaction=True)
        pipe.llen(key)
        pipe.lrange(key, -last, -1)
        total, raws = pipe.execute()
        return self._decode_ranges([(key, total - len(raws), raws)])

    def _slice(
        self, lists: list[str], replies: list[list[bytes]], last: int | None, limit: int | None, offset: int | None
    ) -> list[StoredMessage]:
        if len(lists) == 2:  # status "all": the archive and the active list interleaved in insertion order
            located = merge((lists[0], replies[0]), (lists[1], replies[1]))
        else:
            located = [(lists[0], i, raw) for i, raw in enumerate(replies[0])]
        start, stop = self._window(len(located), last, limit, offset)
        parts: list[tuple[str, int, list[bytes]]] = []
        for key, i, raw in located[start:stop]:
            if parts and parts[-1][0] == key:
                parts[-1][2].append(raw)
            else:
                parts.append((key, i, [raw]))
        return self._decode_ranges(parts)

    def count(self, session_id: str, *, status: Status = "active") -> int:
        keys = self.keys(session_id)
        return sum(int(self.client.llen(k)) for k in self._status_keys(keys, status))

    @metrics.timed("history.replace")
    def replace(
        self,
        session_id: str,
        messages: Sequence[StoredMessage],
        *,
        status: Status = "active",
        whole_session: bool = False,
    ) -> None:
        """Replace the session's active (or archived) messages in one transaction; ``whole_session``: every
        message of the session, both lists (``AsyncDBChatStore.set_messages``), the new ones with ``status``."""
        keys = self.keys(session_id)
        (key,) = self._status_keys(keys, "archived" if status == "archived" else "active")
        entries = self.encode_all(messages)
        pipe = self.client.pipeline(transaction=True)
        self._queue_replace(pipe, keys, key, entries, whole_session=whole_session)
        pipe.execute()

    def delete(self, session_id: str, *, status: Status = "all") -> None:
        """Delete the session (``"all"``: every key, recall entries included) or only its active/archived list."""
        keys = self.keys(session_id)
        if status != "all":
            self.replace(session_id, [], status=status)
            return
        recalled = [keys.recall_prefix + as_str(m) for m in self.client.smembers(keys.recalled)]
        self.client.delete(*keys.all_plain(), *recalled)

    def delete_at(self, session_id: str, index: int) -> StoredMessage | None:
        """Remove and return the active message at ``index`` (negative counts from the end); None if absent."""
        keys, position, args = self._delete_at_args(session_id, index)
        raw = self.client.eval(DELETE_AT_LUA, len(keys.all_plain()), *args)
        return self.decode_all([raw], keys.active, position)[0] if raw else None

    def pop_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        """Remove and return the ``n`` oldest active messages (one LPOP: atomic)."""
        keys = self.keys(session_id)
        n = whole_number("n", n, minimum=0)
        if n == 0:
            return []
        pipe = self.client.pipeline(transaction=True)
        pipe.lpop(keys.active, n)
        pipe.set(keys.recall_dirty, b"1")
        self._queue_ttl(pipe, keys)
        raws = pipe.execute()[0] or []
        return self.decode_all(raws, keys.active, 0)

    def archive_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        """Move the ``n`` oldest active messages to the archive (atomically) and return them."""
        keys = self.keys(session_id)
        n = whole_number("n", n, minimum=0)
        if n == 0:
            return []
        raws = self.client.eval(ARCHIVE_OLDEST_LUA, len(keys.all_plain()), *keys.all_plain(), self.ttl or 0, n)
        return self.decode_all(raws or [], keys.active, 0)

    def trim(self, session_id: str, keep_last: int) -> int:
        """Keep only the last ``keep_last`` active messages; returns how many were removed."""
        keep_last = whole_number("keep_last", keep_last, minimum=0)
        keys = self.keys(session_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.llen(keys.active)
        if keep_last:
            pipe.ltrim(keys.active, -keep_last, -1)
        else:
            pipe.delete(keys.active)
        pipe.set(keys.recall_dirty, b"1")
        self._queue_ttl(pipe, keys)
        before = int(pipe.execute()[0])
        return max(0, before - keep_last)

    def ttl_of(self, session_id: str) -> int | None:
        """Seconds the session has left (None: no expiry or no session)."""
        remaining = int(self.client.ttl(self.keys(session_id).active))
        return remaining if remaining >= 0 else None

    def iter_sessions(self, count: int = 500) -> Iterator[str]:
        """Session ids, by SCAN on our prefix (never KEYS): safe on a large production keyspace. A session whose
        messages are all archived is listed too (it still holds messages); an id may come twice."""
        for key in self.client.scan_iter(match=self.layout.scan_pattern_lists, count=count, _type="list"):
            sid = self.layout.session_id_of_list(as_str(key))
            if sid is not None:
                yield sid

    def sessions(self) -> list[str]:
        return sorted(set(self.iter_sessions()))

    def close(self) -> None:
        """Let go of the clients: shared ones stay open for other components, async ones close with their loop."""
        self._clients.release()

    def __repr__(self) -> str:
        return f"ChatHistoryStore(prefix={self.layout.prefix!r}, ttl={self.ttl})"
