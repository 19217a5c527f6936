"""The Redis memory store against LangGraph's ``InMemoryStore`` given the same operations: what an independent review
found different, each now fixed: the same result as the reference, or a clear refusal."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import Embeddings
from langgraph.store.memory import InMemoryStore
from langgraph.store.memory import _compare_values as _compare_values  # the reference's filter, to compare with

from redis_rag_integrations.langchain.memory_store import RedisMemoryStore
from redis_rag_integrations.langchain.memory_store_checks import check_filter, matches_filter

from .conftest import DIMS


class _HashEmbeddings(Embeddings):
    """HashEmbedder as a LangChain ``Embeddings``, so the same index config serves both stores."""

    def __init__(self) -> None:
        self.inner = HashEmbedder(DIMS)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed([text])[0].tolist()


def _index() -> dict[str, Any]:
    return {"dims": DIMS, "embed": _HashEmbeddings(), "fields": ["text"]}


def _keys(items: list[Any]) -> list[tuple[tuple[str, ...], str]]:
    return sorted((tuple(i.namespace), i.key) for i in items)


# --- RedisMemoryStore against InMemoryStore ---------------------------------------------------------------------


def test_semantic_search_still_returns_items_that_have_no_vector(make_store: Callable[..., RedisMemoryStore]) -> None:
    redis_store, reference = make_store(index=_index()), InMemoryStore(index=_index())  # type: ignore[arg-type]
    for s in (redis_store, reference):
        s.put(("u1",), "indexed", {"text": "likes tea"})
        s.put(("u1",), "unindexed", {"text": "likes coffee"}, index=False)
        s.put(("u1",), "no-text-field", {"note": "allergic to nuts"})
    expected = _keys(reference.search(("u1",), query="drinks", limit=10))
    assert len(expected) == 3
    assert _keys(redis_store.search(("u1",), query="drinks", limit=10)) == expected
    # with a filter that only an unindexed item passes: InMemoryStore finds it, an empty list hides it
    flt = {"note": "allergic to nuts"}
    assert _keys(redis_store.search(("u1",), query="food", filter=flt)) == _keys(
        reference.search(("u1",), query="food", filter=flt)
    )


def test_search_returns_the_same_timestamps_as_get(make_store: Callable[..., RedisMemoryStore]) -> None:
    store = make_store(index=_index())
    for i in range(5):
        store.put(("ts",), f"k{i}", {"text": f"item {i}"})
    for found in [*store.search(("ts",)), *store.search(("ts",), query="item 1")]:
        got = store.get(("ts",), found.key)
        assert got is not None
        assert (found.created_at, found.updated_at) == (got.created_at, got.updated_at)
        assert found.updated_at >= found.created_at


@pytest.mark.parametrize(
    "flt",
    [{"tags": ("x", "y")}, {"tags": [{"$eq": "x"}, "y"]}, {"items": [{"a": 1}]}],
    ids=["tuple", "operator-in-list", "partial-dict-in-list"],
)
def test_list_filters_match_as_in_langgraph(make_store: Callable[..., RedisMemoryStore], flt: dict[str, Any]) -> None:
    redis_store, reference = make_store(), InMemoryStore()
    for s in (redis_store, reference):
        s.put(("f",), "k", {"tags": ["x", "y"], "items": [{"a": 1, "b": 2}]})
    assert _keys(reference.search(("f",), filter=flt)) == [(("f",), "k")]
    assert _keys(redis_store.search(("f",), filter=flt)) == [(("f",), "k")]


def test_a_value_that_is_not_a_dict_is_refused(make_store: Callable[..., RedisMemoryStore]) -> None:
    store = make_store()
    with pytest.raises((TypeError, ValueError)):
        store.put(("v",), "k", [1, 2])  # type: ignore[arg-type]
    assert store.get(("v",), "k") is None


def test_a_value_with_non_string_keys_is_refused_or_kept(make_store: Callable[..., RedisMemoryStore]) -> None:
    store = make_store()
    value = {"by_id": {1: "a"}}
    try:
        store.put(("v",), "k", value)
    except (TypeError, ValueError):
        return  # a clear refusal is fine
    got = store.get(("v",), "k")
    assert got is not None and got.value == value


def test_a_range_filter_with_a_non_number_is_a_clear_error(make_store: Callable[..., RedisMemoryStore]) -> None:
    store = make_store()
    store.put(("n",), "k", {"n": 5})
    with pytest.raises(ValueError, match=r"\$gt"):
        store.search(("n",), filter={"n": {"$gt": "3"}})


def test_a_negative_limit_is_refused(make_store: Callable[..., RedisMemoryStore]) -> None:
    store = make_store()
    for i in range(12):
        store.put(("neg",), f"k{i}", {"i": i})
    with pytest.raises(ValueError):
        store.search(("neg",), limit=-1)


@pytest.mark.parametrize("first_dims", [DIMS, None], ids=["other-dims", "no-vector-field"])
def test_reopening_a_store_with_another_embedding_is_refused_or_searchable(
    make_store: Callable[..., RedisMemoryStore], unique_name: str, first_dims: int | None
) -> None:
    first = make_store(name=unique_name, embedder=HashEmbedder(first_dims) if first_dims else None)
    first.put(("n",), "old", {"text": "hello"})
    try:
        second = make_store(name=unique_name, embedder=HashEmbedder(2 * DIMS))
    except ValueError:
        return  # a clear refusal naming the mismatch is fine
    second.put(("n",), "new", {"text": "hello"})
    second.put(("m",), "other", {"text": "hello"})
    assert {i.key for i in second.search(("n",))} == {"old", "new"}
    assert second.list_namespaces() == [("m",), ("n",)]
    assert "new" in {i.key for i in second.search(("n",), query="hello")}


def test_index_dims_that_do_not_match_the_embedder_are_refused_or_harmless(
    make_store: Callable[..., RedisMemoryStore],
) -> None:
    index = {**_index(), "dims": DIMS // 2}  # the embedder returns DIMS floats
    try:
        store = make_store(index=index)
        store.put(("n",), "k", {"text": "hello"})
    except ValueError:
        return  # a clear refusal naming the mismatch is fine
    assert [i.key for i in store.search(("n",))] == ["k"]
    assert store.list_namespaces() == [("n",)]


def test_a_negative_memory_ttl_is_refused(make_store: Callable[..., RedisMemoryStore]) -> None:
    store = make_store()
    with pytest.raises(ValueError, match="ttl"):
        store.put(("n",), "k", {"v": 1}, ttl=-1)
    with pytest.raises(ValueError, match="ttl"):
        make_store(ttl={"default_ttl": -5})


def test_an_empty_query_is_no_query_as_in_langgraph(make_store: Callable[..., RedisMemoryStore]) -> None:
    """InMemoryStore tests ``if op.query``: ``""`` lists the items unscored instead of ranking them by meaning."""
    redis_store, reference = make_store(index=_index()), InMemoryStore(index=_index())  # type: ignore[arg-type]
    for s in (redis_store, reference):
        s.put(("q",), "a", {"text": "likes tea"})
        s.put(("q",), "b", {"text": "likes coffee"})
    for s in (redis_store, reference):
        found = s.search(("q",), query="")
        assert _keys(found) == [(("q",), "a"), (("q",), "b")]
        assert [i.score for i in found] == [None, None]


def test_unscored_items_follow_the_scored_ones_and_page_once_each(make_store: Callable[..., RedisMemoryStore]) -> None:
    """As InMemoryStore: the scored items by score, then the unscored ones with score None. Paging (offset) goes
    through that one list, each item once (the reference refills every short page from the first unscored item)."""
    redis_store, reference = make_store(index=_index()), InMemoryStore(index=_index())  # type: ignore[arg-type]
    for s in (redis_store, reference):
        for i in range(4):
            s.put(("p",), f"v{i}", {"text": f"memory {i}"})
            s.put(("p",), f"n{i}", {"text": f"memory {i}"}, index=False)
    ours, ref = redis_store.search(("p",), query="memory", limit=20), reference.search(("p",), query="memory", limit=20)
    assert [(i.key, i.score is None) for i in ours[:4]] == [(i.key, False) for i in ref[:4]]
    assert [i.score for i in ours[4:]] == [None] * 4 and {i.key for i in ours[4:]} == {f"n{i}" for i in range(4)}
    assert [round(i.score, 5) for i in ours[:4]] == [round(i.score, 5) for i in ref[:4]]  # type: ignore[arg-type]
    pages = [redis_store.search(("p",), query="memory", limit=3, offset=o) for o in (0, 3, 6)]
    assert [i.key for page in pages for i in page] == [i.key for i in ours]


# --- properties: exact as InMemoryStore, or a clear refusal -----------------------------------------------------

_KEY = st.sampled_from(["a", "b", "c"])  # few keys, so filters and values meet
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "5", "1_0", "nan", " 3 "])
)
_JSON = st.recursive(_SCALAR, lambda c: st.lists(c, max_size=3) | st.dictionaries(_KEY, c, max_size=3), max_leaves=8)
_VALUES = st.dictionaries(_KEY, _JSON, max_size=3)
_OPERATORS = st.dictionaries(
    st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in"]),
    _SCALAR | st.sampled_from([2**1100, -(2**1100)]),
    min_size=1,
    max_size=2,
)
_FILTER_PART = st.recursive(
    _SCALAR | _OPERATORS,
    lambda c: st.lists(c, max_size=3) | st.tuples(c, c) | st.dictionaries(_KEY | st.integers(0, 1), c, max_size=2),
    max_leaves=6,
)
_FILTERS = st.dictionaries(_KEY | st.integers(0, 1), _FILTER_PART, max_size=3)


def _reference_match(value: dict[str, Any], flt: dict[Any, Any]) -> bool:
    """InMemoryStore's own filter function (``_filter_items``), on the same value."""
    return all(_compare_values(value.get(k), v) for k, v in flt.items())


