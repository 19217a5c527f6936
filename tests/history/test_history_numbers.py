"""Every number a chat history call takes (an index, a count, a window) is a whole number or the call is refused
with a clear error before anything is sent: nothing is lost on refusal. Sync and async, core and LlamaIndex."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage

from redis_rag_integrations.history import ChatHistoryStore, RelevantRecall, StoredMessage
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore

# Values that are not whole numbers: each must be refused with TypeError (a bool is no index either).
not_integers = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.integers().map(str),
    st.lists(st.integers(), max_size=2),
    st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: d != d.to_integral_value()),
)
negatives = st.integers(max_value=-1)


def _contents(store: ChatHistoryStore, sid: str) -> tuple[list[str], list[str]]:
    active = [str(m.content) for m in store.read(sid)]
    archived = [str(m.content) for m in store.read(sid, status="archived")]
    return active, archived


def _seed(store: ChatHistoryStore, sid: str) -> tuple[list[str], list[str]]:
    store.replace(sid, [StoredMessage(role="user", content=str(i)) for i in range(4)])
    store.append(sid, [StoredMessage(role="user", content="old")], status="archived")
    return _contents(store, sid)


# (name, call) pairs: every core method that takes a number, the bad value passed where the number goes.
SYNC_CALLS: list[tuple[str, Callable[[ChatHistoryStore, str, Any], Any]]] = [
    ("index", lambda s, sid, v: s.delete_at(sid, v)),
    ("n", lambda s, sid, v: s.pop_oldest(sid, v)),
    ("n", lambda s, sid, v: s.archive_oldest(sid, v)),
    ("keep_last", lambda s, sid, v: s.trim(sid, v)),
    ("last", lambda s, sid, v: s.read(sid, last=v) if v is not None else s.read(sid, last=1.5)),
    ("limit", lambda s, sid, v: s.read(sid, limit=v, status="all") if v is not None else s.read(sid, limit="2")),
    ("offset", lambda s, sid, v: s.read(sid, offset=v) if v is not None else s.read(sid, offset=[1])),
]
ASYNC_CALLS: list[tuple[str, Callable[[ChatHistoryStore, str, Any], Awaitable[Any]]]] = [
    ("index", lambda s, sid, v: s.adelete_at(sid, v)),
    ("n", lambda s, sid, v: s.apop_oldest(sid, v)),
    ("n", lambda s, sid, v: s.aarchive_oldest(sid, v)),
    ("keep_last", lambda s, sid, v: s.atrim(sid, v)),
    ("last", lambda s, sid, v: s.aread(sid, last=v) if v is not None else s.aread(sid, last=1.5)),
    ("limit", lambda s, sid, v: s.aread(sid, limit=v, status="all") if v is not None else s.aread(sid, limit="2")),
    ("offset", lambda s, sid, v: s.aread(sid, offset=v) if v is not None else s.aread(sid, offset=[1])),
]
NO_NEGATIVES = {"n", "keep_last", "last", "limit", "offset"}


@pytest.mark.parametrize("case", range(len(SYNC_CALLS)))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=not_integers)
def test_a_non_integer_is_refused_before_anything_changes(store: ChatHistoryStore, case: int, value: Any) -> None:
    name, call = SYNC_CALLS[case]
    before = _seed(store, "s")
    with pytest.raises(TypeError, match=f"{name} must be an integer"):
        call(store, "s", value)
    assert _contents(store, "s") == before


@pytest.mark.parametrize("case", range(len(ASYNC_CALLS)))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=not_integers)
def test_a_non_integer_is_refused_before_anything_changes_async(store: ChatHistoryStore, case: int, value: Any) -> None:
    name, call = ASYNC_CALLS[case]
    before = _seed(store, "s")
    with pytest.raises(TypeError, match=f"{name} must be an integer"):
        asyncio.run(call(store, "s", value))
    assert _contents(store, "s") == before


@pytest.mark.parametrize("case", [i for i, (n, _) in enumerate(SYNC_CALLS) if n in NO_NEGATIVES])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=negatives)
def test_a_negative_count_is_refused_not_read_as_nothing(store: ChatHistoryStore, case: int, value: int) -> None:
    """SQL's ``LIMIT -1`` means everything, our old code read it as nothing: neither guess, refuse."""
    name, call = SYNC_CALLS[case]
    before = _seed(store, "s")
    with pytest.raises(ValueError, match=f"{name} must be >= 0"):
        call(store, "s", value)
    assert _contents(store, "s") == before


