"""``RedisAsyncChatStore`` against LlamaIndex's own ``SQLAlchemyChatStore`` (sqlite in memory): random sequences of
adds, sets, archives and deletes with random statuses, counts and indexes; after every step both stores hold the
same messages in the same order, or ours refused the step with a clear error and changed nothing.

Where the two differ by design: ``delete_message`` takes a position in the active list here (a LIST has no row
ids), so the reference is given the id of the row at that position; a negative count is refused here (sqlite's
``LIMIT -1`` would mean "all"), and so is anything that is not a whole number.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.storage.chat_store.base_db import MessageStatus

from redis_rag_integrations.llama_index import RedisAsyncChatStore

pytest.importorskip("aiosqlite")
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from sqlalchemy import select

KEYS = ["a", "b"]
statuses = st.sampled_from([MessageStatus.ACTIVE, MessageStatus.ARCHIVED])
any_status = st.sampled_from([None, MessageStatus.ACTIVE, MessageStatus.ARCHIVED])
counts = st.one_of(st.integers(min_value=-2, max_value=6), st.sampled_from([1.5, "2", None, True]))
windows = st.one_of(st.none(), st.integers(min_value=-1, max_value=6), st.sampled_from([2.0, "1"]))
key = st.sampled_from(KEYS)

ops = st.one_of(
    st.tuples(st.just("add"), key, statuses, st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("add_one"), key, statuses),
    st.tuples(st.just("set"), key, statuses, st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("archive"), key, counts),
    st.tuples(st.just("delete_oldest"), key, counts),
    st.tuples(st.just("delete_at"), key, st.one_of(st.integers(min_value=-5, max_value=5), counts)),
    st.tuples(st.just("delete_all"), key, any_status),
    st.tuples(st.just("page"), key, any_status, windows, windows),
)


def _whole(value: Any, minimum: int | None = None) -> bool:
    """Would our store take ``value`` as a count / index? (an int, not a bool, not below ``minimum``)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    return ok and (minimum is None or value >= minimum)


class _Pair:
    """Ours and the reference, stepped together."""

    def __init__(self, ours: RedisAsyncChatStore, ref: SQLAlchemyChatStore) -> None:
        self.ours, self.ref, self.n = ours, ref, 0

    def _new(self, count: int) -> list[ChatMessage]:
        out = []
        for _ in range(count):
            self.n += 1
            out.append(ChatMessage(role="user" if self.n % 2 else "assistant", content=f"m{self.n}"))
        return out

    async def snapshot(self, store: Any) -> dict[str, list[tuple[str, str, str]]]:
        out = {}
        for k in KEYS:
            rows = []
            for status in (MessageStatus.ACTIVE, MessageStatus.ARCHIVED):
                rows += [(status.value, m.role.value, m.content or "") for m in await store.get_messages(k, status)]
            every = [m.content or "" for m in await store.get_messages(k, status=None)]
            out[k] = sorted(rows, key=lambda r: every.index(r[2]))  # all of them, in insertion order
        return out

    async def _ref_row_id(self, k: str, idx: int) -> int | None:
        """The reference's row id of the active message at position ``idx`` (negative from the end)."""
        factory, table = await self.ref._initialize()
        query = select(table.c.id).where(table.c.key == k, table.c.status == MessageStatus.ACTIVE.value)
        async with factory() as session:
            ids = [row[0] for row in (await session.execute(query.order_by(table.c.timestamp, table.c.id)))]
        return ids[idx] if -len(ids) <= idx < len(ids) else None

    async def step(self, op: tuple[Any, ...]) -> None:
        kind, k = op[0], op[1]
        if kind == "add":
            msgs = self._new(op[3])
            await self.ours.add_messages(k, msgs, status=op[2])
            await self.ref.add_messages(k, msgs, status=op[2])
        elif kind == "add_one":
            (msg,) = self._new(1)
            await self.ours.add_message(k, msg, status=op[2])
            await self.ref.add_message(k, msg, status=op[2])
        elif kind == "set":
            msgs = self._new(op[3])
            await self.ours.set_messages(k, msgs, status=op[2])
            await self.ref.set_messages(k, msgs, status=op[2])
        elif kind in ("archive", "delete_oldest"):
            name = "archive_oldest_messages" if kind == "archive" else "delete_oldest_messages"
            if not _whole(op[2], 0):
                await self._refused(getattr(self.ours, name)(k, op[2]))
                return
            got = await getattr(self.ours, name)(k, op[2])
            want = await getattr(self.ref, name)(k, op[2])
            assert [m.content for m in got] == [m.content for m in want], op
        elif kind == "delete_at":
            if not _whole(op[2]):
                await self._refused(self.ours.delete_message(k, op[2]))
                return
            row = await self._ref_row_id(k, op[2])
            got = await self.ours.delete_message(k, op[2])
            want = None if row is None else await self.ref.delete_message(k, row)
            assert (got and got.content) == (want and want.content), op
        elif kind == "delete_all":
            await self.ours.delete_messages(k, status=op[2])
            await self.ref.delete_messages(k, status=op[2])
        elif kind == "page":
            _, _, status, limit, offset = op
            if not all(v is None or _whole(v, 0) for v in (limit, offset)):
                await self._refused(self.ours.get_messages(k, status=status, limit=limit, offset=offset))
                return
            got = await self.ours.get_messages(k, status=status, limit=limit, offset=offset)
            want = await self.ref.get_messages(k, status=status, limit=limit, offset=offset)
            assert [m.content for m in got] == [m.content for m in want], op

    async def _refused(self, call: Any) -> None:
        before = await self.snapshot(self.ours)
        with pytest.raises((TypeError, ValueError), match="must be"):
            await call
        assert await self.snapshot(self.ours) == before  # nothing lost on refusal

    async def check_same(self, op: Any) -> None:
        assert await self.snapshot(self.ours) == await self.snapshot(self.ref), op
        for k in KEYS:
            for status in (None, MessageStatus.ACTIVE, MessageStatus.ARCHIVED):
                assert await self.ours.count_messages(k, status) == await self.ref.count_messages(k, status)
        assert sorted(await self.ours.get_keys()) == sorted(await self.ref.get_keys()), op


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(ops, min_size=1, max_size=14))
def test_async_chat_store_matches_sqlalchemy_chat_store(redis_url: str, steps: list[tuple[Any, ...]]) -> None:
    name = f"t{uuid.uuid4().hex[:12]}"
    pair = _Pair(
        RedisAsyncChatStore(redis_url=redis_url, prefix=name),
        SQLAlchemyChatStore(table_name=name, async_database_uri="sqlite+aiosqlite:///:memory:"),
    )

    async def run() -> None:
        try:
            for op in steps:
                await pair.step(op)
                await pair.check_same(op)
        finally:
            for k in KEYS:
                await pair.ours.delete_messages(k)

    asyncio.run(run())


