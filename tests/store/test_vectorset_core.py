"""The vector-set backend's core on a real Redis 8 server: writes, reads, scores, options, refusals, freshness."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from redis_rag_integrations import Settings, freshness
from redis_rag_integrations.store import LayoutMismatchError, Record, RedisVectorIndex
from redis_rag_integrations.store.vectorset import VectorSetIndex, VectorSetUnsupported
from redis_rag_integrations.store.vectorset.layout import has_hash_tag


@pytest.fixture
def make(settings: Settings) -> Iterator[Any]:
    made: list[RedisVectorIndex] = []

    def build(name: str | None = None, dims: int | None = 4, **kw: Any) -> RedisVectorIndex:
        idx = RedisVectorIndex(
            name or f"v{uuid.uuid4().hex[:10]}", dims=dims, settings=settings, backend="vectorset", **kw
        )
        made.append(idx)
        return idx

    yield build
    for idx in made:
        idx.drop()
        idx.close()


def vec(*xs: float) -> np.ndarray:
    return np.asarray(xs, dtype=np.float32)


def rec(i: int, doc: str | None = None, **meta: Any) -> Record:
    v = np.ones(4, dtype=np.float32)
    v[i % 4] += 1.0 + i
    return Record(f"r{i}", f"text {i}", v / np.linalg.norm(v), dict(meta), doc_id=doc)


def test_backend_option_builds_a_vector_set_index(make: Any) -> None:
    idx = make()
    assert isinstance(idx, VectorSetIndex) and isinstance(idx, RedisVectorIndex)
    assert idx.client.exists(idx.keys.meta) and has_hash_tag(idx.keys.vset)


def test_no_public_method_is_inherited_from_the_query_engine_index() -> None:
    """An inherited method would send FT.* commands to an index that has none."""
    for name in dir(RedisVectorIndex):
        if name.startswith("_") or name == "async_client":  # the clients holder: no backend in it
            continue
        owner = next(c for c in VectorSetIndex.__mro__ if name in c.__dict__)
        assert owner.__module__.startswith("redis_rag_integrations.store.vectorset"), name


def test_records_round_trip_with_types_and_ids_untouched(make: Any) -> None:
    idx = make(metadata_fields={"year": "numeric", "team": "tag"})
    odd_ids = ["a b", "x:y{z}", "Über/日本", 'q"uote\\', "~61"]
    records = [
        Record(i, f"t{n}", rec(n).vector, {"year": 2020 + n, "f": 1.5, "b": True, "l": [1, "x"], "n": None}, doc_id=i)
        for n, i in enumerate(odd_ids)
    ]
    idx.upsert(records)
    got = idx.get([*odd_ids, "missing"])
    assert [r.id for r in got] == odd_ids
    assert got[0].metadata == {"year": 2020, "f": 1.5, "b": True, "l": [1, "x"], "n": None}
    assert isinstance(got[0].metadata["year"], int) and got[3].doc_id == 'q"uote\\'
    assert idx.count() == 5


def test_scores_are_cosine_similarities(make: Any) -> None:
    idx = make()
    idx.upsert(
        [Record("x", "x", vec(1, 0, 0, 0)), Record("y", "y", vec(0, 1, 0, 0)), Record("z", "z", vec(-1, 0, 0, 0))]
    )
    hits = {h.record.id: h for h in idx.search(vec(1, 0, 0, 0), 3)}
    assert hits["x"].score == pytest.approx(1.0, abs=0.01) and hits["x"].distance == pytest.approx(0.0, abs=0.01)
    assert hits["y"].score == pytest.approx(0.0, abs=0.01) and hits["y"].distance == pytest.approx(1.0, abs=0.01)
    assert hits["z"].score == pytest.approx(-1.0, abs=0.01) and hits["z"].distance == pytest.approx(2.0, abs=0.01)


def test_replace_is_whole_and_moves_the_document(make: Any) -> None:
    idx = make()
    idx.upsert([Record("a", "old", vec(1, 0, 0, 0), {"k": 1, "gone": 2}, doc_id="d1")])
    idx.upsert([Record("a", "new", vec(0, 1, 0, 0), {"k": 2}, doc_id="d2")])
    (got,) = idx.get(["a"], with_vectors=True)
    assert (got.text, got.metadata, got.doc_id) == ("new", {"k": 2}, "d2")
    assert got.vector is not None and np.argmax(got.vector) == 1
    assert idx.delete_documents(["d1"]) == 0 and idx.count() == 1  # "a" left d1
    assert idx.delete_documents(["d2"]) == 1 and idx.count() == 0


def test_delete_by_id_and_by_document(make: Any) -> None:
    idx = make()
    idx.upsert([rec(i, doc=f"d{i % 2}") for i in range(6)])
    assert idx.delete(["r0", "nope"]) == 1
    assert idx.delete_documents(["d1"]) == 3
    assert sorted(r.id for r in idx.get([f"r{i}" for i in range(6)])) == ["r2", "r4"]


def test_a_bad_record_fails_the_call_and_writes_nothing(make: Any) -> None:
    idx = make(metadata_fields={"year": "numeric"})
    with pytest.raises(TypeError, match="numeric"):
        idx.upsert([rec(1, year=2020), rec(2, year="soon")])
    with pytest.raises(ValueError, match="dimensions"):
        idx.upsert([rec(1), Record("x", "x", vec(1, 0))])
    assert idx.count() == 0


def test_versioned_document_writes_keep_the_newest(make: Any) -> None:
    idx = make()
    first = [Record(f"c{i}", "v1", rec(i).vector, doc_id="doc") for i in range(3)]
    assert idx.replace_document("doc", first, version="5-0").status == "applied"
    second = [Record("c0", "v2", rec(0).vector, doc_id="doc")]
    assert idx.replace_document("doc", second, version="7-0").removed == 2
    assert idx.replace_document("doc", first, version="6-0").status == "stale"
    assert [r.text for r in idx.get(["c0", "c1", "c2"])] == ["v2"]
    assert idx.replace_document("doc", second, version="7-0").status == "current"
    state = idx.document_states(["doc"])["doc"]
    assert state.version == "7-0" and not state.deleted
    assert idx.advance_document("doc", state.content_hash or "", version="8-0").status == "unchanged"
    assert idx.delete_document("doc", version="9-0").removed == 1 and idx.count() == 0
    assert idx.replace_document("doc", first, version="8-5").status == "stale"  # the tombstone refuses it
    with pytest.raises(Exception, match="belongs to document"):
        idx.upsert([Record("other", "x", rec(1).vector, doc_id="d2")])
        idx.replace_document("d3", [Record("other", "x", rec(1).vector, doc_id="d3")], version=1)


def test_filters_tags_numbers_and_negations_like_the_query_engine(make: Any) -> None:
    idx = make(metadata_fields={"team": "tag", "year": "numeric"})
    idx.upsert([rec(0, team="a", year=2019), rec(1, team=["a", "b"], year=2021), rec(2, team="b"), rec(3, year=2022)])

    def ids(flt: Any) -> list[str]:
        return sorted(r.id for r in idx.find(flt))

    assert ids({"team": "a"}) == ["r0", "r1"]
    assert ids({"team": {"$ne": "a"}}) == ["r2", "r3"]  # no value: $ne matches, as in the query engine
    assert ids({"year": {"$gte": 2020}}) == ["r1", "r3"]
    assert ids({"year": {"$ne": 2019}}) == ["r1", "r2", "r3"]
    assert ids({"$or": [{"team": "b"}, {"year": {"$between": [2022, 2030]}}]}) == ["r1", "r2", "r3"]
    assert ids({"$not": {"team": "a"}}) == ["r2", "r3"]
    assert ids({"id": {"$in": ["r0", "r3"]}}) == ["r0", "r3"]
    assert next(h.record.id for h in idx.search(rec(1).vector, 2, {"team": "b"})) == "r1"
    assert idx.delete_where({"team": "a"}) == 2 and idx.count() == 2


@pytest.mark.parametrize(
    ("flt", "match"),
    [
        ({"nope": 1}, "not a declared field"),
        ({"team": {"$like": "x"}}, "query-engine"),
        ("@team:{a}", "query engine"),
        ({"year": {"$gt": "x"}}, "numbers"),
        ({"year": 2**60}, "2\\*\\*53"),
    ],
)
def test_bad_filters_are_refused(make: Any, flt: Any, match: str) -> None:
    idx = make(metadata_fields={"team": "tag", "year": "numeric"})
    with pytest.raises(ValueError, match=match):
        idx.search(rec(0).vector, 2, flt)


def test_what_a_vector_set_cannot_do_is_refused_naming_the_query_engine(make: Any, settings: Settings) -> None:
    idx = make()
    vector = rec(0).vector
    for call in (
        lambda: idx.text_search("x"),
        lambda: idx.hybrid_search("x", vector),
        lambda: idx.hybrid_plan("x", vector),
    ):
        with pytest.raises(VectorSetUnsupported, match="query-engine backend"):
            call()
    for fields in ({"body": "text"}, {"where": "geo"}, {"my-field": "tag"}):
        with pytest.raises(VectorSetUnsupported, match="query-engine backend"):
            make(metadata_fields=fields)
    with pytest.raises(VectorSetUnsupported, match="vectorset_quantization"):
        half = settings.model_copy(update={"vector_datatype": "float16"})
        RedisVectorIndex("x", dims=4, settings=half, backend="vectorset")
    with pytest.raises(VectorSetUnsupported, match="cosine"):
        RedisVectorIndex(
            "x", dims=4, settings=settings.model_copy(update={"distance_metric": "l2"}), backend="vectorset"
        )


@pytest.mark.parametrize(("quant", "info"), [("q8", "int8"), ("noquant", "f32"), ("bin", "bin")])
def test_quantisation_and_build_options_reach_the_server(make: Any, settings: Settings, quant: str, info: str) -> None:
    s = settings.model_copy(update={"vectorset_quantization": quant, "hnsw_m": 24, "vectorset_reduce": 2})
    idx = RedisVectorIndex(f"v{uuid.uuid4().hex[:10]}", dims=4, settings=s, backend="vectorset")
    try:
        idx.upsert([rec(i) for i in range(5)])
        vinfo = idx.info()
        assert vinfo["quant-type"] in (info, "float32" if info == "f32" else info)
        assert (vinfo["hnsw-m"], vinfo["vector-dim"], vinfo["projection-input-dim"]) == (24, 2, 4)
        assert idx.search(rec(1).vector, 5) and len(idx.mmr_search(rec(1).vector, 2, 5)) == 2
        reopened = RedisVectorIndex(idx.name, settings=settings, backend="vectorset")  # adopts the stored options
        assert reopened.options.quantization == quant and reopened.options.reduce == 2 and reopened.layout.dims == 4
        reopened.upsert([rec(9)])
    finally:
        idx.drop()


def test_reopening_adopts_fields_and_refuses_other_dims(make: Any, settings: Settings) -> None:
    idx = make(metadata_fields={"team": "tag"})
    other = RedisVectorIndex(idx.name, settings=settings, backend="vectorset")
    assert dict(other.layout.metadata_fields) == {"team": "tag"}
    with pytest.raises(LayoutMismatchError, match="4-dimensional"):
        RedisVectorIndex(idx.name, dims=8, settings=settings, backend="vectorset")
    with pytest.raises(LayoutMismatchError, match="metadata fields"):
        RedisVectorIndex(idx.name, metadata_fields={"year": "numeric"}, settings=settings, backend="vectorset")


def test_setting_selects_the_backend(settings: Settings, unique_name: str) -> None:
    idx = RedisVectorIndex(unique_name, dims=4, settings=settings.model_copy(update={"backend": "vectorset"}))
    try:
        assert isinstance(idx, VectorSetIndex)
    finally:
        idx.drop()
    with pytest.raises(ValueError, match="backend"):
        RedisVectorIndex(unique_name, dims=4, settings=settings, backend="nope")  # type: ignore[arg-type]


def test_a_tenants_set_lives_under_its_hash_tag(make: Any) -> None:
    idx = make("docs", tenant="acme")
    idx.upsert([rec(1)])
    assert idx.keys.vset.startswith("rag:{acme}:") and idx.client.exists(idx.keys.vset)
    assert [r.id for r in idx.get(["r1"])] == ["r1"]


def test_changing_a_record_drops_the_cache_entries_built_from_it(make: Any) -> None:
    idx = make()
    client = idx.client
    idx.upsert([rec(1, doc="d1")])
    for entry in ("cache:entry:1", "cache:entry:2"):
        client.set(entry, "answer")
    freshness.record_dependencies(client, "cache:entry:1", ["d1"])
    freshness.record_dependencies(client, "cache:entry:2", ["r1"])
    idx.upsert([rec(1, doc="d1")])  # same content: nothing dropped
    assert client.exists("cache:entry:1", "cache:entry:2") == 2
    changed = rec(1, doc="d1")
    changed.text = "changed"
    idx.upsert([changed])
    assert client.exists("cache:entry:1", "cache:entry:2") == 0
    client.set("cache:entry:3", "answer")
    freshness.record_dependencies(client, "cache:entry:3", ["d1"])
    idx.delete_documents(["d1"])
    assert not client.exists("cache:entry:3")


def test_async_twins(make: Any) -> None:
    idx = make(metadata_fields={"team": "tag"})

    async def run() -> tuple[Any, ...]:
        await idx.aupsert([rec(i, doc="d", team="a" if i < 2 else "b") for i in range(4)])
        found = [h.record.id for h in await idx.asearch(rec(3).vector, 1, {"team": "b"})]
        mmr = await idx.ammr_search(rec(3).vector, 2, 4)
        got = await idx.aget(["r0"], with_vectors=True)
        written = await idx.areplace_document("d", [rec(7, doc="d")], version=3)
        states = await idx.adocument_states(["d"])
        deleted = await idx.adelete(["r7"])
        return (
            found,
            len(mmr),
            got[0].vector is not None,
            written.removed,
            states["d"].version,
            deleted,
            await idx.acount(),
        )

    assert asyncio.run(run()) == (["r3"], 2, True, 4, "3-0", 1, 0)


def test_async_deletes_and_lifecycle(make: Any) -> None:
    idx = make(metadata_fields={"team": "tag"})

    async def run() -> tuple[Any, ...]:
        await idx.aupsert([rec(i, doc=f"d{i % 2}", team="a" if i < 3 else "b") for i in range(6)])
        by_doc = await idx.adelete_documents(["d0"])  # r0, r2, r4
        found = sorted(r.id for r in await idx.afind({"team": "b"}))
        where = await idx.adelete_where({"team": "a"})  # r1
        await idx.areplace_document("d9", [rec(9, doc="d9")], version=1)
        advanced = await idx.aadvance_document("d9", "other", version=2)
        gone = await idx.adelete_document("d9", version=3)
        left = await idx.acount()
        cleared = await idx.aclear()
        await idx.adrop()
        return by_doc, found, where, advanced.status, gone.removed, left, cleared, idx.exists()

    assert asyncio.run(run()) == (3, ["r3", "r5"], 1, "changed", 1, 2, 2, False)


def test_find_scans_every_element_not_the_probes_neighbourhood(make: Any) -> None:
    """``find`` / ``delete_where`` are exhaustive (``VSIM ... TRUTH``): records far from any probe are found too."""
    idx = make(dims=16, metadata_fields={"t": "tag"})
    rng = np.random.default_rng(1)
    points = rng.normal(size=(3000, 16)).astype(np.float32)
    points[:, 0] = np.abs(points[:, 0]) + 3  # everything near the probe's direction...
    far = {10, 1500, 2999}
    for i in far:
        points[i] = -points[i]  # ...except the three rare ones
    idx.upsert([Record(f"r{i}", "x", points[i], {"t": "rare" if i in far else "common"}) for i in range(3000)])
    assert {r.id for r in idx.find({"t": "rare"})} == {f"r{i}" for i in far}
    assert len(idx.find({"t": "common"}, limit=5000)) == 2997
    assert idx.delete_where({"t": "common"}) == 2997 and idx.count() == 3


def test_a_selective_filter_still_gets_every_match_up_to_k(make: Any) -> None:
    """A filtered VSIM examines FILTER-EF candidates near the query: one that comes back short is re-run as an
    exact scan, so a search returns min(k, matches), the query engine's answer, never silently fewer."""
    idx = make(dims=16, metadata_fields={"t": "tag"})
    rng = np.random.default_rng(2)
    points = rng.normal(size=(3000, 16)).astype(np.float32)
    points[:, 0] = np.abs(points[:, 0]) + 3
    far = [10, 1500, 2999]
    for i in far:
        points[i] = -points[i]
    idx.upsert([Record(f"r{i}", "x", points[i], {"t": "rare" if i in far else "common"}) for i in range(3000)])
    probe = np.zeros(16, dtype=np.float32)
    probe[0] = 1.0
    hits = idx.search(probe, 5, {"t": "rare"})
    assert sorted(h.record.id for h in hits) == sorted(f"r{i}" for i in far)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert asyncio.run(idx.asearch(probe, 2, {"t": "rare"}))[0].record.id == hits[0].record.id


