"""RedisMemoryStore: LangGraph's BaseStore on Redis with exact namespaces, filters, TTLs and search by meaning."""

from __future__ import annotations

import asyncio

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.errors import RedisConnectionFailed
from redis_rag_integrations.langchain.memory_store import RedisMemoryStore

# LangGraph itself refuses (InvalidNamespaceError) empty labels and labels with '.' or NUL; every other text is valid.
label = st.text(min_size=1, max_size=12).filter(lambda s: "." not in s and "\x00" not in s)
namespace = st.lists(label, min_size=1, max_size=3).map(tuple).filter(lambda ns: ns[0] != "langgraph")


def test_official_redis_store_loses_items_on_this_engine(redis_url: str, unique_name: str) -> None:
    """Why we do not use langgraph's RedisStore (0.5.2) on search 2.10.5: namespaces are matched as words."""
    from langgraph.store.redis import RedisStore

    with RedisStore.from_conn_string(redis_url) as official:
        official.setup()
        official.put(("memories", "user-1"), "d", {"v": 1})
        official.put(("users",), "a", {"v": 2})
        assert official.get(("memories", "user-1"), "d") is None  # written, then not found
        assert [i.namespace for i in official.search(("user",))] != []  # another namespace's items
        client = redis.Redis.from_url(redis_url)
        for idx in {i.decode() for i in client.execute_command("FT._LIST")} & {"store", "store_vectors"}:
            client.execute_command("FT.DROPINDEX", idx, "DD")


def test_put_get_delete_roundtrip(make_store) -> None:
    store = make_store()
    store.put(("users", "u-1"), "prefs", {"food": "pizza", "n": 1, "nested": {"a": [1, 2.5, None]}})
    item = store.get(("users", "u-1"), "prefs")
    assert item is not None
    assert item.value == {"food": "pizza", "n": 1, "nested": {"a": [1, 2.5, None]}}
    assert item.namespace == ("users", "u-1") and item.key == "prefs"
    created = item.created_at
    store.put(("users", "u-1"), "prefs", {"food": "pasta"})
    again = store.get(("users", "u-1"), "prefs")
    assert again.value == {"food": "pasta"} and again.created_at == created and again.updated_at >= created
    store.delete(("users", "u-1"), "prefs")
    assert store.get(("users", "u-1"), "prefs") is None
    # the cases the official store got wrong: stop words, hyphens, stems
    for ns in [("the",), ("memories", "user-1"), ("user",), ("users",)]:
        store.put(ns, "k", {"ns": list(ns)})
    assert store.get(("the",), "k").value == {"ns": ["the"]}
    assert store.get(("memories", "user-1"), "k").value == {"ns": ["memories", "user-1"]}
    assert [i.namespace for i in store.search(("user",))] == [("user",)]
    assert [i.namespace for i in store.search(("the",))] == [("the",)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=namespace, b=namespace, key_a=st.text(max_size=10), key_b=st.text(max_size=10))
def test_namespaces_and_keys_are_exact(make_store, a, b, key_a, key_b) -> None:
    """Any two namespaces / keys: each get finds exactly its own item; a search sees only its prefix's items."""
    store = make_store(name="hyp-exact")
    store.clear()
    store.put(a, key_a, {"owner": "a"})
    store.put(b, key_b, {"owner": "b"})
    if (a, key_a) != (b, key_b):
        assert store.get(a, key_a).value == {"owner": "a"}
    assert store.get(b, key_b).value == {"owner": "b"}
    for ns in {a, b, a[:1], b[:1], (*a, "x")}:
        found = {(i.namespace, i.key) for i in store.search(ns, limit=10)}
        assert found == {(n, k) for n, k in {(a, key_a), (b, key_b)} if n[: len(ns)] == ns}
    assert set(store.list_namespaces()) == {a, b}


def test_filters_offset_limit_and_list_namespaces(make_store) -> None:
    store = make_store()
    for i in range(12):
        store.put(("docs", f"team{i % 3}"), f"k{i}", {"i": i, "kind": "even" if i % 2 == 0 else "odd"})
    evens = store.search(("docs",), filter={"kind": "even"}, limit=100)
    assert sorted(x.value["i"] for x in evens) == [0, 2, 4, 6, 8, 10]
    big = store.search(("docs",), filter={"i": {"$gte": 9}}, limit=100)
    assert sorted(x.value["i"] for x in big) == [9, 10, 11]
    page1 = store.search(("docs",), limit=5)
    page2 = store.search(("docs",), limit=5, offset=5)
    page3 = store.search(("docs",), limit=5, offset=10)
    keys = [x.key for x in page1 + page2 + page3]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert store.list_namespaces() == [("docs", "team0"), ("docs", "team1"), ("docs", "team2")]
    assert store.list_namespaces(max_depth=1) == [("docs",)]
    assert store.list_namespaces(suffix=("team1",)) == [("docs", "team1")]
    assert store.list_namespaces(prefix=("other",)) == []