# --- Memory over each store ------------------------------------------------------------------------------------------

memory_ops = st.one_of(
    st.tuples(st.just("put"), st.integers(min_value=1, max_value=12)),
    st.tuples(st.just("put_many"), st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=3)),
    st.tuples(st.just("set"), st.lists(st.integers(min_value=1, max_value=8), max_size=3)),
    st.tuples(st.just("reset"), any_status),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(memory_ops, min_size=1, max_size=12))
@example(steps=[("put", 12)] * 8 + [("set", [3]), ("put", 12)])  # flushed into the archive, then set
@example(steps=[("put_many", [8, 8, 8])] * 3 + [("reset", MessageStatus.ACTIVE), ("put", 2)])
def test_memory_over_redis_matches_memory_over_sqlalchemy(redis_url: str, steps: list[tuple[Any, ...]]) -> None:
    """What ``Memory`` users see: its active window (``aget``) and whole history (``aget_all``, per status) after
    random puts (long enough to make it flush into the archive), sets and resets."""
    from llama_index.core.memory import Memory

    name = f"t{uuid.uuid4().hex[:12]}"
    ours = RedisAsyncChatStore(redis_url=redis_url, prefix=name)
    ref = SQLAlchemyChatStore(table_name=name, async_database_uri="sqlite+aiosqlite:///:memory:")
    options: dict[str, Any] = {"token_limit": 60, "chat_history_token_ratio": 0.5, "token_flush_size": 15}
    memories = [Memory.from_defaults(session_id="s", chat_store=store, **options) for store in (ours, ref)]
    counter = iter(range(10**6))
    archived_any: list[bool] = []

    def text(words: int) -> str:
        return f"turn {next(counter)} " + " ".join(["word"] * words)

    async def run() -> None:
        try:
            for op in steps:
                batch: list[ChatMessage] | None = None
                if op[0] == "put":
                    batch = [ChatMessage(role="user", content=text(op[1]))]
                elif op[0] in ("put_many", "set"):
                    batch = [ChatMessage(role="assistant", content=text(n)) for n in op[1]]
                for memory in memories:
                    if op[0] == "put":
                        await memory.aput(batch[0])  # type: ignore[index]
                    elif op[0] == "put_many":
                        await memory.aput_messages(batch)  # type: ignore[arg-type]
                    elif op[0] == "set":
                        await memory.aset(batch)  # type: ignore[arg-type]
                    else:
                        await memory.areset(status=op[1])
                seen = []
                for memory in memories:
                    views = [[m.content for m in await memory.aget()]]
                    for status in (None, MessageStatus.ACTIVE, MessageStatus.ARCHIVED):
                        views.append([m.content for m in await memory.aget_all(status=status)])
                    seen.append(views)
                assert seen[0] == seen[1], op
                archived_any.append(bool(seen[0][3]))
        finally:
            await ours.delete_messages("s")

    asyncio.run(run())
    if len(steps) >= 9 and steps[0] == ("put", 12):  # the first @example: Memory did flush into the archive
        assert any(archived_any)