def _filter_for(data: st.DataObject, value: dict[str, Any]) -> dict[Any, Any]:
    """A random filter, or one made from the value itself (so that matches are common, not luck)."""
    if value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        kept = value[key]
        return {key: tuple(kept) if isinstance(kept, list) and data.draw(st.booleans()) else kept}
    return data.draw(_FILTERS)


@settings(max_examples=400, deadline=None)
@given(value=_VALUES, data=st.data())
def test_filters_match_as_in_langgraph_or_are_refused(value: dict[str, Any], data: st.DataObject) -> None:
    """Any filter on any JSON value: refused up front (ValueError / TypeError naming it), or the reference's answer;
    where the reference fails on the stored data (``float(None)`` for ``$gt`` on a missing field) no match."""
    flt = _filter_for(data, value)
    try:
        check_filter(flt)
    except (TypeError, ValueError) as exc:
        assert "filter" in str(exc)
        return
    ours = matches_filter(value, flt)
    try:
        expected = _reference_match(value, flt)
    except (TypeError, ValueError, OverflowError):
        assert ours is False
        return
    assert ours is expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_VALUES, min_size=1, max_size=4), data=st.data())
def test_search_filters_through_redis_as_in_langgraph(
    make_store: Callable[..., RedisMemoryStore], values: list[dict[str, Any]], data: st.DataObject
) -> None:
    """The same items and filter in both stores: the same items found (as a set), or a clear refusal."""
    store, reference = make_store(name="hyp-filter"), InMemoryStore()
    store.clear()
    for i, value in enumerate(values):
        for s in (store, reference):
            s.put(("h",), f"k{i}", value)
    flt = _filter_for(data, data.draw(st.sampled_from(values)))
    try:
        found = _keys(store.search(("h",), filter=flt, limit=10))
    except (TypeError, ValueError) as exc:
        assert "filter" in str(exc)
        return
    try:
        expected = _keys(reference.search(("h",), filter=flt, limit=10))
    except (TypeError, ValueError, OverflowError):
        expected = [(("h",), f"k{i}") for i, v in enumerate(values) if matches_filter(v, flt)]  # data-side failure
    assert found == expected


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``==`` says ``(1,) != [1]`` but ``1 == 1.0 == True``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return repr(a) == repr(b)


