"""The LlamaIndex vector store's input surfaces against ``SimpleVectorStore``, property-based: node-id restrictions
(``[]`` included), tag values of every type and length, metadata keys of any spelling, node and document ids.

Each property: the store answers exactly as ``SimpleVectorStore`` does, or refuses with a clear error
(``FilterError`` for a filter, ``ValueError`` / ``TypeError`` for a write) and, on a refused write, has written
nothing. Written test-first for the review findings in ``test_llama_filters_reference.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore
from redis_rag_integrations.store import FilterError

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
IDS = [f"n{i}" for i in range(5)]
GRID = [{"a": "x" if i % 2 else "w"} for i in range(5)]


def _vec(i: int) -> list[float]:
    v = [0.1] * 4
    v[i % 4] = 1.0 + i * 0.01
    return v


def _nodes(metas: list[dict[str, Any]], ids: list[str] | None = None) -> list[TextNode]:
    ids = ids or [f"n{i}" for i in range(len(metas))]
    return [TextNode(id_=ids[i], text=f"text {i}", metadata=m, embedding=_vec(i)) for i, m in enumerate(metas)]


def _query_ids(store: Any, filters: MetadataFilters | None = None, **kwargs: Any) -> list[str]:
    query = VectorStoreQuery(query_embedding=[1.0, 0, 0, 0], similarity_top_k=100, filters=filters, **kwargs)
    return sorted(store.query(query).ids)


@pytest.fixture
def make(redis_url: str) -> Iterator[Callable[..., RedisVectorStore]]:
    """New empty Redis stores (dims 4), dropped after the test."""
    made: list[RedisVectorStore] = []

    def _make(**kwargs: Any) -> RedisVectorStore:
        store = RedisVectorStore(
            f"t{uuid.uuid4().hex[:12]}", dims=4, redis_url=redis_url, settings=Settings(redis_url=redis_url), **kwargs
        )
        made.append(store)
        return store

    yield _make
    for s in made:
        if s.index is not None:
            s.clear()
            s.index.drop()


def _reset(store: RedisVectorStore) -> SimpleVectorStore:
    store.clear()
    store.add(_nodes(GRID))
    reference = SimpleVectorStore()
    reference.add(_nodes(GRID))
    return reference


# --- node-id restrictions ----------------------------------------------------------------------------------------

id_lists = st.lists(st.sampled_from([*IDS, "missing"]), max_size=4, unique=True)
filters_or_none = st.sampled_from([None, MetadataFilters(filters=[MetadataFilter(key="a", value="x")])])


@pytest.mark.parametrize("backend", ["query_engine", "vectorset"])
def test_node_id_restrictions_are_exact(make, backend: str) -> None:
    store = make(metadata_fields={"a": "tag"}, backend=backend)

    @FEW
    @given(node_ids=st.none() | id_lists, flt=filters_or_none)
    def check(node_ids: list[str] | None, flt: MetadataFilters | None) -> None:
        reference = _reset(store)
        # query: [] is no restriction (VectorStoreIndex.as_retriever passes [] for a store keeping the text)
        assert _query_ids(store, flt, node_ids=node_ids) == _query_ids(reference, flt, node_ids=node_ids or None)
        if node_ids is not None or flt is not None:  # get_nodes() with neither is "every node" by its own rule
            got = sorted(n.node_id for n in store.get_nodes(node_ids=node_ids, filters=flt))
            assert got == _query_ids(reference, flt, node_ids=node_ids)
        if node_ids is None and flt is None:
            return  # delete_nodes() with neither: SimpleVectorStore deletes everything, we delete nothing (no ids)
        store.delete_nodes(node_ids=node_ids, filters=flt)
        reference.delete_nodes(node_ids=node_ids, filters=flt)
        assert _query_ids(store) == _query_ids(reference)
        reference = _reset(store)
        asyncio.run(store.adelete_nodes(node_ids=node_ids, filters=flt))
        reference.delete_nodes(node_ids=node_ids, filters=flt)
        assert _query_ids(store) == _query_ids(reference)

    check()


# --- tag values of every type and length -------------------------------------------------------------------------

#: Strings up to ~30 KB (beyond the engine's 4096-byte tag limit, multi-byte and control characters included).
long_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(min_value=1, max_value=2500))
scalars = (
    st.text(max_size=6)
    | long_text
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["true", "false", "True", "1", "1.0", "0", "~#ab", "~74"])
)


def _written(store: RedisVectorStore, nodes: list[TextNode]) -> bool:
    """Add ``nodes``; ``False`` when refused, after checking that nothing of the call was written."""
    try:
        store.add(nodes)
    except (TypeError, ValueError):
        assert store.get_nodes([n.node_id for n in nodes]) == []
        return False
    return True


def test_tag_values_of_every_type_and_length_match_exactly_or_are_refused(make) -> None:
    store = make(metadata_fields="auto")

    @FEW
    @given(values=st.lists(scalars, min_size=1, max_size=4), later=st.lists(scalars, max_size=2))
    def check(values: list[Any], later: list[Any]) -> None:
        key = f"k{uuid.uuid4().hex[:8]}"  # a new key each time: "auto" declares it from these values
        reference = SimpleVectorStore()
        nodes = _nodes([{key: v} for v in values], [f"{key}-{i}" for i in range(len(values))])
        if _written(store, nodes):
            reference.add(nodes)
        # a second write into the field the first declared (or left undeclared)
        more = _nodes([{key: v} for v in later], [f"{key}-later-{i}" for i in range(len(later))])
        if more and _written(store, more):
            reference.add(more)
        for value in [*values, *later]:
            if isinstance(value, bool):
                continue  # a LlamaIndex MetadataFilter cannot hold a bool (its value type is strict)
            flt = MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=FilterOperator.EQ)])
            try:
                got = _query_ids(store, flt)
            except FilterError:
                continue
            assert got == _query_ids(reference, flt), (key, value)

    check()


def test_tag_values_in_a_declared_tag_field_match_exactly(make) -> None:
    store = make(metadata_fields={"s": "tag"})

    @FEW
    @given(values=st.lists(st.text(max_size=3) | long_text, min_size=1, max_size=4, unique=True))
    def check(values: list[str]) -> None:
        store.clear()
        nodes = _nodes([{"s": v} for v in values])
        store.add(nodes)
        reference = SimpleVectorStore()
        reference.add(nodes)
        for v in values:
            flt = MetadataFilters(filters=[MetadataFilter(key="s", value=v)])
            assert _query_ids(store, flt) == _query_ids(reference, flt)
            # a value cut to the engine's limit is another value: it matches only itself
            cut = v.encode("utf-8")[:4096].decode("utf-8", "ignore")
            flt = MetadataFilters(filters=[MetadataFilter(key="s", value=cut)])
            assert _query_ids(store, flt) == _query_ids(reference, flt)

    check()


# --- metadata keys -------------------------------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=8) | st.sampled_from(["id", "doc_id", "content_hash", "text", "metadata", "a\tb"])


def test_metadata_keys_of_any_spelling_are_kept_and_filtered_exactly_or_refused(make) -> None:
    store = make(metadata_fields="auto")

    @FEW
    @given(key=keys, values=st.lists(st.sampled_from(["v", "w", "x y"]), min_size=1, max_size=3))
    def check(key: str, values: list[str]) -> None:
        tag = uuid.uuid4().hex[:8]
        nodes = _nodes([{key: v} for v in values], [f"{tag}-{i}" for i in range(len(values))])
        if not _written(store, nodes):
            return
        reference = SimpleVectorStore()
        reference.add(nodes)
        assert [n.metadata for n in store.get_nodes([n.node_id for n in nodes])] == [n.metadata for n in nodes]
        ids = [n.node_id for n in nodes]
        for v in values:
            flt = MetadataFilters(filters=[MetadataFilter(key=key, value=v)])
            try:
                got = _query_ids(store, flt, node_ids=ids)
            except FilterError:
                continue
            assert got == _query_ids(reference, flt, node_ids=ids), (key, v)

    check()


# --- node ids and document ids -------------------------------------------------------------------------------------

ids_text = st.text(min_size=1, max_size=6) | long_text


@pytest.mark.parametrize("backend", ["query_engine", "vectorset"])
def test_node_and_document_ids_are_found_and_deleted_exactly_or_refused(make, backend: str) -> None:
    store = make(backend=backend)

    @FEW
    @given(node_id=ids_text, doc_id=ids_text)
    def check(node_id: str, doc_id: str) -> None:
        node = _nodes([{}], [node_id])[0]
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
        store.clear()
        if not _written(store, [node]):
            assert _query_ids(store) == []
            return
        assert [n.node_id for n in store.get_nodes([node_id])] == [node_id]
        assert _query_ids(store, node_ids=[node_id]) == [node_id]
        assert store.get_nodes([node_id])[0].ref_doc_id == doc_id
        store.delete(doc_id)
        assert _query_ids(store) == []
        store.add([node])
        store.delete_nodes([node_id])
        assert _query_ids(store) == []

    check()


def test_an_empty_or_blank_index_name_is_refused(redis_url: str) -> None:
    for name in ("", " ", "\t"):
        with pytest.raises(ValueError, match="index_name"):
            RedisVectorStore(name, dims=4, redis_url=redis_url)


def test_langchain_empty_id_lists_touch_nothing(redis_url: str, unique_name: str) -> None:
    """The LangChain adapter: ``delete(ids=[])`` deletes nothing and ``get_by_ids([])`` returns nothing, as
    ``InMemoryVectorStore`` (``None`` is refused: ``clear()`` empties a store)."""
    store = LCStore(RagEmbeddings(HashEmbedder(dims=8)), unique_name, settings=Settings(redis_url=redis_url))
    try:
        ids = store.add_texts(["a", "b"], ids=["x", "y"])
        assert store.delete(ids=[]) is True
        asyncio.run(store.adelete(ids=[]))
        assert store.get_by_ids([]) == []
        assert sorted(d.id for d in store.get_by_ids(ids)) == ["x", "y"]
    finally:
        store.clear()
        store.index.drop()


@pytest.mark.parametrize(("first", "later"), [(True, "true"), ("true", True), ("1", 1), (False, 0)])
def test_auto_tag_field_refuses_a_later_value_of_another_kind_in_any_process(
    redis_url: str, unique_name: str, first: Any, later: Any
) -> None:
    """The kind an ``"auto"`` tag field was declared from is kept in Redis: another store on the same index (another
    process) refuses a value of another kind too, with nothing written."""
    opts: dict[str, Any] = {"dims": 4, "redis_url": redis_url, "metadata_fields": "auto"}
    store = RedisVectorStore(unique_name, **opts)
    try:
        store.add(_nodes([{"v": first}]))
        other = RedisVectorStore(unique_name, **opts)
        with pytest.raises(TypeError, match="tag field"):
            other.add(_nodes([{"v": "x"}, {"v": later}], ["ok", "bad"]))
        assert other.get_nodes(["ok", "bad"]) == []
    finally:
        store.clear()
        assert store.index is not None
        store.index.drop(delete_records=True)


def test_a_key_mixed_in_the_records_written_stays_undeclared(redis_url: str, unique_name: str) -> None:
    """``""`` and ``0`` leave ``k`` undeclared; a later write of ``False`` alone must not declare it a tag, whose
    backfill would index the old ``0`` as ``"0"``: the filter stays refused, in this store and in a new one."""
    opts: dict[str, Any] = {"dims": 4, "redis_url": redis_url, "metadata_fields": "auto"}
    store = RedisVectorStore(unique_name, **opts)
    try:
        store.add(_nodes([{"k": ""}, {"k": 0}]))
        for s in (store, RedisVectorStore(unique_name, **opts)):
            s.add(_nodes([{"k": False}], [f"later-{id(s)}"]))
            with pytest.raises(FilterError, match="'k'"):
                _query_ids(s, MetadataFilters(filters=[MetadataFilter(key="k", value="0")]))
        assert store.index is not None and "k" not in store.index.layout.metadata_fields
    finally:
        store.clear()
        assert store.index is not None
        store.index.drop(delete_records=True)
