"""The framework-neutral store: sessions, order, TTL, windows, trimming, listing, bad input."""

from __future__ import annotations

import pytest
import redis

from redis_rag_integrations.history import (
    ChatHistoryStore,
    CorruptEntryError,
    CorruptEntryWarning,
    InvalidSessionIdError,
    MessageTooLargeError,
    StoredMessage,
)


def msgs(*texts: str, role: str = "user") -> list[StoredMessage]:
    return [StoredMessage(role=role, content=t) for t in texts]


def contents(messages: list[StoredMessage]) -> list[object]:
    return [m.content for m in messages]


def test_append_then_read_keeps_order_and_fields(store: ChatHistoryStore) -> None:
    written = [
        StoredMessage(role="user", content="hi", name="ann"),
        StoredMessage(role="assistant", content="", tool_calls=[{"id": "c1", "name": "add", "args": {"a": 1}}]),
        StoredMessage(role="tool", content="2", tool_call_id="c1", additional_kwargs={"x": [1, 2]}),
    ]
    store.append("s1", written)
    assert store.read("s1") == written


def test_last_n_window_and_paging(store: ChatHistoryStore) -> None:
    store.append("s", msgs(*[f"m{i}" for i in range(30)]))
    assert contents(store.read("s", last=20)) == [f"m{i}" for i in range(10, 30)]
    assert contents(store.read("s", last=0)) == []
    assert contents(store.read("s", limit=3, offset=5)) == ["m5", "m6", "m7"]
    assert store.count("s") == 30


def test_trim_keeps_the_newest(store: ChatHistoryStore) -> None:
    store.append("s", msgs("a", "b", "c", "d"))
    assert store.trim("s", keep_last=2) == 2
    assert contents(store.read("s")) == ["c", "d"]
    assert store.trim("s", keep_last=0) == 2
    assert store.read("s") == []


def test_archive_moves_oldest_and_all_reads_both_in_order(store: ChatHistoryStore) -> None:
    store.append("s", msgs("a", "b", "c", "d"))
    moved = store.archive_oldest("s", 3)
    assert contents(moved) == ["a", "b", "c"]
    assert contents(store.read("s")) == ["d"]
    assert contents(store.read("s", status="archived")) == ["a", "b", "c"]
    assert contents(store.read("s", status="all")) == ["a", "b", "c", "d"]
    assert store.count("s", status="all") == 4


def test_pop_and_delete_at(store: ChatHistoryStore) -> None:
    store.append("s", msgs("a", "b", "c", "d"))
    assert contents(store.pop_oldest("s", 1)) == ["a"]
    removed = store.delete_at("s", 1)
    assert removed is not None and removed.content == "c"
    assert store.delete_at("s", 10) is None
    assert contents(store.read("s")) == ["b", "d"]


def test_replace_and_delete_session(store: ChatHistoryStore) -> None:
    store.append("s", msgs("a", "b"))
    store.replace("s", msgs("x"))
    assert contents(store.read("s")) == ["x"]
    store.delete("s")
    assert store.read("s") == [] and "s" not in store.sessions()


def test_sessions_are_listed_by_scan_and_isolated(store: ChatHistoryStore) -> None:
    store.append("alice", msgs("a1"))
    store.append("bob", msgs("b1"))
    store.archive_oldest("bob", 0)
    store.append("name:with:colons", msgs("c"))
    assert store.sessions() == ["alice", "bob", "name:with:colons"]
    assert contents(store.read("alice")) == ["a1"]


def test_ttl_is_applied_and_refreshed_on_write(redis_url: str, unique_name: str, client: redis.Redis) -> None:
    store = ChatHistoryStore(redis_url, prefix=unique_name, ttl=100)
    store.append("s", msgs("a"))
    key = store.keys("s").active
    client.expire(key, 5)
    store.append("s", msgs("b"))
    assert 95 <= client.ttl(key) <= 100
    assert store.ttl_of("s") is not None
    store.delete("s")


def test_default_ttl_comes_from_settings(redis_url: str, unique_name: str) -> None:
    from redis_rag_integrations import Settings

    store = ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url, history_ttl=42))
    assert store.ttl == 42
    assert ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url)).ttl is None


def test_keys_carry_the_session_hash_tag(store: ChatHistoryStore) -> None:
    keys = store.keys("abc")
    assert all("{abc}" in k for k in [*keys.all_plain(), keys.recall_prefix])


@pytest.mark.parametrize("bad", ["", "a{b", "x}"])
def test_invalid_session_ids_are_rejected(store: ChatHistoryStore, bad: str) -> None:
    with pytest.raises(InvalidSessionIdError):
        store.append(bad, msgs("a"))


def test_oversized_message_is_rejected_whole_and_nothing_written(redis_url: str, unique_name: str) -> None:
    store = ChatHistoryStore(redis_url, prefix=unique_name, max_message_bytes=1000)
    store.append("s", msgs("small"))
    with pytest.raises(MessageTooLargeError, match="max_message_bytes=1000"):
        store.append("s", msgs("ok", "x" * 2000))
    assert contents(store.read("s")) == ["small"]
    store.delete("s")


def test_unserialisable_value_is_a_clear_error_and_nothing_written(store: ChatHistoryStore) -> None:
    bad = StoredMessage(role="user", content="x", additional_kwargs={"obj": object()})
    with pytest.raises(TypeError, match="cannot be stored"):
        store.append("s", [*msgs("fine"), bad])
    assert store.read("s") == []


def test_corrupt_entry_names_the_key_and_the_rest_stays_readable(store: ChatHistoryStore, client: redis.Redis) -> None:
    store.append("s", msgs("a", "b", "c"))
    key = store.keys("s").active
    client.lset(key, 1, b"{not json")
    with pytest.raises(CorruptEntryError) as excinfo:
        store.read("s")
    assert excinfo.value.key == key and excinfo.value.index == 1 and key in str(excinfo.value)
    assert contents(excinfo.value.readable) == ["a", "c"]
    skipping = ChatHistoryStore(store.url, prefix=store.layout.prefix, on_corrupt="skip")
    with pytest.warns(CorruptEntryWarning, match="index 1"):
        assert contents(skipping.read("s")) == ["a", "c"]
    with pytest.raises(CorruptEntryError) as excinfo:
        store.read("s", last=2)
    assert excinfo.value.index == 1


async def test_async_api_matches_sync(store: ChatHistoryStore) -> None:
    await store.aappend("s", msgs("a", "b", "c"))
    assert contents(await store.aread("s", last=2)) == ["b", "c"]
    assert contents(await store.aarchive_oldest("s", 1)) == ["a"]
    assert await store.acount("s", status="all") == 3
    assert contents(await store.aread("s", status="all")) == ["a", "b", "c"]
    assert (await store.adelete_at("s", 0)).content == "b"  # type: ignore[union-attr]
    assert await store.atrim("s", 5) == 0
    assert await store.asessions() == ["s"]
    await store.areplace("s", msgs("z"))
    assert contents(store.read("s")) == ["z"]
    await store.adelete("s")
    assert await store.asessions() == []
