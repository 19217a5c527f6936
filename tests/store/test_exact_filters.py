"""A filter for a value finds exactly the records holding it, for any string or number: never a silent mismatch.

Property-based: hypothesis draws values nobody here chose (whitespace at the ends, control characters, every ASCII
punctuation mark, the tag separator, non-ASCII, the empty string) and the expected answer is computed in Python.
Every path is checked: the core's filter query and KNN, LangChain dict filters, LlamaIndex ``MetadataFilters``.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import FilterError, Record, RedisVectorIndex
from redis_rag_integrations.tags import decode, encode

FIELDS = {"tag": "tag", "num": "numeric", "body": "text"}
#: Values that broke exact matching on search 2.10.5, and their neighbours.
SPECIAL = [" ", "a ", " a", "a", "\ta", "a\t", "a\nb", "", "_", "~", "~61", "a`b", "\x1f", "a,b", "A", "a\xa0",
           "日本", "a\\", "{a}", "a|b", "-a", "@a:{b}", "a*", '"', "'", "a\u200bb", "\x00", "\x7f"]  # fmt: skip
values = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=string.printable, max_size=6),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=6),
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def index(redis_url: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(
        f"t{uuid.uuid4().hex[:12]}", dims=4, metadata_fields=FIELDS, settings=Settings(redis_url=redis_url)
    )
    yield idx
    idx.drop()
    idx.close()


def _vector(i: int) -> np.ndarray:
    v = np.ones(4, dtype=np.float32)
    v[i % 4] += 1.0 + i
    return v / np.linalg.norm(v)


def _write(index: RedisVectorIndex, tag_values: list[str]) -> list[Record]:
    index.clear()
    records = [
        Record(
            id=f"r{i}-{_no_nul(v)}",
            text="x",
            vector=_vector(i),
            doc_id=v or None,
            metadata={"tag": v, "body": "same words"},
        )
        for i, v in enumerate(tag_values)
    ]
    index.upsert(records)
    return records


def _no_nul(value: str) -> str:
    """Ids cannot hold NUL (refused: see the test below); every other character stays."""
    return value.replace("\x00", "<NUL>")


def _ids(records: list[Record]) -> set[str]:
    return {r.id for r in records}


@given(stored=st.lists(values, min_size=1, max_size=4), probe=values)
@FAST
def test_tag_filters_match_exactly_through_the_core(index: RedisVectorIndex, stored: list[str], probe: str) -> None:
    records = _write(index, stored)
    for asked in {*stored, probe}:
        holding = {r.id for r in records if r.metadata["tag"] == asked}
        others = _ids(records) - holding
        assert _ids(index.find({"tag": asked})) == holding, asked
        assert _ids(index.find({"tag": {"$ne": asked}})) == others, asked
        assert _ids(index.find({"tag": {"$in": [asked, "\x00never"]}})) == holding, asked
        assert _ids(index.find({"tag": {"$nin": [asked]}})) == others, asked
        if asked:  # an empty document id is refused at write (and in filters on it: ids are non-empty)
            assert _ids(index.find({"doc_id": asked})) == holding, asked
        knn = index.search(_vector(0), k=10, filter={"tag": asked})
        assert {h.record.id for h in knn} == holding, asked
        assert all(h.record.doc_id == (asked or None) for h in knn)  # the document id comes back as written


@given(stored=st.lists(values, min_size=1, max_size=3))
@FAST
def test_ids_and_document_ids_round_trip_and_delete_exactly(index: RedisVectorIndex, stored: list[str]) -> None:
    records = _write(index, stored)
    got = index.get([r.id for r in records])
    assert [(r.id, r.doc_id, r.metadata) for r in got] == [(r.id, r.doc_id, r.metadata) for r in records]
    gone = records[0].doc_id
    if gone is not None:
        index.delete_documents([gone])
    assert _ids(index.find({"tag": {"$nin": ["\x00never"]}})) == {r.id for r in records if r.doc_id != gone or not gone}


numbers = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1, 1.0, 0.1, 1e-300, -1e300, 5e-324, 2**53]),
)


@given(stored=st.lists(numbers, min_size=1, max_size=4), probe=numbers)
@FAST
def test_numeric_filters_compare_exactly(index: RedisVectorIndex, stored: list[float], probe: float) -> None:
    index.clear()
    records = [Record(id=f"n{i}", text="x", vector=_vector(i), metadata={"num": v}) for i, v in enumerate(stored)]
    index.upsert(records)
    for op, test in (
        ("$eq", lambda v: v == probe),
        ("$ne", lambda v: v != probe),
        ("$gt", lambda v: v > probe),
        ("$gte", lambda v: v >= probe),
        ("$lt", lambda v: v < probe),
        ("$lte", lambda v: v <= probe),
    ):
        want = {r.id for r in records if test(float(r.metadata["num"]))}
        assert _ids(index.find({"num": {op: probe}})) == want, (op, probe)


def test_values_an_index_cannot_hold_exactly_are_refused_before_writing(index: RedisVectorIndex) -> None:
    index.clear()
    with pytest.raises(ValueError, match="NUL"):
        index.upsert([Record(id="a\x00b", text="x", vector=_vector(0))])
    with pytest.raises(ValueError, match="doc_id"):
        index.upsert([Record(id="a", text="x", vector=_vector(0), doc_id="")])
    for bad in (2**53 + 1, float("nan"), True):
        with pytest.raises((TypeError, ValueError), match="bad"):
            index.upsert([Record(id="bad", text="x", vector=_vector(0), metadata={"num": bad})])
    with pytest.raises(FilterError, match="2\\*\\*53"):
        index.find({"num": 2**53 + 1})
    assert index.count() == 0


def test_equality_on_a_text_field_is_refused_and_words_never_become_query_syntax(index: RedisVectorIndex) -> None:
    _write(index, ["a", "b"])
    with pytest.raises(FilterError, match="declare the field as 'tag'"):
        index.find({"body": "same words"})
    assert len(index.find({"body": {"$like": "same"}})) == 2
    # Query syntax in a search string is reduced to its words: it cannot widen the filter to other fields.
    assert index.find({"$and": [{"tag": "a"}, {"body": {"$like": ") | @tag:{b} | (same"}}]}) == []
    assert _ids(index.find({"$and": [{"tag": "a"}, {"body": {"$match": "same | -words"}}]})) == {"r0-a"}


def test_geo_values_are_checked_before_writing(make_index, hash_embedder: HashEmbedder) -> None:
    idx = make_index(dims=16, metadata_fields={"place": "geo"})
    vec = hash_embedder.embed(["x"])[0]
    idx.upsert([Record(id="ok", text="x", vector=vec, metadata={"place": [2.35, 48.85]})])
    for bad in ([200.0, 10.0], "paris", [1.0, 89.0], "1,2,3"):
        with pytest.raises((TypeError, ValueError), match="place"):
            idx.upsert([Record(id="bad", text="x", vector=vec, metadata={"place": bad})])
    assert idx.count() == 1


@given(value=st.text(alphabet=st.characters(exclude_categories=("Cs",))))
@settings(max_examples=300, deadline=None)
def test_the_stored_form_is_one_to_one(value: str) -> None:
    assert decode(encode(value)) == value
    assert encode(value) == value or encode(value).startswith("~")


# --- through the frameworks ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stores(redis_url: str) -> Iterator[tuple[LCStore, LIStore]]:
    from redis_rag_integrations.langchain import RagEmbeddings

    s = Settings(redis_url=redis_url)
    name = f"t{uuid.uuid4().hex[:12]}"
    lc = LCStore(RagEmbeddings(HashEmbedder()), name, metadata_fields={"tag": "tag"}, settings=s)
    lc.add_texts(["seed"], metadatas=[{"tag": "seed"}], ids=["seed"])
    li = LIStore(name, settings=s)
    yield lc, li
    lc.index.drop()


@given(stored=st.lists(values, min_size=1, max_size=3, unique=True), probe=values)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_both_frameworks_filter_exactly(stores: tuple[LCStore, LIStore], stored: list[str], probe: str) -> None:
    lc, li = stores
    lc.index.clear()
    docs = [Document(id=f"d{i}", page_content=f"text {i}", metadata={"tag": v}) for i, v in enumerate(stored)]
    lc.add_documents(docs)
    vector = HashEmbedder().embed(["q"])[0].tolist()
    for asked in {*stored, probe}:
        holding = {d.id for d in docs if d.metadata["tag"] == asked}
        found = lc.similarity_search_by_vector(vector, k=10, filter={"tag": asked})
        assert {d.id for d in found} == holding, asked
        assert all(d.metadata["tag"] == asked for d in found)
        for op, want in ((FilterOperator.EQ, holding), (FilterOperator.NE, {d.id for d in docs} - holding)):
            flt = MetadataFilters(filters=[MetadataFilter(key="tag", value=asked, operator=op)])
            result = li.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=10, filters=flt))
            assert {n.node_id for n in result.nodes} == want, (op, asked)
        flt = MetadataFilters(filters=[MetadataFilter(key="tag", value=[asked], operator=FilterOperator.IN)])
        assert {n.node_id for n in li.get_nodes(filters=flt)} == holding, asked


def test_a_node_written_by_llamaindex_with_odd_ids_reads_back_whole(stores: tuple[LCStore, LIStore]) -> None:
    _, li = stores
    node = TextNode(id_=" id\twith spaces ", text="t", metadata={"tag": " padded "}, embedding=[0.5] * 16)
    node.relationships = {}
    li.add([node])
    (back,) = li.get_nodes(node_ids=[" id\twith spaces "])
    assert back.node_id == node.node_id and back.metadata == {"tag": " padded "}


def test_an_index_whose_keys_would_overlap_another_is_refused(make_index, unique_name: str) -> None:
    from redis_rag_integrations.store import LayoutMismatchError

    make_index(name=f"{unique_name}:fr")
    with pytest.raises(LayoutMismatchError, match="overlap"):
        make_index(name=unique_name)
    with pytest.raises(LayoutMismatchError, match="overlap"):
        make_index(name=f"{unique_name}:fr:be")
    make_index(name=f"{unique_name}-de")  # a sibling name is no prefix of the other: fine


def test_an_empty_tag_list_holds_no_value(index: RedisVectorIndex) -> None:
    index.clear()
    index.upsert([Record(id="empty", text="x", vector=_vector(0), metadata={"tag": []})])
    assert index.find({"tag": ""}) == [] and index.find({"tag": {"$in": ["", "[]"]}}) == []
    assert _ids(index.find({"tag": {"$ne": ""}})) == {"empty"}
    assert index.get(["empty"])[0].metadata == {"tag": []}


index_names = st.one_of(
    st.sampled_from(["docs", "docs:fr", "Docs", "docs-x", "a*b", "{t}", "d\\x", "日本", "~", "x y", ""]),
    st.text(alphabet=string.printable, min_size=1, max_size=6),
)


@given(first=index_names, second=index_names)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_index_name_sees_only_its_own_records_or_is_refused(redis_url: str, first: str, second: str) -> None:
    """Index names (and so key prefixes) from anywhere: each index returns exactly its records, or is refused."""
    from redis_rag_integrations.store import LayoutMismatchError

    run = uuid.uuid4().hex[:6]
    made: list[RedisVectorIndex] = []
    try:
        for name in (f"{run}{first}", f"{run}{second}"):
            if any(i.name == name for i in made):
                continue
            try:
                made.append(RedisVectorIndex(name, dims=4, settings=Settings(redis_url=redis_url)))
            except (ValueError, LayoutMismatchError):
                continue  # refused with a clear error: whitespace, or keys that would overlap the other index's
        for i, idx in enumerate(made):
            idx.upsert([Record(id=f"r{i}", text=idx.name, vector=_vector(i))])
        for i, idx in enumerate(made):
            assert [h.record.id for h in idx.search(_vector(0), k=10)] == [f"r{i}"], idx.name
    finally:
        for idx in made:
            idx.drop()
