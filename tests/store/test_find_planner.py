"""``find`` / ``afind`` through our own planner and parser (``store/find.py``), on every layout.

What is pinned: the command is what redisvl's ``FilterQuery`` sent (query string, returned fields, limit, dialect;
property-tested over filters); a filter finds exactly the records whose metadata match it, computed in Python over
what was written (hypothesis over records and nested filters); every layout we open comes back whole (native, a
tenant's, langchain-redis 0.2.x with ``_metadata_json``, the older langchain-redis layout with one hash field per
metadata key, llama-index-vector-stores-redis); the errors are the ones ``find`` always gave.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_redis import RedisConfig
from langchain_redis import RedisVectorStore as LangchainRedisStore
from redisvl.query import FilterQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.store import FilterError, Record, RedisVectorIndex
from redis_rag_integrations.store.filters import compile_filter
from redis_rag_integrations.store.find import find_command
from redis_rag_integrations.store.layout import Layout

FIELDS = {"topic": "tag", "year": "numeric", "body": "text"}
TEXTS = {
    "py": ("Python lists grow with append and shrink with pop.", {"topic": "python", "year": 2020}),
    "ck": ("Bake the bread at 220 degrees until the crust is golden.", {"topic": "cooking", "year": 2024}),
    "rd": ("Redis keeps keys in memory and can persist them to disk.", {"topic": "redis", "year": 2022}),
}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LAYOUTS = [
    Layout("idx", 4, metadata_fields=FIELDS),
    Layout("idx", 4, prefix="p", metadata_fields={"topic": "tag", "year": "numeric"}, dialect="langchain-redis",
           vector_field="embedding"),
    Layout("idx", 4, prefix="idx/vector", dialect="llama-index"),
]  # fmt: skip

# --- filters and their meaning in Python -------------------------------------------------------------------------
TOPICS = ["a", "b", "a b", "C", "x,y", "日本"]
tag_values = st.sampled_from(TOPICS)
years = st.integers(min_value=0, max_value=5)


def _condition() -> st.SearchStrategy[dict[str, Any]]:
    tag = st.one_of(
        tag_values.map(lambda v: {"topic": v}),
        st.tuples(st.sampled_from(["$eq", "$ne"]), tag_values).map(lambda p: {"topic": {p[0]: p[1]}}),
        st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(tag_values, min_size=1, max_size=3)).map(
            lambda p: {"topic": {p[0]: p[1]}}
        ),
    )
    num = st.tuples(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), years).map(
        lambda p: {"year": {p[0]: p[1]}}
    )
    text = st.sampled_from(["alpha", "beta", "gamma"]).map(lambda w: {"body": {"$like": w}})
    return st.one_of(tag, num, text)


filters = st.recursive(
    _condition(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"$and": fs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"$or": fs}),
        inner.map(lambda f: {"$not": f}),
    ),
    max_leaves=5,
)


def matches(meta: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    """What a filter means, evaluated in Python over a record's metadata (missing values never equal anything)."""
    out = True
    for key, value in flt.items():
        if key == "$and":
            out &= all(matches(meta, f) for f in value)
        elif key == "$or":
            out &= any(matches(meta, f) for f in value)
        elif key == "$not":
            out &= not matches(meta, value)
        else:
            ops = value if isinstance(value, dict) else {"$eq": value}
            out &= all(_holds(meta.get(key), key, op, arg) for op, arg in ops.items())
    return out


def _holds(have: Any, key: str, op: str, arg: Any) -> bool:
    if key == "body":
        return have is not None and arg in have.split()
    values = have if isinstance(have, list) else [] if have is None else [have]
    if op == "$eq":
        return arg in values
    if op == "$ne":
        return arg not in values
    if op == "$in":
        return any(v in values for v in arg)
    if op == "$nin":
        return not any(v in values for v in arg)
    compare = {"$gt": float.__gt__, "$gte": float.__ge__, "$lt": float.__lt__, "$lte": float.__le__}[op]
    return any(compare(float(v), float(arg)) for v in values)


def _options(args: tuple[Any, ...] | list[Any]) -> tuple[Any, dict[str, tuple[Any, ...]]]:
    """A search's query string and its options by name (the engine reads options in any order)."""
    query, rest = args[0], list(args[1:])
    options: dict[str, tuple[Any, ...]] = {}
    while rest:
        name = rest.pop(0)
        count = {"RETURN": int(rest[0]) + 1, "LIMIT": 2, "DIALECT": 1}[name]
        options[name], rest = tuple(rest[:count]), rest[count:]
    return query, options