_ANY_SCALAR = _SCALAR | st.floats() | st.binary(max_size=2) | st.sampled_from(["\ud800", "a\udfffb", "é", "\x00"])
_ANY = st.recursive(
    _ANY_SCALAR,
    lambda c: (
        st.lists(c, max_size=2)
        | st.tuples(c)
        | st.frozensets(st.integers(0, 3), max_size=2)
        | st.dictionaries(_KEY | st.integers(0, 2) | st.booleans(), c, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.dictionaries(_KEY, _ANY, max_size=3) | _ANY.filter(lambda v: v is not None))  # None: a delete
def test_a_value_comes_back_exactly_or_is_refused(make_store: Callable[..., RedisMemoryStore], value: Any) -> None:
    """What ``get`` and ``search`` return is what was put, types included; or the put is refused and writes nothing."""
    store = make_store(name="hyp-value")
    store.clear()
    try:
        store.put(("v",), "k", value)
    except (TypeError, ValueError):
        assert store.get(("v",), "k") is None
        return
    got, (found,) = store.get(("v",), "k"), store.search(("v",))
    assert got is not None and _same(got.value, value) and _same(found.value, value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(-3, 9) | st.booleans() | st.floats(-1, 5) | st.none(), offset=st.integers(-2, 8))
def test_limits_and_offsets_page_exactly_or_are_refused(
    make_store: Callable[..., RedisMemoryStore], limit: Any, offset: int
) -> None:
    """A page is exactly ``all[offset:offset + limit]`` of the full listing (as many items as the reference gives),
    or the limit / offset is refused: never a slice counted from the end."""
    store, reference = make_store(name="hyp-page"), InMemoryStore()
    store.clear()
    for i in range(6):
        for s in (store, reference):
            s.put(("p",), f"k{i}", {"i": i})
    try:
        page = [i.key for i in store.search(("p",), limit=limit, offset=offset)]
    except ValueError as exc:
        assert "limit" in str(exc) or "offset" in str(exc)
        assert isinstance(limit, bool) or not isinstance(limit, int) or min(limit, offset) < 0
        return
    everything = [i.key for i in store.search(("p",), limit=100)]
    assert page == everything[offset : offset + limit]
    assert len(page) == len(reference.search(("p",), limit=limit, offset=offset))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ttl=st.none() | st.floats() | st.integers(-5, 10**20) | st.booleans() | st.sampled_from([1e-9, 0.5, 2]))
def test_a_ttl_expires_as_asked_or_is_refused(
    make_store: Callable[..., RedisMemoryStore], client: redis.Redis, ttl: Any
) -> None:
    """A TTL (minutes) is the key's expiry, rounded up to a millisecond, or no expiry for ``None``; anything else
    (zero, negative, nan, inf, bool, too far) is refused and writes nothing: never a silent "forever"."""
    store = make_store(name="hyp-ttl")
    store.clear()
    try:
        store.put(("t",), "k", {"v": 1}, ttl=ttl)
    except ValueError as exc:
        assert "ttl" in str(exc) and store.get(("t",), "k") is None
        assert ttl is not None
        return
    left = client.pttl(store.item_key(("t",), "k"))
    if ttl is None:
        assert left == -1
    else:  # -2: already expired, only possible for a TTL well under a minute (never -1: "forever")
        ms = math.ceil(ttl * 60_000)
        assert 0 <= left <= ms or (left == -2 and ms < 60_000)


_TEXT = st.sampled_from(["tea", "coffee", "nuts", "tea time", "Lisbon", ""])
_ITEM = st.tuples(
    st.sampled_from(["indexed", "unindexed", "no-field"]), _TEXT, st.sampled_from([("s",), ("s", "x"), ("t",)])
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(_ITEM, min_size=1, max_size=6), query=_TEXT, prefix=st.sampled_from([("s",), ("s", "x")]))
def test_search_by_meaning_returns_what_langgraph_returns(
    make_store: Callable[..., RedisMemoryStore], items: list[tuple[str, str, tuple[str, ...]]], query: str, prefix: Any
) -> None:
    """Items with and without vectors, any query (``""`` included): the same items as InMemoryStore, the scored ones
    first with the reference's scores, then the unscored ones with score ``None``."""
    store, reference = make_store(name="hyp-meaning", index=_index()), InMemoryStore(index=_index())  # type: ignore[arg-type]
    store.clear()
    for i, (kind, text, ns) in enumerate(items):
        value = {"note": text} if kind == "no-field" else {"text": text}
        for s in (store, reference):
            s.put(ns, f"k{i}", value, index=False if kind == "unindexed" else None)
    ours, ref = store.search(prefix, query=query, limit=20), reference.search(prefix, query=query, limit=20)
    assert _keys(ours) == _keys(ref)
    scored = [i.score for i in ours if i.score is not None]
    assert scored == sorted(scored, reverse=True)
    assert all(i.score is None for i in ours[len(scored) :])
    by_key = {i.key: None if i.score is None else round(i.score, 4) for i in ref}
    assert {i.key: None if i.score is None else round(i.score, 4) for i in ours} == by_key
