"""The LlamaIndex vector store against LlamaIndex's ``SimpleVectorStore`` given the same operations: filters (NOT,
TEXT_MATCH, tags of every type and length, keys named like layout fields), empty node-id lists, odd query text
and index names. Found by an independent review, each test failing on the code reviewed; one difference is kept on
purpose and tested as such (an empty node-id list in a query)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from redis_rag_integrations import Settings
from redis_rag_integrations.llama_index import (
    RedisVectorStore,
)
from redis_rag_integrations.store import FilterError

Metas = list[dict[str, Any]]


def _vec(i: int) -> list[float]:
    v = [0.1] * 4
    v[i % 4] = 1.0 + i * 0.01
    return v


def _nodes(metas: Metas) -> list[TextNode]:
    return [TextNode(id_=f"n{i}", text=f"text {i}", metadata=m, embedding=_vec(i)) for i, m in enumerate(metas)]


@pytest.fixture
def stores(redis_url: str) -> Iterator[Callable[..., tuple[RedisVectorStore, SimpleVectorStore]]]:
    """The Redis store and LlamaIndex's reference store, holding the same nodes; Redis indexes dropped after."""
    made: list[RedisVectorStore] = []

    def make(metas: Metas, **kwargs: Any) -> tuple[RedisVectorStore, SimpleVectorStore]:
        name = f"t{uuid.uuid4().hex[:12]}"
        redis_store = RedisVectorStore(
            name, dims=4, redis_url=redis_url, settings=Settings(redis_url=redis_url), **kwargs
        )
        made.append(redis_store)
        redis_store.add(_nodes(metas))
        reference = SimpleVectorStore()
        reference.add(_nodes(metas))
        return redis_store, reference

    yield make
    for s in made:
        if s.index is not None:
            s.clear()
            s.index.drop()


def _ids(store: Any, filters: MetadataFilters | None, **kwargs: Any) -> list[str]:
    query = VectorStoreQuery(query_embedding=[1.0, 0, 0, 0], similarity_top_k=100, filters=filters, **kwargs)
    return sorted(store.query(query).ids)


