"""LlamaIndex ``MetadataFilters`` through our store against LlamaIndex's own filter semantics, property-based.

The reference is ``build_metadata_filter_fn`` (what ``SimpleVectorStore`` runs). It refuses nested
``MetadataFilters``, so nesting is evaluated here by the same rule at every level (AND: all, OR: any, NOT: none),
each leaf by LlamaIndex's function. Hypothesis draws the trees (AND / OR / NOT, nested) and the values.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from redis_rag_integrations import Settings
from redis_rag_integrations.llama_index import RedisVectorStore

METAS: list[dict[str, Any]] = [
    {"a": a, "b": b, "n": n} for a in ("x", "y", "z") for b in ("p", "q") for n in (1, 2, 3) if (n + len(a + b)) % 2
]
FIELDS = {"a": "tag", "b": "tag", "n": "numeric"}
SLOW = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _vec(i: int) -> list[float]:
    v = [0.1] * 4
    v[i % 4] = 1.0 + i * 0.01
    return v


@pytest.fixture(scope="module", params=["query_engine", "vectorset"])
def store(redis_url: str, request: pytest.FixtureRequest) -> Iterator[RedisVectorStore]:
    s = RedisVectorStore(
        f"t{uuid.uuid4().hex[:12]}",
        dims=4,
        redis_url=redis_url,
        settings=Settings(redis_url=redis_url),
        metadata_fields=FIELDS,
        backend=request.param,
    )
    s.add([TextNode(id_=f"n{i}", text=f"text {i}", metadata=m, embedding=_vec(i)) for i, m in enumerate(METAS)])
    yield s
    s.clear()
    assert s.index is not None
    s.index.drop()


def expected(filters: MetadataFilters, metadata: dict[str, Any]) -> bool:
    """LlamaIndex's answer for one record: leaves by ``build_metadata_filter_fn``, nesting by the same rule."""
    matches = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            matches.append(expected(f, metadata))
        else:
            matches.append(build_metadata_filter_fn(lambda _: metadata, MetadataFilters(filters=[f]))(""))
    if filters.condition == FilterCondition.OR:
        return any(matches)
    if filters.condition == FilterCondition.NOT:
        return not any(matches)
    return all(matches)


leaves = st.one_of(
    st.builds(
        MetadataFilter,
        key=st.sampled_from(["a", "b"]),
        value=st.sampled_from(["x", "y", "z", "p", "q"]),
        operator=st.sampled_from([FilterOperator.EQ, FilterOperator.NE]),
    ),
    st.builds(
        MetadataFilter,
        key=st.just("a"),
        value=st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=2),
        operator=st.sampled_from([FilterOperator.IN, FilterOperator.NIN]),
    ),
    st.builds(
        MetadataFilter,
        key=st.just("n"),
        value=st.integers(0, 4),
        operator=st.sampled_from([FilterOperator.GT, FilterOperator.LTE, FilterOperator.EQ]),
    ),
)
conditions = st.sampled_from([FilterCondition.AND, FilterCondition.OR, FilterCondition.NOT])
trees = st.recursive(
    st.builds(MetadataFilters, filters=st.lists(leaves, min_size=1, max_size=3), condition=conditions),
    lambda inner: st.builds(
        MetadataFilters, filters=st.lists(st.one_of(leaves, inner), min_size=1, max_size=3), condition=conditions
    ),
    max_leaves=6,
)


@SLOW
@given(filters=trees)
def test_nested_and_or_not_filters_select_what_llama_index_selects(store: RedisVectorStore, filters: Any) -> None:
    want = sorted(f"n{i}" for i, m in enumerate(METAS) if expected(filters, m))
    query = VectorStoreQuery(query_embedding=[1.0, 0, 0, 0], similarity_top_k=len(METAS), filters=filters)
    assert sorted(store.query(query).ids) == want


#: Texts for TEXT_MATCH: case, stopwords, punctuation, '_', non-ASCII, whitespace other than spaces, repeats.
TEXTS = [
    "Running fast",
    "runs",
    "the end",
    "it is a cat",
    "cat, the end.",
    "a_b _ __ x_",
    "naïve café 日本",
    "tab\tsep\nline",
    "nbsp\xa0word end",
    "Run run RUN",
    "x",
    "",
    "a \u212a İ b",  # the Kelvin sign and a dotted I: str.lower() gives ASCII letters the tokenizer never sees
]
#: Values: pieces of the texts (so that many match), and arbitrary strings.
pieces = st.sampled_from(TEXTS).flatmap(
    lambda t: st.tuples(st.integers(0, len(t)), st.integers(0, len(t))).map(lambda ij: t[min(ij) : max(ij)])
)
text_values = st.one_of(pieces, st.text(alphabet=" aeinrtuxRN_.,\t", max_size=5), st.text(max_size=3))