@given(flt=st.one_of(filters, st.sampled_from(["@topic:{a}", "*", "(@year:[1 3])"])), limit=st.integers(1, 10_000))
@FAST
def test_the_command_is_what_redisvl_filter_query_sent(flt: Any, limit: int) -> None:
    for layout in LAYOUTS:
        try:
            compiled = compile_filter(layout, flt)
        except FilterError:
            with pytest.raises(FilterError):
                find_command(layout, flt, limit)
            continue
        theirs = FilterQuery(compiled, return_fields=layout.returned_fields, num_results=limit).get_args()
        command = find_command(layout, flt, limit)
        assert command[:2] == ("FT.SEARCH", layout.index_name)
        assert _options(command[2:]) == _options(theirs)


def test_errors_are_the_ones_find_gave(make_index: Any) -> None:
    index = make_index(4, metadata_fields=FIELDS)
    with pytest.raises(ValueError, match="a filter is required"):
        index.find(None)
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        index.find({"topic": "a"}, limit=0)
    with pytest.raises(ValueError, match="k must be a positive int, got True"):
        index.find({"topic": "a"}, limit=True)
    with pytest.raises(FilterError, match="nope"):
        index.find({"nope": 1})


# --- native layout: exact against Python -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def native(redis_url: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(
        f"t{uuid.uuid4().hex[:12]}", dims=4, metadata_fields=FIELDS, settings=Settings(redis_url=redis_url)
    )
    yield idx
    idx.drop()
    idx.close()


metas = st.fixed_dictionaries(
    {},
    optional={
        "topic": st.one_of(tag_values, st.lists(tag_values, min_size=1, max_size=2)),
        "year": years,
        "body": st.lists(st.sampled_from(["alpha", "beta", "gamma"]), min_size=1, max_size=2).map(" ".join),
        "other": st.sampled_from([1, "x", None, [1, 2]]),
    },
)


def _vector(i: int) -> np.ndarray:
    v = np.ones(4, dtype=np.float32)
    v[i % 4] += 1.0 + i
    return v / np.linalg.norm(v)


@given(written=st.lists(metas, min_size=1, max_size=8), flt=filters)
@FAST
async def test_find_returns_exactly_the_matching_records(
    native: RedisVectorIndex, written: list[dict[str, Any]], flt: dict[str, Any]
) -> None:
    native.clear()
    records = [Record(f"r{i}", f"text {i}", _vector(i), m, f"d{i % 2}") for i, m in enumerate(written)]
    native.upsert(records)
    want = {r.id: (r.text, r.metadata, r.doc_id) for r in records if matches(r.metadata, flt)}
    for got in (native.find(flt), await native.afind(flt)):
        assert {r.id: (r.text, r.metadata, r.doc_id) for r in got} == want, flt
        assert all(r.vector is None for r in got)
    if len(want) > 1:
        assert len(native.find(flt, limit=len(want) - 1)) == len(want) - 1


def test_a_tenants_find_sees_its_own_records_only(settings: Settings, unique_name: str) -> None:
    acme = RedisVectorIndex(unique_name, dims=4, metadata_fields=FIELDS, settings=settings, tenant="acme")
    globex = RedisVectorIndex(unique_name, dims=4, metadata_fields=FIELDS, settings=settings, tenant="globex")
    try:
        acme.upsert([Record("1", "alpha", _vector(1), {"topic": "a", "year": 1, "body": "alpha"}, extra={"k": [1]})])
        globex.upsert([Record("1", "beta", _vector(2), {"topic": "a", "year": 2, "body": "beta"})])
        [mine] = acme.find({"$and": [{"topic": "a"}, {"year": {"$lte": 1}}, {"body": {"$like": "alpha"}}]})
        meta = {"topic": "a", "year": 1, "body": "alpha"}
        assert (mine.id, mine.text, mine.metadata, mine.extra) == ("1", "alpha", meta, {"k": [1]})
        assert [r.text for r in globex.find({"topic": "a"})] == ["beta"]
        assert globex.find({"year": 1}) == []
    finally:
        acme.drop()
        globex.drop()


