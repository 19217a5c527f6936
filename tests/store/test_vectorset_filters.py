"""Vector-set backend: a filter for a value finds exactly the records holding it, for any string or number.

The same properties as ``test_exact_filters.py`` (the query-engine backend), on ``FILTER`` expressions: hypothesis
draws the values (quotes, backslashes, operators, control characters, NUL, non-ASCII, the empty string, ``~``) and the
expected answer is computed in Python. Paths: the core's exhaustive ``find``, KNN, LangChain dicts, LlamaIndex
``MetadataFilters``.
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
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.store.vectorset.layout import decode_str, encode_str, literal

FIELDS = {"tag": "tag", "num": "numeric"}
SPECIAL = ['"', "'", "\\", 'a\\"b', "a\\", '"a" in .tag', ".tag", "==", "a or b", "(", "[", " ", "", "~", "~61",
           "\x00", "a\x00b", "\n", "\x7f", "日本", "Über", "😀", "\u2028", "true", "null", "1", "a'b\"c"]  # fmt: skip
values = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=string.printable, max_size=6),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=6),
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def index(redis_url: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(
        f"v{uuid.uuid4().hex[:12]}", dims=4, metadata_fields=FIELDS, settings=Settings(redis_url=redis_url),
        backend="vectorset",
    )  # fmt: skip
    yield idx
    idx.drop()
    idx.close()


def _vector(i: int) -> np.ndarray:
    v = np.ones(4, dtype=np.float32)
    v[i % 4] += 1.0 + i
    return v / np.linalg.norm(v)


def _ids(records: list[Record]) -> set[str]:
    return {r.id for r in records}


def _write(index: RedisVectorIndex, tag_values: list[str]) -> list[Record]:
    index.clear()
    records = [
        Record(f"r{i}-{v}", "x", _vector(i), {"tag": v}, doc_id=v or None)  # ids may hold NUL on this backend
        for i, v in enumerate(tag_values)
    ]
    index.upsert(records)
    return records


@given(stored=st.lists(values, min_size=1, max_size=4), probe=values)
@FAST
def test_tag_filters_match_exactly(index: RedisVectorIndex, stored: list[str], probe: str) -> None:
    records = _write(index, stored)
    for asked in {*stored, probe}:
        holding = {r.id for r in records if r.metadata["tag"] == asked}
        others = _ids(records) - holding
        assert _ids(index.find({"tag": asked})) == holding, asked
        assert _ids(index.find({"tag": {"$ne": asked}})) == others, asked
        assert _ids(index.find({"tag": {"$in": [asked, "\x00never"]}})) == holding, asked
        assert _ids(index.find({"tag": {"$nin": [asked]}})) == others, asked
        if asked:
            assert _ids(index.find({"doc_id": asked})) == holding, asked
            assert _ids(index.find({"doc_id": {"$ne": asked}})) == others, asked
        knn = index.search(_vector(0), k=10, filter={"tag": asked})
        assert {h.record.id for h in knn} == holding, asked
        assert all(h.record.doc_id == (asked or None) for h in knn)
    for r in records:
        assert _ids(index.find({"id": r.id})) == {r.id}


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
    st.sampled_from([0, -0.0, 1, 1.0, 0.1, 1e-300, -1e300, 5e-324, 2**53, 1e20, 1e-5, 123456789.123]),
)


@given(stored=st.lists(numbers, min_size=1, max_size=4), probe=numbers)
@FAST
def test_numeric_filters_compare_exactly(index: RedisVectorIndex, stored: list[float], probe: float) -> None:
    index.clear()
    records = [Record(f"n{i}", "x", _vector(i), {"num": v}) for i, v in enumerate(stored)]
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
    want_in = {r.id for r in records if float(r.metadata["num"]) in (float(probe), 0.5)}
    assert _ids(index.find({"num": {"$in": [probe, 0.5]}})) == want_in
    assert all(
        type(r.metadata["num"]) is type(v) for r, v in zip(index.get([r.id for r in records]), stored, strict=True)
    )


@given(value=st.text(alphabet=st.characters(), max_size=8))
@settings(max_examples=300, deadline=None)
def test_the_filter_form_is_one_to_one_and_never_closes_its_literal(value: str) -> None:
    assert decode_str(encode_str(value)) == value
    body = literal(value)[1:-1]
    assert '"' not in body and "\\" not in body and "\x00" not in body


# --- through the frameworks ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stores(redis_url: str) -> Iterator[tuple[LCStore, LIStore]]:
    from redis_rag_integrations.langchain import RagEmbeddings

    s = Settings(redis_url=redis_url)
    name = f"v{uuid.uuid4().hex[:12]}"
    lc = LCStore(RagEmbeddings(HashEmbedder()), name, metadata_fields={"tag": "tag"}, settings=s, backend="vectorset")
    li = LIStore(name, settings=s, backend="vectorset")
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
        for op, want in ((FilterOperator.EQ, holding), (FilterOperator.NE, {d.id for d in docs} - holding)):
            flt = MetadataFilters(filters=[MetadataFilter(key="tag", value=asked, operator=op)])
            result = li.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=10, filters=flt))
            assert {n.node_id for n in result.nodes} == want, (op, asked)
        flt = MetadataFilters(filters=[MetadataFilter(key="tag", value=[asked], operator=FilterOperator.IN)])
        assert {n.node_id for n in li.get_nodes(filters=flt)} == holding, asked