def _f(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


GRID = [{"a": "x", "b": "y"}, {"a": "x", "b": "z"}, {"a": "w", "b": "y"}, {"a": "w", "b": "z"}]
GRID_FIELDS = {"a": "tag", "b": "tag"}
#: The adapter's filter translation is shared by both backends, so are its findings.
BACKENDS = ["query_engine", "vectorset"]


# --- vector store: filters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_not_condition_excludes_every_record_that_matches_any_of_its_filters(stores, backend: str) -> None:
    redis_store, reference = stores(GRID, metadata_fields=GRID_FIELDS, backend=backend)
    flt = MetadataFilters(filters=[_f("a", "x"), _f("b", "y")], condition=FilterCondition.NOT)
    assert _ids(reference, flt) == ["n3"]
    assert _ids(redis_store, flt) == ["n3"]  # actual: ['n1', 'n2', 'n3']


@pytest.mark.parametrize("backend", BACKENDS)
def test_query_with_an_empty_node_id_list_is_unrestricted_as_llama_index_retrievers_need(stores, backend: str) -> None:
    # Deliberately not SimpleVectorStore's answer ([]): VectorStoreIndex.as_retriever passes
    # node_ids=list(index_struct.nodes_dict), which is [] for a store that keeps the text (stores_text=True, as
    # this one), so reading [] as "no node" would return nothing to every retriever
    # (tests/store/test_shared_layout.py). get_nodes / delete_nodes do read [] as no node.
    redis_store, reference = stores(GRID, metadata_fields=GRID_FIELDS, backend=backend)
    assert _ids(reference, None, node_ids=[]) == []
    assert _ids(redis_store, None, node_ids=[]) == _ids(redis_store, None)
    assert len(_ids(redis_store, None)) == len(GRID)


def test_delete_nodes_with_an_empty_node_id_list_deletes_nothing(stores) -> None:
    redis_store, reference = stores(GRID, metadata_fields="auto")
    flt = MetadataFilters(filters=[_f("a", "x")])
    reference.delete_nodes(node_ids=[], filters=flt)
    redis_store.delete_nodes(node_ids=[], filters=flt)
    assert _ids(reference, None) == ["n0", "n1", "n2", "n3"]
    assert _ids(redis_store, None) == ["n0", "n1", "n2", "n3"]  # actual: ['n2', 'n3'] (n0, n1 deleted)


def test_adelete_nodes_with_an_empty_node_id_list_deletes_nothing(stores) -> None:
    redis_store, _ = stores(GRID, metadata_fields="auto")
    asyncio.run(redis_store.adelete_nodes(node_ids=[], filters=MetadataFilters(filters=[_f("a", "x")])))
    assert _ids(redis_store, None) == ["n0", "n1", "n2", "n3"]


def test_get_nodes_with_an_empty_node_id_list_and_a_filter_returns_nothing(stores) -> None:
    redis_store, _ = stores(GRID, metadata_fields="auto")
    got = redis_store.get_nodes(node_ids=[], filters=MetadataFilters(filters=[_f("a", "x")]))
    assert [n.node_id for n in got] == []  # actual: ['n0', 'n1']; get_nodes(node_ids=[]) alone returns []


WORDS = [{"t": "Running fast"}, {"t": "runs"}, {"t": "the end"}, {"t": "x"}, {"t": "it is a cat"}]


@pytest.mark.parametrize("value", ["the", "it", "cat the"])
@pytest.mark.parametrize("mode", [VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.TEXT_SEARCH])
def test_text_match_with_a_stopword_is_exact_or_refused(stores, value: str, mode: VectorStoreQueryMode) -> None:
    redis_store, _ = stores(WORDS, metadata_fields={"t": "text"})
    flt = MetadataFilters(filters=[_f("t", value, FilterOperator.TEXT_MATCH)])
    holding = sorted(f"n{i}" for i, m in enumerate(WORDS) if all(w in m["t"].lower().split() for w in value.split()))
    try:
        got = _ids(redis_store, flt, mode=mode, query_str="text")
    except FilterError:
        return  # a clear refusal is fine
    # "the" -> actual: all five records ("the end" expected); "cat the" -> actual ['n4'], which holds no "the"
    assert got == holding


@pytest.mark.parametrize(("value", "expected"), [("Run", ["n0"]), ("fast Running", []), ("running", [])])
def test_text_match_is_a_substring_match_or_refused(stores, value: str, expected: list[str]) -> None:
    redis_store, reference = stores(WORDS, metadata_fields={"t": "text"})
    flt = MetadataFilters(filters=[_f("t", value, FilterOperator.TEXT_MATCH)])
    assert _ids(reference, flt) == expected
    try:
        got = _ids(redis_store, flt)
    except FilterError:
        return
    assert got == expected  # actual: [] for 'Run', ['n0'] for 'fast Running' and for 'running'


def test_get_nodes_with_a_stopword_text_match_is_exact_or_refused(stores) -> None:
    redis_store, _ = stores(WORDS, metadata_fields={"t": "text"})
    try:
        got = redis_store.get_nodes(filters=MetadataFilters(filters=[_f("t", "the", FilterOperator.TEXT_MATCH)]))
    except FilterError:
        return
    assert [n.node_id for n in got] == ["n2"]  # actual: []


def test_text_match_on_a_lone_underscore_is_exact_or_refused(stores) -> None:
    redis_store, _ = stores(WORDS, metadata_fields={"t": "text"})
    try:  # actual: redis.exceptions.ResponseError: Syntax error at offset ... near t
        got = _ids(redis_store, MetadataFilters(filters=[_f("t", "_", FilterOperator.TEXT_MATCH)]))
    except FilterError:
        return
    assert got == []


@pytest.mark.parametrize("mode", [VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID])
def test_a_question_with_a_lone_underscore_is_answered(stores, mode: VectorStoreQueryMode) -> None:
    redis_store, _ = stores([{}, {}])
    query = VectorStoreQuery(
        query_str="what does text _ mean", query_embedding=[1.0, 0, 0, 0], similarity_top_k=2, mode=mode
    )
    assert redis_store.query(query).ids  # actual: ResponseError: Syntax error at offset ... near text


def test_tag_equality_does_not_equate_a_bool_with_its_string(stores) -> None:
    redis_store, reference = stores([{"flag": True}, {"flag": "true"}, {"flag": "no"}], metadata_fields="auto")
    flt = MetadataFilters(filters=[_f("flag", "true")])
    assert _ids(reference, flt) == ["n1"]
    try:
        got = _ids(redis_store, flt)
    except FilterError:
        return
    assert got == ["n1"]  # actual: ['n0', 'n1']


@pytest.mark.parametrize("key", ["id", "content_hash"])
def test_a_filter_on_a_metadata_key_named_like_a_layout_field_is_exact_or_refused(stores, key: str) -> None:
    redis_store, reference = stores([{key: "abc"}, {key: "zzz"}], metadata_fields="auto")
    assert redis_store.get_nodes(["n0"])[0].metadata == {key: "abc"}  # written and read back whole
    flt = MetadataFilters(filters=[_f(key, "abc")])
    assert _ids(reference, flt) == ["n0"]
    try:
        got = _ids(redis_store, flt)
    except FilterError:
        return
    assert got == ["n0"]  # actual: []


def test_tag_equality_on_a_value_longer_than_4096_bytes_is_exact_or_refused(stores) -> None:
    long_value, prefix = "x" * 5000, "x" * 4096
    redis_store, reference = stores([{"s": long_value}, {"s": prefix}], metadata_fields="auto")
    for value, expected in ((long_value, ["n0"]), (prefix, ["n1"])):
        flt = MetadataFilters(filters=[_f("s", value)])
        assert _ids(reference, flt) == expected
        try:
            got = _ids(redis_store, flt)
        except FilterError:
            continue
        assert got == expected  # actual: [] for the 5000-byte value, ['n0', 'n1'] for the prefix


def test_delete_by_a_ref_doc_id_longer_than_4096_bytes_deletes_its_nodes_or_the_write_is_refused(
    redis_url: str, unique_name: str
) -> None:
    store = RedisVectorStore(unique_name, dims=4, redis_url=redis_url)
    doc_id = "p" * 5000
    node = _nodes([{}])[0]
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    try:
        try:
            store.add([node])
        except ValueError:
            return  # refused up front: fine
        store.delete(doc_id)
        assert _ids(store, None) == []  # actual: ['n0']
    finally:
        store.clear()
        if store.index is not None:
            store.index.drop()


def test_a_filter_on_a_metadata_key_with_a_tab_is_exact_or_refused(stores) -> None:
    redis_store, _ = stores([{"a\tb": "v"}, {"a\tb": "w"}], metadata_fields="auto")
    try:
        got = _ids(redis_store, MetadataFilters(filters=[_f("a\tb", "v")]))
    except FilterError:
        return
    assert got == ["n0"]  # actual: redis.exceptions.ResponseError: Syntax error at offset 4 near b


def test_an_empty_index_name_is_refused(redis_url: str, unique_name: str) -> None:
    # The default is made unique, so that the fallback (if it happens) writes nowhere another test reads.
    settings = Settings(redis_url=redis_url, index_name=unique_name)
    store = None
    try:
        with pytest.raises(ValueError):
            store = RedisVectorStore("", dims=4, redis_url=redis_url, settings=settings)  # actual: opens unique_name
    finally:
        if store is not None and store.index is not None:
            store.index.drop()


def test_auto_tag_field_keeps_a_later_int_apart_from_its_string(redis_url: str, unique_name: str) -> None:
    store = RedisVectorStore(unique_name, dims=4, redis_url=redis_url, metadata_fields="auto")
    reference = SimpleVectorStore()
    first, second = _nodes([{"v": "1"}, {"v": 1}])
    try:
        for s in (store, reference):
            s.add([first])
        for s in (store, reference):
            try:
                s.add([second])
            except (TypeError, ValueError):
                return  # refusing the int in a tag field is a clear answer
        for value, expected in (("1", ["n0"]), (1, ["n1"])):
            flt = MetadataFilters(filters=[_f("v", value)])
            assert _ids(reference, flt) == expected
            try:
                got = _ids(store, flt)
            except FilterError:
                continue
            assert got == expected  # actual: ['n0', 'n1'] for both
    finally:
        store.clear()
        if store.index is not None:
            store.index.drop()
