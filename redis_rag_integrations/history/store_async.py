"""The asyncio half of :class:`~.store.ChatHistoryStore`: every method an ``a``-prefixed twin of a sync one.

Why a mixin: the store is one class to its users, and its sync and async methods differ only in how they reach
Redis; what they send is built by the store's shared helpers (key layout, encoding, the queued MULTI bodies, the
read windows), so this file holds only the awaiting, as :mod:`..cache.semantic_async` does for the cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import metrics, replication
from ..decoding import as_str
from .checks import whole_number
from .keys import ARCHIVE_OLDEST_LUA, DELETE_AT_LUA
from .message import StoredMessage

if TYPE_CHECKING:
    from .store import ChatHistoryStore, Status

    _Store = ChatHistoryStore
else:
    _Store = object


class AsyncHistoryMethods(_Store):
    """Mixed into :class:`~.store.ChatHistoryStore`; uses its attributes and sync helpers."""

    async def _atransaction(self) -> Any:
        return (await self.aclient()).pipeline(transaction=True)

    @metrics.timed("history.append")
    async def aappend(self, session_id: str, messages: Sequence[StoredMessage], *, status: Status = "active") -> None:
        keys = self.keys(session_id)
        entries = self.encode_all(messages)
        if not entries:
            return
        (key,) = self._status_keys(keys, "archived" if status == "archived" else "active")
        pipe = await self._atransaction()
        self._queue_append(pipe, keys, key, entries)
        await pipe.execute()
        if (durability := replication.Durability.for_key(self.settings, key)) is not None:
            await replication.await_replicas(await self.aclient(), durability)
        metrics.count("history.messages_written", len(entries))

    @metrics.timed("history.read")
    async def aread(
        self,
        session_id: str,
        *,
        last: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        status: Status = "active",
    ) -> list[StoredMessage]:
        keys = self.keys(session_id)
        lists = self._status_keys(keys, status)
        last, limit, offset = self._window_args(last, limit, offset)
        if last is not None and limit is None and offset is None and len(lists) == 1:
            if last < 0:
                raise ValueError(f"last must be >= 0, got {last}")
            if last == 0:
                return []
            pipe = await self._atransaction()
            pipe.llen(lists[0])
            pipe.lrange(lists[0], -last, -1)
            total, raws = await pipe.execute()
            return self._decode_ranges([(lists[0], total - len(raws), raws)])
        pipe = await self._atransaction()
        for key in lists:
            pipe.lrange(key, 0, -1)
        return self._slice(lists, await pipe.execute(), last, limit, offset)

    async def acount(self, session_id: str, *, status: Status = "active") -> int:
        keys = self.keys(session_id)
        client = await self.aclient()
        return sum([int(await client.llen(k)) for k in self._status_keys(keys, status)])

    @metrics.timed("history.replace")
    async def areplace(
        self,
        session_id: str,
        messages: Sequence[StoredMessage],
        *,
        status: Status = "active",
        whole_session: bool = False,
    ) -> None:
        keys = self.keys(session_id)
        (key,) = self._status_keys(keys, "archived" if status == "archived" else "active")
        entries = self.encode_all(messages)
        pipe = await self._atransaction()
        self._queue_replace(pipe, keys, key, entries, whole_session=whole_session)
        await pipe.execute()

    async def adelete(self, session_id: str, *, status: Status = "all") -> None:
        keys = self.keys(session_id)
        if status != "all":
            await self.areplace(session_id, [], status=status)
            return
        client = await self.aclient()
        recalled = [keys.recall_prefix + as_str(m) for m in await client.smembers(keys.recalled)]
        await client.delete(*keys.all_plain(), *recalled)

    async def adelete_at(self, session_id: str, index: int) -> StoredMessage | None:
        keys, position, args = self._delete_at_args(session_id, index)
        client = await self.aclient()
        raw = await client.eval(DELETE_AT_LUA, len(keys.all_plain()), *args)
        return self.decode_all([raw], keys.active, position)[0] if raw else None

    async def apop_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        keys = self.keys(session_id)
        n = whole_number("n", n, minimum=0)
        if n == 0:
            return []
        pipe = await self._atransaction()
        pipe.lpop(keys.active, n)
        pipe.set(keys.recall_dirty, b"1")
        self._queue_ttl(pipe, keys)
        raws = (await pipe.execute())[0] or []
        return self.decode_all(raws, keys.active, 0)

    async def aarchive_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        keys = self.keys(session_id)
        n = whole_number("n", n, minimum=0)
        if n == 0:
            return []
        client = await self.aclient()
        raws = await client.eval(ARCHIVE_OLDEST_LUA, len(keys.all_plain()), *keys.all_plain(), self.ttl or 0, n)
        return self.decode_all(raws or [], keys.active, 0)

    async def atrim(self, session_id: str, keep_last: int) -> int:
        keep_last = whole_number("keep_last", keep_last, minimum=0)
        keys = self.keys(session_id)
        pipe = await self._atransaction()
        pipe.llen(keys.active)
        if keep_last:
            pipe.ltrim(keys.active, -keep_last, -1)
        else:
            pipe.delete(keys.active)
        pipe.set(keys.recall_dirty, b"1")
        self._queue_ttl(pipe, keys)
        before = int((await pipe.execute())[0])
        return max(0, before - keep_last)

    async def aiter_sessions(self, count: int = 500) -> AsyncIterator[str]:
        client = await self.aclient()
        async for key in client.scan_iter(match=self.layout.scan_pattern_lists, count=count, _type="list"):
            sid = self.layout.session_id_of_list(as_str(key))
            if sid is not None:
                yield sid

    async def asessions(self) -> list[str]:
        return sorted({sid async for sid in self.aiter_sessions()})