def test_ttl_expires_and_refreshes_on_read(make_store, client: redis.Redis) -> None:
    store = make_store(ttl={"default_ttl": 1.0, "refresh_on_read": True})
    store.put(("s",), "k", {"v": 1})
    key = store.item_key(("s",), "k")
    assert 0 < client.pttl(key) <= 60_000
    client.pexpire(key, 5_000)
    assert store.get(("s",), "k") is not None
    assert client.pttl(key) > 5_000  # read refreshed the minute
    store.put(("s",), "forever", {"v": 2}, ttl=None)
    assert client.pttl(store.item_key(("s",), "forever")) == -1


def test_search_by_meaning(make_store, local_embedder) -> None:
    store = make_store(index={"dims": local_embedder.dims, "embed": local_embedder, "fields": ["text"]})
    store.put(("user", "1", "memories"), "a", {"text": "I am allergic to peanuts"})
    store.put(("user", "1", "memories"), "b", {"text": "My favourite programming language is Python"})
    store.put(("user", "1", "memories"), "c", {"text": "I live in Lisbon"}, index=False)
    store.put(("user", "2", "memories"), "d", {"text": "I cannot eat nuts"})
    hits = store.search(("user", "1"), query="what food should I avoid?", limit=2)
    assert hits[0].key == "a"
    assert all(h.namespace[:2] == ("user", "1") for h in hits)
    assert hits[0].score is not None and hits[0].score > hits[-1].score
    # an item without a vector (index=False) still comes back, after the scored ones, with no score (InMemoryStore)
    found = store.search(("user", "1"), query="where do I live?", limit=10)
    assert [(h.key, h.score is None) for h in found][-1] == ("c", True)
    assert {h.key for h in found} == {"a", "b", "c"} and all(h.score is not None for h in found[:-1])
    filtered = store.search(("user",), query="nuts", filter={"text": "I cannot eat nuts"})
    assert [h.key for h in filtered] == ["d"]


def test_async_api(make_store, hash_embedder) -> None:
    store = make_store(index={"dims": hash_embedder.dims, "embed": hash_embedder})

    async def scenario() -> None:
        await store.aput(("a",), "k", {"text": "hello"})
        assert (await store.aget(("a",), "k")).value == {"text": "hello"}
        assert [i.key for i in await store.asearch(("a",), query="hello")] == ["k"]
        assert await store.alist_namespaces() == [("a",)]

    asyncio.run(scenario())


def test_redis_down_is_a_clear_error() -> None:
    with pytest.raises(RedisConnectionFailed, match=r"127\.0\.0\.1:1"):
        RedisMemoryStore("redis://127.0.0.1:1/0")


def test_an_index_of_another_kind_under_the_name_is_refused(make_store, client: redis.Redis, unique_name: str) -> None:
    """An index by the store's name that is not a memory store's (other fields or prefix) would never index our
    items: refused when the store opens, naming how to fix it."""
    client.execute_command(
        "FT.CREATE", unique_name, "ON", "HASH", "PREFIX", 1, f"{unique_name}:", "SCHEMA", "t", "TEXT"
    )
    try:
        with pytest.raises(ValueError, match="not a memory store's"):
            make_store(name=unique_name)
    finally:
        client.execute_command("FT.DROPINDEX", unique_name)


def test_async_calls_check_the_same_way(make_store) -> None:
    """``abatch`` runs ``batch``: the same checks, and a refused batch writes nothing."""
    store = make_store()

    async def scenario() -> None:
        with pytest.raises(ValueError, match="limit"):
            await store.asearch(("a",), limit=-1)
        with pytest.raises(ValueError, match="offset"):
            await store.alist_namespaces(offset=-1)
        with pytest.raises(TypeError, match="dict"):
            await store.aput(("a",), "k", [1])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ttl"):
            await store.aput(("a",), "k", {"v": 1}, ttl=0)
        assert await store.aget(("a",), "k") is None

    asyncio.run(scenario())


def test_a_decoding_client_reads_unscored_items_too(make_store, redis_url: str, hash_embedder) -> None:
    """``client=`` may decode replies: the search for items without a vector never reads the vector's bytes."""
    decoding = redis.Redis.from_url(redis_url, decode_responses=True)
    store = make_store(client=decoding, index={"dims": hash_embedder.dims, "embed": hash_embedder})
    store.put(("d",), "scored", {"text": "tea"})
    store.put(("d",), "unscored", {"text": "coffee"}, index=False)
    found = store.search(("d",), query="tea")
    assert [(i.key, i.score is None) for i in found] == [("scored", False), ("unscored", True)]
    decoding.close()
