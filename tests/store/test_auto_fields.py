"""``metadata_fields="auto"``: fields declared from the metadata written, old records included, exact filters, and
clear refusals for what cannot be inferred or does not fit (:mod:`redis_rag_integrations.store.auto_fields`)."""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable

import numpy as np
import pytest
import redis
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import FilterError, Record, RedisVectorIndex
from redis_rag_integrations.store.auto_fields import infer


def _vec(i: int) -> np.ndarray:
    v = np.ones(4, dtype=np.float32)
    v[i % 4] += 1.0 + i
    return v / np.linalg.norm(v)


def _ids(records: list[Record]) -> set[str]:
    return {r.id for r in records}


def test_inference_rules() -> None:
    records = [
        Record("a", "x", metadata={"s": "a", "n": 1, "b": True, "l": ["x", "y"], "d": {"k": 1}, "m": 1, "z": None}),
        Record("b", "x", metadata={"s": "b", "n": 2.5, "b": False, "l": [], "m": "one", "big": 2**60, "nan": 1e999}),
    ]
    assert infer(records, {}) == {"s": "tag", "n": "numeric", "b": "tag", "l": "tag"}
    assert infer(records, {"s": "tag", "n": "numeric"}) == {"b": "tag", "l": "tag"}
    assert infer([Record("c", "x", metadata={"id": "reserved", "text": "too"})], {}) == {}


def test_the_first_write_declares_fields_and_later_keys_are_added(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str
) -> None:
    plain = make_index(dims=4)  # a writer without "auto" wrote this one first: its metadata is not declared
    plain.upsert([Record("old", "x", _vec(0), metadata={"color": "red", "year": 2019})])
    auto = make_index(dims=4, name=unique_name, metadata_fields="auto")
    auto.upsert(
        [
            Record("a", "x", _vec(1), metadata={"team": "core", "year": 2020, "flag": True, "deep": {"k": 1}}),
            Record("b", "x", _vec(2), metadata={"team": "web", "year": 2024.5, "flag": False, "mixed": 1}),
            Record("c", "x", _vec(3), metadata={"team": "core", "mixed": "one"}),
        ]
    )
    assert dict(auto.layout.metadata_fields) == {"team": "tag", "year": "numeric", "flag": "tag"}
    assert _ids(auto.find({"team": "core"})) == {"a", "c"}
    assert _ids(auto.find({"year": {"$gte": 2020}})) == {"a", "b"}
    assert _ids(auto.find({"year": {"$lt": 2020}})) == {"old"}  # written before, backfilled
    assert _ids(auto.find({"flag": True})) == {"a"}
    for undeclared in ("deep", "mixed"):
        with pytest.raises(FilterError, match=repr(undeclared)):
            auto.find({undeclared: 1})
    auto.upsert([Record("d", "x", _vec(4), metadata={"color": "blue"})])  # a new key: added, "old" found too
    assert _ids(auto.find({"color": "red"})) == {"old"} and _ids(auto.find({"color": "blue"})) == {"d"}
    with pytest.raises(TypeError, match="declared numeric"):
        auto.upsert([Record("e", "x", _vec(5), metadata={"year": "n/a"}), Record("f", "x", _vec(6))])
    assert auto.get(["e", "f"]) == []  # nothing of the refused call was written


def test_refusals(settings: Settings, unique_name: str) -> None:
    with pytest.raises(ValueError, match="auto"):
        RedisVectorIndex(unique_name, dims=4, metadata_fields="atuo", settings=settings)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="query-engine backend"):
        RedisVectorIndex(unique_name, dims=4, metadata_fields="auto", settings=settings, backend="vectorset")


def test_both_frameworks_filter_on_fields_they_never_declared(redis_url: str) -> None:
    s = Settings(redis_url=redis_url)
    name = f"t{uuid.uuid4().hex[:12]}"
    lc = LCStore(RagEmbeddings(HashEmbedder(dims=8)), name, metadata_fields="auto", settings=s)
    try:
        lc.add_texts(["alpha", "beta"], metadatas=[{"team": "a", "n": 1}, {"team": "b", "n": 2}], ids=["d1", "d2"])
        assert {d.id for d in lc.similarity_search("alpha", k=5, filter={"n": {"$gt": 1}})} == {"d2"}
        li = LIStore(name, metadata_fields="auto", settings=s)
        vec = list(np.ones(8, dtype=np.float32) / np.sqrt(8))
        li.add([TextNode(id_="n3", text="gamma", metadata={"team": "a", "lang": "en"}, embedding=vec)])
        flt = MetadataFilters(filters=[MetadataFilter(key="lang", value="en", operator=FilterOperator.EQ)])
        assert {
            n.node_id for n in li.query(VectorStoreQuery(query_embedding=vec, similarity_top_k=5, filters=flt)).nodes
        } == {"n3"}
        flt = MetadataFilters(filters=[MetadataFilter(key="team", value="a")])
        assert {n.node_id for n in li.get_nodes(filters=flt)} == {"d1", "n3"}
    finally:
        lc.index.drop()


VALUES = st.one_of(
    st.sampled_from([" ", "a ", "a", "A", "", "\x1f", "a,b", "日本", "{a}", "-a", "a*", '"', "~61", "true"]),
    st.text(alphabet=string.printable, max_size=5),
)


@given(values=st.lists(VALUES, min_size=1, max_size=4), probe=VALUES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_auto_tags_filter_exactly_for_any_value(redis_url: str, values: list[str], probe: str) -> None:
    name = f"t{uuid.uuid4().hex[:12]}"
    index = RedisVectorIndex(name, dims=4, metadata_fields="auto", settings=Settings(redis_url=redis_url))
    try:
        records = [Record(f"r{i}", "x", _vec(i), metadata={"k": v}) for i, v in enumerate(values)]
        index.upsert(records)
        assert dict(index.layout.metadata_fields) == {"k": "tag"}
        for asked in {*values, probe}:
            assert _ids(index.find({"k": asked})) == {r.id for r in records if r.metadata["k"] == asked}, asked
    finally:
        index.drop()