def test_stats_lists_vector_set_indexes(make: Any, redis_url: str) -> None:
    from rich.console import Console

    from redis_rag_integrations import usage_report

    idx = make(metadata_fields={"team": "tag"}, tenant="acme")
    idx.upsert([rec(i, team="a") for i in range(7)])
    report = usage_report.collect(idx.client, redis_url)
    (row,) = [v for v in report.vector_sets if v.key == idx.keys.vset]
    assert (row.name, row.records, row.dims, row.quantization) == (idx.name, 7, 4, "q8")
    assert row.memory_bytes and row.bytes_per_record and row.bytes_per_record > 0
    console = Console(record=True, width=120, file=io.StringIO())
    usage_report.render(report, console)
    text = console.export_text()
    assert idx.name in text and "vector set" in text


def test_writes_wait_for_replicas_when_asked(settings: Settings, unique_name: str) -> None:
    """``write_replicas``: a vector-set write waits like the other backend's; with no replica it fails after the
    timeout saying so, instead of passing or hanging (the write itself is on the primary)."""
    from redis_rag_integrations.replication import ReplicationError

    s = settings.model_copy(update={"write_replicas": 1, "write_wait_timeout_ms": 100})
    idx = RedisVectorIndex(unique_name, dims=4, settings=s, backend="vectorset")
    try:
        with pytest.raises(ReplicationError):
            idx.upsert([rec(1)])
        assert idx.count() == 1
    finally:
        idx.drop()


def test_dropping_a_tenant_takes_its_vector_set_along(settings: Settings) -> None:
    from redis_rag_integrations.tenant_admin import drop_tenant, list_tenants

    tenant = f"vs-{uuid.uuid4().hex[:6]}"
    idx = RedisVectorIndex("docs", dims=4, settings=settings, backend="vectorset", tenant=tenant)
    idx.upsert([rec(1, doc="d"), rec(2)])
    assert tenant in list_tenants(idx.client)
    drop_tenant(tenant, idx.client)
    assert not idx.client.exists(idx.keys.vset, idx.keys.meta, idx.keys.doc("d"))
    assert tenant not in list_tenants(idx.client)
