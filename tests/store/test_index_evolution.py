"""Changing an existing index: a declared field added in place finds the old records too; what cannot change in
place is refused naming the way out (:mod:`redis_rag_integrations.store.evolution`)."""

from __future__ import annotations

import dataclasses
import string
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import redis
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import LayoutMismatchError, Record, RedisVectorIndex, evolution
from redis_rag_integrations.store.evolution import IncompatibleIndexError
from redis_rag_integrations.store.executor import Pipeline, _run


def _vec(i: int, dims: int = 4) -> np.ndarray:
    v = np.ones(dims, dtype=np.float32)
    v[i % dims] += 1.0 + i
    return v / np.linalg.norm(v)


def _ids(records: list[Record]) -> set[str]:
    return {r.id for r in records}


def _attributes(client: redis.Redis, name: str) -> dict[str, str]:
    info = client.ft(name).info()
    out = {}
    for attr in info["attributes"]:
        pairs = dict(zip(attr[::2], attr[1::2], strict=False))
        out[pairs["attribute"]] = str(pairs["type"]).lower()
    return out


def test_a_new_tag_field_finds_records_written_before_it(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    old = make_index(dims=4)
    colours = ["red", "blue", "red", None, "Red", "red "]
    records = [
        Record(f"r{i}", "x", _vec(i), metadata={"color": c} if c is not None else {}) for i, c in enumerate(colours)
    ]
    old.upsert(records)
    assert "color" not in _attributes(client, old.name)

    grown = make_index(dims=4, name=old.name, metadata_fields={"color": "tag"})
    assert _attributes(client, old.name)["color"] == "tag"
    assert not client.exists(evolution.marker_key(grown.layout))  # the backfill finished
    grown.upsert([Record("new", "x", _vec(9), metadata={"color": "red"})])
    assert _ids(grown.find({"color": "red"})) == {"r0", "r2", "new"}
    assert _ids(grown.find({"color": "Red"})) == {"r4"}
    assert _ids(grown.find({"color": "red "})) == {"r5"}
    assert _ids(grown.find({"color": {"$ne": "red"}})) == {"r1", "r3", "r4", "r5"}
    assert {h.record.id for h in grown.search(_vec(0), k=10, filter={"color": "red"})} == {"r0", "r2", "new"}
    # the process that opened it before sees the field too once it reopens; opening without fields adopts it
    assert dict(make_index(dims=4, name=old.name).layout.metadata_fields) == {"color": "tag"}


def test_a_new_numeric_field_and_a_refused_value(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    old = make_index(dims=4)
    old.upsert([Record(f"r{i}", "x", _vec(i), metadata={"year": y}) for i, y in enumerate([2020, 2021.5, 1999])])
    grown = make_index(dims=4, name=old.name, metadata_fields={"year": "numeric"})
    assert _ids(grown.find({"year": {"$gte": 2021}})) == {"r1"}
    assert _ids(grown.find({"year": {"$lt": 2021}})) == {"r0", "r2"}

    old.upsert([Record("bad", "x", _vec(5), metadata={"size": "large"}), Record("ok", "x", _vec(6), metadata={})])
    with pytest.raises(IncompatibleIndexError, match=r"'bad'.*'size' is declared numeric.*Nothing was changed"):
        make_index(dims=4, name=old.name, metadata_fields={"size": "numeric"})
    assert "size" not in _attributes(client, old.name)
    assert not client.exists(evolution.marker_key(old.layout))
    as_tag = make_index(dims=4, name=old.name, metadata_fields={"size": "tag"})  # the type the message suggests
    assert _ids(as_tag.find({"size": "large"})) == {"bad"}


TAGS = st.one_of(
    st.sampled_from([" ", "a ", "a", "A", "", "\x1f", "a,b", "日本", "{a}", "a|b", "-a", "a*", '"', "\x00", "~61"]),
    st.text(alphabet=string.printable, max_size=5),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=5),
)


@given(stored=st.lists(TAGS, min_size=1, max_size=4), probe=TAGS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_tag_added_later_filters_exactly_for_any_value(redis_url: str, stored: list[str], probe: str) -> None:
    s = Settings(redis_url=redis_url)
    name = f"t{uuid.uuid4().hex[:12]}"
    before = RedisVectorIndex(name, dims=4, settings=s)
    try:
        records = [Record(f"r{i}", "x", _vec(i), metadata={"k": v}) for i, v in enumerate(stored)]
        before.upsert(records)
        after = RedisVectorIndex(name, dims=4, metadata_fields={"k": "tag"}, settings=s)
        after.upsert([Record("late", "x", _vec(7), metadata={"k": probe})])
        everything = [*records, Record("late", "x", _vec(7), metadata={"k": probe})]
        for asked in {*stored, probe}:
            want = {r.id for r in everything if r.metadata["k"] == asked}
            assert _ids(after.find({"k": asked})) == want, asked
            assert _ids(after.find({"k": {"$nin": [asked]}})) == {r.id for r in everything} - want, asked
    finally:
        before.drop()


@pytest.fixture
def store_name(redis_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    RedisVectorIndex(name, settings=Settings(redis_url=redis_url)).drop()


def test_both_frameworks_filter_old_records_on_a_field_added_later(redis_url: str, store_name: str) -> None:
    s = Settings(redis_url=redis_url)
    emb = RagEmbeddings(HashEmbedder(dims=8))
    lc = LCStore(emb, store_name, settings=s)
    lc.add_documents(
        [Document("alpha", metadata={"team": "a"}), Document("beta", metadata={"team": "b"})], ids=["d1", "d2"]
    )
    li = LIStore(store_name, metadata_fields={"team": "tag"}, settings=s)  # the field is added here
    li.add([TextNode(id_="n3", text="gamma", metadata={"team": "a"}, embedding=list(_vec(3, 8)))])
    flt = MetadataFilters(filters=[MetadataFilter(key="team", value="a")])
    got = li.query(VectorStoreQuery(query_embedding=list(_vec(0, 8)), similarity_top_k=10, filters=flt))
    assert {n.node_id for n in got.nodes} == {"d1", "n3"}
    lc2 = LCStore(emb, store_name, metadata_fields={"team": "tag"}, settings=s)
    assert {d.id for d in lc2.similarity_search("alpha", k=10, filter={"team": "a"})} == {"d1", "n3"}
    assert {d.id for d in lc2.similarity_search("alpha", k=10, filter={"team": "b"})} == {"d2"}


def test_an_interrupted_backfill_is_finished_by_the_next_opening(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    old = make_index(dims=4)
    old.upsert([Record(f"r{i}", "x", _vec(i), metadata={"lang": "en" if i % 2 else "fr"}) for i in range(6)])
    wider = old.layout.__class__(**{**old.layout.__dict__, "metadata_fields": {"lang": "tag"}})
    # what a process that died after FT.ALTER leaves: the marker and the field, no backfill
    client.hset(evolution.marker_key(wider), mapping={"lang": "tag"})
    evolution.alter(client, wider, {"lang": "tag"})
    reopened = make_index(dims=4, name=old.name)
    assert _ids(reopened.find({"lang": "en"})) == {"r1", "r3", "r5"}
    assert not client.exists(evolution.marker_key(wider))


# --- what cannot change in place ---------------------------------------------------------------------------------


def test_incompatible_changes_name_the_way_out(
    make_index: Callable[..., RedisVectorIndex], settings: Settings, unique_name: str
) -> None:
    make_index(dims=4, metadata_fields={"n": "tag"})
    with pytest.raises(IncompatibleIndexError, match=r"4-dimensional.*redis-rag index drop .* --delete-documents"):
        RedisVectorIndex(unique_name, dims=8, settings=settings)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"distance_metric": "ip"}, "distance_metric='cosine', not 'ip'"),
        ({"vector_algorithm": "flat"}, "vector_algorithm='hnsw', not 'flat'"),
        ({"vector_datatype": "float16"}, "vector_datatype='float32', not 'float16'"),
    ]
    for update, text in cases:
        with pytest.raises(IncompatibleIndexError, match=f"{text}.*`redis-rag index drop {unique_name}` \\(keeps"):
            RedisVectorIndex(unique_name, dims=4, settings=settings.model_copy(update=update))
    with pytest.raises(IncompatibleIndexError, match=r"'n' is tag, not numeric.*redis-rag index drop"):
        RedisVectorIndex(unique_name, dims=4, metadata_fields={"n": "numeric"}, settings=settings)
    with pytest.raises(IncompatibleIndexError, match=r"not 'elsewhere'.*without prefix="):
        RedisVectorIndex(unique_name, dims=4, prefix="elsewhere", settings=settings)
    assert issubclass(IncompatibleIndexError, LayoutMismatchError)


def test_settings_nobody_chose_adopt_the_existing_index(settings: Settings, unique_name: str, redis_url: str) -> None:
    built = RedisVectorIndex(unique_name, dims=4, settings=settings.model_copy(update={"distance_metric": "ip"}))
    try:
        opened = RedisVectorIndex(unique_name, dims=4, settings=Settings(redis_url=redis_url))
        assert opened.layout.distance_metric == "ip" and built.layout.distance_metric == "ip"
    finally:
        built.drop()


def test_drop_keeping_records_then_a_new_type_reencodes_them(
    make_index: Callable[..., RedisVectorIndex], settings: Settings, unique_name: str, client: redis.Redis
) -> None:
    first = make_index(dims=4, metadata_fields={"n": "tag"})
    first.upsert([Record(f"r{i}", "x", _vec(i), metadata={"n": i * 10}) for i in range(5)])
    assert _ids(first.find({"n": "20"})) == {"r2"}
    first.drop(delete_records=False)
    assert client.exists(first.layout.key("r0")) and client.hget(evolution.marker_key(first.layout), "kept")
    second = make_index(dims=4, metadata_fields={"n": "numeric"})
    assert _attributes(client, unique_name)["n"] == "numeric"
    assert _ids(second.find({"n": {"$gte": 20}})) == {"r2", "r3", "r4"}
    assert second.count() == 5 and not client.exists(evolution.marker_key(second.layout))


async def test_async_drop_keeping_records_marks_them_for_the_next_creation(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    first = make_index(dims=4)
    await first.aupsert([Record(f"r{i}", "x", _vec(i), metadata={"lang": ["en", "fr"][i % 2]}) for i in range(4)])
    await first.adrop(delete_records=False)
    assert client.hget(evolution.marker_key(first.layout), "kept") == b"1"
    second = make_index(dims=4, metadata_fields={"lang": "tag"})
    assert _ids(await second.afind({"lang": "fr"})) == {"r1", "r3"}
    await second.adrop()
    assert not client.exists(evolution.marker_key(second.layout), first.layout.key("r0"))


def test_a_record_rewritten_during_the_backfill_keeps_its_new_value(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    """The backfill reads a record, a writer replaces it, then the backfill writes: the stale value must not win."""
    old = make_index(dims=4)
    old.upsert([Record("a", "x", _vec(0), metadata={"k": "old"}), Record("b", "x", _vec(1), metadata={"k": "b"})])
    wider = dataclasses.replace(old.layout, metadata_fields={"k": "tag"})
    evolution.alter(client, wider, {"k": "tag"})
    writer = make_index(dims=4, name=old.name)  # adopts the field: writes it
    plan = evolution._backfill_plan(client, wider, {"k": "tag"})
    reply, reads = None, 0
    while True:
        try:
            op = plan.send(reply)
        except StopIteration as done:
            written = done.value
            break
        reply = _run(client, op)
        if isinstance(op, Pipeline) and op.commands[0][0] == "HMGET":
            reads += 1
            if reads == 1:  # between the backfill's read and its write
                writer.upsert([Record("a", "x", _vec(0), metadata={"k": "new"})])
    assert reads == 2 and written == 2  # "a" read again after its script refused the stale value
    assert _ids(writer.find({"k": "new"})) == {"a"} and writer.find({"k": "old"}) == []
    assert _ids(writer.find({"k": "b"})) == {"b"}


def test_a_vector_set_refuses_a_new_field_naming_the_way_out(settings: Settings, unique_name: str) -> None:
    vs = RedisVectorIndex(unique_name, dims=4, metadata_fields={"team": "tag"}, settings=settings, backend="vectorset")
    try:
        vs.upsert([Record("a", "x", _vec(0), metadata={"team": "a", "lang": "en"})])
        way_out = r"cannot add fields in place.*\.drop\(\).*backend='query_engine'"
        with pytest.raises(LayoutMismatchError, match=way_out):
            RedisVectorIndex(unique_name, metadata_fields={"lang": "tag"}, settings=settings, backend="vectorset")
        assert [r.id for r in vs.find({"team": "a"})] == ["a"]  # nothing changed
    finally:
        vs.drop()