@pytest.fixture(scope="module")
def texts(redis_url: str) -> Iterator[tuple[RedisVectorStore, list[TextNode]]]:
    nodes = [
        TextNode(id_=f"n{i}", text=f"text {i}", metadata={"t": t, "g": "even" if i % 2 == 0 else "odd"},
                 embedding=_vec(i))
        for i, t in enumerate(TEXTS)
    ]  # fmt: skip
    s = RedisVectorStore(
        f"t{uuid.uuid4().hex[:12]}",
        dims=4,
        redis_url=redis_url,
        settings=Settings(redis_url=redis_url),
        metadata_fields={"t": "text", "g": "tag"},
    )
    s.add(nodes)
    yield s, nodes
    s.clear()
    assert s.index is not None
    s.index.drop()


def _text_match(value: str, op: FilterOperator = FilterOperator.TEXT_MATCH) -> MetadataFilter:
    return MetadataFilter(key="t", value=value, operator=op)


def _holds(value: str, text: str, op: FilterOperator) -> bool:
    return value.lower() in text.lower() if op == FilterOperator.TEXT_MATCH_INSENSITIVE else value in text


@SLOW
@example(value="a k i", k=4, op=FilterOperator.TEXT_MATCH_INSENSITIVE)  # lowercased, the Kelvin sign is "k"
@given(
    value=text_values,
    k=st.integers(1, 4),
    op=st.sampled_from([FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE]),
)
def test_text_match_selects_and_ranks_what_simple_vector_store_does(
    texts: tuple[RedisVectorStore, list[TextNode]], value: str, k: int, op: FilterOperator
) -> None:
    """TEXT_MATCH (and its case-insensitive twin) is LlamaIndex's substring test, and the ``k`` nearest of the
    matches come back in order."""
    store, nodes = texts
    reference = SimpleVectorStore()
    reference.add(nodes)
    filters = MetadataFilters(filters=[_text_match(value, op)])
    query = VectorStoreQuery(query_embedding=[1.0, 0.2, 0, 0], similarity_top_k=k, filters=filters)
    assert store.query(query).ids == reference.query(query).ids
    matches = sorted(f"n{i}" for i, t in enumerate(TEXTS) if _holds(value, t, op))
    assert sorted(n.node_id for n in store.get_nodes(filters=filters)) == matches
    assert sorted(n.node_id for n in asyncio.run(store.aget_nodes(filters=filters))) == matches
    for mode in (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID):  # every node holds "text"
        ranked = VectorStoreQuery(
            query_str="text", query_embedding=[1.0, 0.2, 0, 0], similarity_top_k=k, filters=filters, mode=mode
        )
        ids = store.query(ranked).ids
        assert set(ids) <= set(matches) and len(ids) == min(k, len(matches))


@SLOW
@given(value=text_values, condition=conditions, group=st.sampled_from(["even", "odd"]))
def test_text_match_under_and_or_not_selects_what_llama_index_selects(
    texts: tuple[RedisVectorStore, list[TextNode]], value: str, condition: FilterCondition, group: str
) -> None:
    store, nodes = texts
    inner = MetadataFilters(filters=[_text_match(value), MetadataFilter(key="g", value=group)], condition=condition)
    filters = MetadataFilters(filters=[inner], condition=FilterCondition.NOT)
    for flt in (inner, filters):
        want = sorted(n.node_id for n in nodes if expected(flt, n.metadata))
        query = VectorStoreQuery(query_embedding=[1.0, 0, 0, 0], similarity_top_k=len(nodes), filters=flt)
        assert sorted(store.query(query).ids) == want
        assert sorted(asyncio.run(store.aquery(query)).ids) == want


@SLOW
@given(
    question=st.one_of(
        st.text(max_size=12),
        st.lists(st.sampled_from(["_", "__", "the", "cat", "a_b", "?"]), min_size=1, max_size=4).map(" ".join),
    )
)
def test_any_question_is_answered_or_refused_clearly(
    texts: tuple[RedisVectorStore, list[TextNode]], question: str
) -> None:
    """TEXT_SEARCH / HYBRID with any query string: hits, or a ValueError saying the question has no words."""
    store, _ = texts
    for mode in (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID):
        query = VectorStoreQuery(query_str=question, query_embedding=[1.0, 0, 0, 0], similarity_top_k=3, mode=mode)
        try:
            assert len(store.query(query).ids) <= 3
        except ValueError as exc:
            assert "no words" in str(exc) or "non-empty" in str(exc)


def test_delete_nodes_by_text_match_deletes_what_simple_vector_store_deletes(redis_url: str) -> None:
    nodes = [TextNode(id_=f"n{i}", text="x", metadata={"t": t}, embedding=_vec(i)) for i, t in enumerate(TEXTS)]
    store = RedisVectorStore(
        f"t{uuid.uuid4().hex[:12]}", dims=4, redis_url=redis_url, settings=Settings(redis_url=redis_url),
        metadata_fields={"t": "text"},
    )  # fmt: skip
    reference = SimpleVectorStore()
    try:
        for s in (store, reference):
            s.add(nodes)
            s.delete_nodes(filters=MetadataFilters(filters=[_text_match("Run")]))
        query = VectorStoreQuery(query_embedding=[1.0, 0, 0, 0], similarity_top_k=len(nodes))
        assert sorted(store.query(query).ids) == sorted(reference.query(query).ids)
        assert len(store.query(query).ids) == len(nodes) - 2  # "Running fast", "Run run RUN"
    finally:
        store.clear()
        assert store.index is not None
        store.index.drop()
