"""The framework-neutral index core: bad input loses nothing, records are replaced whole, caches hear of changes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import redis

from redis_rag_integrations import Settings
from redis_rag_integrations.errors import IndexNotFoundError
from redis_rag_integrations.freshness import deps_key, record_dependencies
from redis_rag_integrations.store import FilterError, LayoutMismatchError, Record, RedisVectorIndex

FIELDS = {"source": "tag", "year": "numeric"}


def rec(i: str, v: list[float], **meta: object) -> Record:
    return Record(id=i, text=f"text {i}", vector=np.asarray(v, dtype=np.float32), metadata=dict(meta), doc_id="d")


def test_a_bad_record_in_a_batch_writes_nothing(make_index: Callable[..., RedisVectorIndex]) -> None:
    index = make_index(metadata_fields=FIELDS)
    good = rec("a", [1, 0, 0], source="s")
    with pytest.raises(ValueError, match="4 dimensions but index"):
        index.upsert([good, rec("b", [1, 0, 0, 0])])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        index.upsert([good, rec("c", [0, 1, 0], when=object())])
    with pytest.raises(TypeError, match="declared numeric"):
        index.upsert([good, rec("d", [0, 1, 0], year="2020")])
    with pytest.raises(ValueError, match="NaN"):
        index.upsert([good, rec("e", [float("nan"), 0, 0])])
    with pytest.raises(ValueError, match="twice"):
        index.upsert([good, rec("a", [0, 1, 0])])
    assert index.count() == 0


def test_ids_are_kept_exactly_as_given(make_index: Callable[..., RedisVectorIndex]) -> None:
    index = make_index()
    odd = ["docs:a:1", "with space, comma|pipe", "UPPER", "ü-ñ"]
    index.upsert([rec(i, [1, k, 0]) for k, i in enumerate(odd)])
    assert [r.id for r in index.get(odd)] == odd
    assert sorted(h.record.id for h in index.search([1, 0, 0], k=10)) == sorted(odd)
    assert {r.id for r in index.find({"id": odd})} == set(odd)


def test_metadata_types_survive_the_round_trip(make_index: Callable[..., RedisVectorIndex]) -> None:
    index = make_index(metadata_fields=FIELDS)
    meta = {"year": 2020, "ratio": 0.25, "ok": True, "none": None, "tags": ["x", "y"], "nested": {"k": [1, 2]}}
    index.upsert([rec("a", [1, 0, 0], **meta)])
    assert index.get(["a"])[0].metadata == meta


@pytest.fixture(params=["new-first", "script", "client-side"])
def write_path(request: pytest.FixtureRequest) -> str:
    """Redis 8 creates new records as plain hashes and replaces existing ones in a script; servers without HSETEX
    script every record; clusters take the client-side path (see store/writes.py)."""
    return request.param


def on_path(index: RedisVectorIndex, path: str) -> RedisVectorIndex:
    index._write_path = path  # type: ignore[assignment]
    index._small_write = 1  # take the path even for the one-record writes of these tests
    return index


def test_replacing_a_record_drops_its_stale_fields(
    make_index: Callable[..., RedisVectorIndex], write_path: str
) -> None:
    index = on_path(make_index(metadata_fields=FIELDS), write_path)
    index.upsert([rec("a", [1, 0, 0], source="old", year=2020)])
    index.upsert([rec("a", [1, 0, 0], year=2021)])
    assert index.find({"source": "old"}) == []
    assert [r.metadata for r in index.find({"year": 2021})] == [{"year": 2021}]
    index.upsert([Record("a", "no document now", np.array([1, 0, 0], dtype=np.float32))])
    assert index.find({"doc_id": "d"}) == []
    assert index.get(["a"])[0].doc_id is None
    assert index.count() == 1


async def test_async_replacing_drops_stale_fields_and_cached_answers(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str, write_path: str
) -> None:
    index = on_path(make_index(metadata_fields=FIELDS), write_path)
    await index.aupsert([rec("a", [1, 0, 0], source="old", year=2020)])
    entry = f"{unique_name}:cache-entry"
    client.set(entry, "answer")
    record_dependencies(client, entry, ["a"])
    await index.aupsert([rec("a", [1, 0, 0], source="old", year=2020)])
    assert client.exists(entry) == 1
    await index.aupsert([rec("a", [0, 1, 0], year=2021)])
    assert client.exists(entry) == 0
    assert [r.metadata for r in await index.afind({"year": 2021})] == [{"year": 2021}]
    assert await index.afind({"source": "old"}) == []


def test_changing_or_deleting_a_document_drops_cache_entries_built_from_it(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str, write_path: str
) -> None:
    index = on_path(make_index(), write_path)
    index.upsert([rec("a", [1, 0, 0])])
    entry = f"{unique_name}:cache-entry"
    client.set(entry, "answer")
    record_dependencies(client, entry, ["a"])
    index.upsert([rec("a", [1, 0, 0])])  # same content: the answer is still good
    assert client.exists(entry) == 1
    index.upsert([Record("a", "new text", np.array([1, 0, 0], dtype=np.float32), doc_id="d")])
    assert client.exists(entry) == 0
    client.set(entry, "answer")
    record_dependencies(client, entry, ["d"])
    index.delete(["a"])
    assert client.exists(entry) == 0 and client.exists(deps_key("d")) == 0


def test_moving_a_record_to_another_document_drops_answers_built_from_the_old_one(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str, write_path: str
) -> None:
    index = on_path(make_index(), write_path)
    index.upsert([rec("a", [1, 0, 0])])
    old_doc, new_doc, other = (f"{unique_name}:{k}" for k in ("old", "new", "other"))
    for key, doc in ((old_doc, "d"), (new_doc, "d2"), (other, "unrelated")):
        client.set(key, "answer")
        record_dependencies(client, key, [doc])
    index.upsert([Record("a", "text a", np.array([1, 0, 0], dtype=np.float32), doc_id="d2")])
    assert (client.exists(old_doc), client.exists(new_doc), client.exists(other)) == (0, 0, 1)
    client.delete(other)


def test_opening_an_index_checks_its_layout(
    make_index: Callable[..., RedisVectorIndex], settings: Settings, client: redis.Redis, unique_name: str
) -> None:
    make_index(dims=3, metadata_fields=FIELDS)
    with pytest.raises(LayoutMismatchError, match="3-dimensional"):
        RedisVectorIndex(unique_name, dims=8, settings=settings)
    with pytest.raises(LayoutMismatchError, match="'year' is numeric, not tag"):  # a new field is added in place
        RedisVectorIndex(unique_name, dims=3, metadata_fields={"year": "tag"}, settings=settings)
    with pytest.raises(IndexNotFoundError):
        RedisVectorIndex(unique_name + "x", settings=settings)
    foreign = unique_name + "-lc"
    client.execute_command(
        "FT.CREATE", foreign, "ON", "HASH", "PREFIX", "1", foreign + ":", "SCHEMA", "content", "TEXT"
    )
    try:
        with pytest.raises(LayoutMismatchError, match="not built in this package's layout"):
            RedisVectorIndex(foreign, dims=3, settings=settings)
    finally:
        client.execute_command("FT.DROPINDEX", foreign)


def test_filters_compile_to_the_right_subsets(make_index: Callable[..., RedisVectorIndex]) -> None:
    index = make_index(metadata_fields=FIELDS)
    index.upsert([rec(str(y), [1, y - 2019, 0], source="a" if y % 2 else "b", year=y) for y in range(2020, 2026)])

    def ids(flt: object) -> set[str]:
        return {h.record.id for h in index.search([1, 0, 0], k=10, filter=flt)}  # type: ignore[arg-type]

    assert ids({"year": {"$between": [2021, 2023]}}) == {"2021", "2022", "2023"}
    assert ids({"year": {"$gt": 2021, "$lte": 2023}, "source": "a"}) == {"2023"}
    assert ids({"$or": [{"year": 2020}, {"year": {"$in": [2025]}}]}) == {"2020", "2025"}
    assert ids({"$not": {"source": "a"}}) == {"2020", "2022", "2024"}
    assert ids({"year": {"$nin": [2020, 2021]}, "source": {"$ne": "b"}}) == {"2023", "2025"}
    with pytest.raises(FilterError, match="compares with numbers"):
        ids({"year": {"$gt": "2020"}})
    with pytest.raises(FilterError, match="empty filter"):
        ids({})


def test_delete_by_document_removes_all_its_chunks(make_index: Callable[..., RedisVectorIndex]) -> None:
    index = make_index()
    index.upsert([Record(f"c{i}", "t", np.array([1, i, 0], dtype=np.float32), doc_id=f"doc{i % 2}") for i in range(6)])
    assert index.delete_documents(["doc0"]) == 3
    assert sorted(r.id for r in index.find({"doc_id": ["doc0", "doc1"]})) == ["c1", "c3", "c5"]
    assert index.delete(["c1", "missing"]) == 1


def test_text_search_matches_words_despite_punctuation(make_index: Callable[..., RedisVectorIndex]) -> None:
    index = make_index()
    index.upsert([Record("a", "Redis keeps data in memory.", np.array([1, 0, 0], dtype=np.float32))])
    index.upsert([Record("b", "Bread needs an oven.", np.array([0, 1, 0], dtype=np.float32))])
    assert [h.record.id for h in index.text_search("Where does Redis keep data?", k=2)] == ["a"]
    with pytest.raises(ValueError, match="no words"):
        index.text_search("?! --")


def test_text_search_survives_queries_full_of_stopwords(make_index: Callable[..., RedisVectorIndex]) -> None:
    # search 2.10.5 drops the connection on a union like "on | the | use": stopwords never reach Redis.
    index = make_index()
    index.upsert([Record("a", "There are no copyright restrictions on the use of Python.", np.array([1, 0, 0]))])
    hits = index.text_search("Are there copyright restrictions on the use of Python?", k=2)
    assert [h.record.id for h in hits] == ["a"] and hits[0].score > 0
    with pytest.raises(ValueError, match="no words"):
        index.text_search("on the")


def test_the_index_holds_only_its_own_keys_not_others_sharing_the_name(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str
) -> None:
    index = make_index()
    index.upsert([rec("a", [1, 0, 0])])
    other = f"{unique_name}-cache:entry1"  # another component's hash whose key starts with the index name
    client.hset(other, mapping={"text": "not a document", "vector": np.zeros(3, dtype=np.float32).tobytes()})
    try:
        assert index.count() == 1
        assert [h.record.id for h in index.search([1, 0, 0], k=5)] == ["a"]
        reopened = RedisVectorIndex(unique_name, settings=index.settings)
        assert reopened.layout.key("a") == index.layout.key("a") and reopened.get(["a"])[0].text == "text a"
    finally:
        client.delete(other)
