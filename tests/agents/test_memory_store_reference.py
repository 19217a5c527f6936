"""The Redis memory store against LangGraph's ``InMemoryStore`` given the same operations: what an independent review
found different, each now fixed: the same result as the reference, or a clear refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fakes import HashEmbedder
from langchain_core.embeddings import Embeddings
from langgraph.store.memory import InMemoryStore

from redis_rag_integrations.langchain.memory_store import RedisMemoryStore

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