def test_integer_like_numbers_are_accepted(store: ChatHistoryStore) -> None:
    """numpy integers are indexes (``__index__``), exactly like the ints they hold."""
    _seed(store, "s")
    deleted = store.delete_at("s", np.int64(1))
    assert deleted is not None and deleted.content == "1"
    assert [m.content for m in store.archive_oldest("s", np.int32(1))] == ["0"]
    assert [m.content for m in store.read("s", last=np.int64(1))] == ["3"]
    assert _contents(store, "s") == (["2", "3"], ["0", "old"])  # "0" was written before "old"


def test_llama_index_stores_refuse_a_bad_index_or_count_losing_nothing(redis_url: str, unique_name: str) -> None:
    sync = RedisChatStore(redis_url=redis_url, prefix=unique_name)
    store = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)
    sync.set_messages("s", [ChatMessage(role="user", content=t) for t in "abc"])

    async def refused() -> None:
        for call in (
            lambda: store.delete_message("s", "0"),
            lambda: store.delete_message("s", 0.0),
            lambda: store.delete_oldest_messages("s", -1),
            lambda: store.archive_oldest_messages("s", 1.0),
            lambda: store.get_messages("s", limit=-1),
            lambda: store.get_messages("s", offset="1"),
            lambda: sync.adelete_message("s", None),
        ):
            with pytest.raises((TypeError, ValueError)):
                await call()

    try:
        for bad in ("0", 0.0, None, True):
            with pytest.raises(TypeError):
                sync.delete_message("s", bad)
        with pytest.raises(TypeError):
            sync.get_messages("s", last="2")
        asyncio.run(refused())
        assert [m.content for m in sync.get_messages("s")] == ["a", "b", "c"]
        assert sync.delete_last_message("s").content == "c"  # type: ignore[union-attr]
    finally:
        sync.delete_messages("s")


@pytest.mark.parametrize(
    ("k", "exclude_recent", "error", "text"),
    [
        ("3", 0, TypeError, "k must be an integer"),
        (1.5, 0, TypeError, "k must be an integer"),
        (True, 0, TypeError, "k must be an integer"),
        (0, 0, ValueError, "k must be >= 1"),
        (2, "1", TypeError, "exclude_recent must be an integer"),
        (2, None, TypeError, "exclude_recent must be an integer"),
        (2, -1, ValueError, "exclude_recent must be >= 0"),
    ],
)
def test_relevant_recall_refuses_a_bad_k_or_exclude_recent_before_anything(
    store: ChatHistoryStore, words_embedder: Any, k: Any, exclude_recent: Any, error: type, text: str
) -> None:
    """Checked before recall syncs its entries or sends a query, sync and async alike."""
    recall = RelevantRecall(store, words_embedder)
    before = _seed(store, "s")
    with pytest.raises(error, match=text):
        recall.get_relevant("s", "query", k, exclude_recent=exclude_recent)
    with pytest.raises(error, match=text):
        asyncio.run(recall.aget_relevant("s", "query", k, exclude_recent=exclude_recent))
    assert _contents(store, "s") == before


@pytest.mark.parametrize(("window", "error"), [("3", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_langchain_history_refuses_a_bad_window_when_built(redis_url: str, window: Any, error: type) -> None:
    """Refused where it is given, not at the first read (``window=1.5`` used to be taken and fail later)."""
    from redis_rag_integrations.langchain import RedisChatMessageHistory

    with pytest.raises(error, match="window must be"):
        RedisChatMessageHistory("s", redis_url=redis_url, window=window)