# --- legacy layouts -------------------------------------------------------------------------------------------------
def test_langchain_redis_layout_finds_with_full_metadata(
    settings: Settings, unique_name: str, redis_url: str, hash_embedder: HashEmbedder
) -> None:
    """langchain-redis 0.2.6 with a metadata schema: declared fields filter, ``_metadata_json`` gives the types."""
    embeddings = RagEmbeddings(hash_embedder)
    config = RedisConfig(
        index_name=unique_name,
        redis_url=redis_url,
        metadata_schema=[{"name": "topic", "type": "tag"}, {"name": "year", "type": "numeric"}],
    )
    legacy = LangchainRedisStore(embeddings, config=config)
    legacy.add_texts([t for t, _ in TEXTS.values()], [m for _, m in TEXTS.values()], ids=list(TEXTS))
    try:
        index = RedisVectorIndex(unique_name, dims=hash_embedder.dims, settings=settings)
        assert index.layout.dialect == "langchain-redis"
        [ck] = index.find({"topic": "cooking"})
        assert (ck.id, ck.text, ck.metadata) == ("ck", TEXTS["ck"][0], TEXTS["ck"][1])
        assert {r.id for r in index.find({"year": {"$gte": 2022}})} == {"ck", "rd"}
        assert {r.id: r.metadata for r in index.find({"$not": {"topic": "cooking"}})} == {
            k: TEXTS[k][1] for k in ("py", "rd")
        }
        assert [r.id for r in index.find({"text": {"$like": "bread"}})] == ["ck"]
        index.close()
    finally:
        legacy.index.delete(drop=True)


def test_older_langchain_redis_layout_one_field_per_metadata_key(redis_url: str, settings: Settings) -> None:
    """The layout without ``_metadata_json`` (each metadata key its own hash field, values as strings)."""
    name = f"t{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url)
    client.execute_command(
        "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, f"{name}:", "SCHEMA", "text", "TEXT", "topic", "TAG",
        "year", "NUMERIC", "embedding", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", 4, "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip
    for i, (key, (text, meta)) in enumerate(TEXTS.items()):
        client.hset(f"{name}:{key}", mapping={"text": text, "embedding": _vector(i).tobytes(), **meta})
    try:
        index = RedisVectorIndex(name, dims=4, settings=settings)
        assert index.layout.dialect == "langchain-redis"
        [rd] = index.find({"topic": "redis"})
        assert (rd.id, rd.text, rd.metadata) == ("rd", TEXTS["rd"][0], {"topic": "redis", "year": "2022"})
        assert {r.id for r in index.find({"year": {"$lt": 2022}})} == {"py"}
        index.close()
    finally:
        client.execute_command("FT.DROPINDEX", name, "DD")
        client.close()


async def test_llama_index_layout_finds_whole_nodes(
    settings: Settings, unique_name: str, hash_embedder: HashEmbedder, write_llamaindex_legacy: Any
) -> None:
    write_llamaindex_legacy(unique_name, TEXTS, hash_embedder.embed([t for t, _ in TEXTS.values()]))
    index = RedisVectorIndex(unique_name, dims=hash_embedder.dims, settings=settings)
    try:
        assert index.layout.dialect == "llama-index"
        for got in (index.find({"doc_id": "doc-ck"}), await index.afind({"doc_id": "doc-ck"})):
            [node] = got
            assert (node.id, node.text, node.metadata, node.doc_id) == ("node-ck", TEXTS["ck"][0], TEXTS["ck"][1],
                                                                        "doc-ck")  # fmt: skip
            assert node.extra is not None and node.extra["type"] == "TextNode"
        assert {r.id for r in index.find({"$or": [{"id": "node-py"}, {"text": {"$like": "memory"}}]})} == {
            "node-py",
            "node-rd",
        }
    finally:
        index.drop()


def test_the_find_benchmark_runs_with_both_paths_agreeing(redis_url: str) -> None:
    """benchmarks/find_round_trip.py checks the previous and the planner path return the same records, then times."""
    root = str(Path(__file__).resolve().parents[2])  # benchmarks/ is a folder of the repository, not a package
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks.find_round_trip import run

    out = run(redis_url, chunks=200, rounds=1)
    assert out["filters"] > 4 and out["ratio planner / previous"] > 0
