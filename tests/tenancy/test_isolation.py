"""A tenant never sees another tenant's data, whatever it asks (hypothesis, on the embedded Redis).

Two tenants hold records with the SAME ids, documents and metadata keys; only ``owner`` tells them apart. Every
read path of tenant A (get, find, KNN, BM25, hybrid, MMR, sync and async) is driven with random filters and raw
query strings, including ones that name tenant B's values or try to widen the query (``*``, ``|``, ``-``,
``@field:``): every result must be A's, or the call must fail with an error. The caches and chat history take the
same tenants: A never gets B's cached answer, exact value or session. A changed document of A drops A's cached
answers only.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.exceptions import ResponseError
from redisvl.exceptions import RedisSearchError

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import ExactCache, SemanticCache
from redis_rag_integrations.cache.entry import SourceRef
from redis_rag_integrations.cache.guard import CacheInputError
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.store import ChatHistoryStore
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.store.filters import FilterError
from redis_rag_integrations.tenant_admin import drop_tenant, list_tenants

DIMS = 8
IDS = ["1", "2", "x:y", "{b}", "a b", "Ü"]
embedder = HashEmbedder(DIMS)
PER_TEST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

tenant_parts = st.one_of(
    st.sampled_from(["a", "b", "{b}", "b}", "~62", "rag", "a b", "x:*", "\x00", "Ü", "acme"]),
    st.text(min_size=1, max_size=12),
)
#: Raw query strings and dict filters a caller might pass (or an attacker try): widening, negating, naming B.
raw_filters = st.one_of(
    st.sampled_from(
        [
            "*", "@owner:{b}", "-@owner:{a}", "@owner:{a} | @owner:{b}", "(@id:{1}) | *", "@doc_id:{d1}",
            "@text:(secret)", "-(@owner:{a})", "@owner:{a}|-@owner:{a}", "*=>[KNN 100 @vector $vector]",
            "@owner:{b*}", "@__key:{*}", "ismissing(@owner)", "@id:{*}", "(*)",
        ]
    ),
    st.text(max_size=30),
)  # fmt: skip
dict_filters = st.one_of(
    st.none(),
    st.fixed_dictionaries({"owner": st.sampled_from(["a", "b"])}),
    st.fixed_dictionaries({"doc_id": st.sampled_from(["d1", "d2"])}),
    st.fixed_dictionaries({"$not": st.fixed_dictionaries({"owner": st.sampled_from(["a", "b"])})}),
    st.fixed_dictionaries({"$or": st.just([{"owner": "a"}, {"owner": "b"}])}),
    st.fixed_dictionaries({"text": st.fixed_dictionaries({"$like": st.sampled_from(["secret", "b*", "*"])})}),
)
ERRORS = (ResponseError, RedisSearchError, FilterError, ValueError)


def _records(owner: str) -> list[Record]:
    return [
        Record(
            id=i,
            text=f"secret words of {owner} number {n}",
            vector=embedder.embed([f"{owner}{i}"])[0],
            metadata={"owner": owner},
            doc_id=f"d{n % 2 + 1}",
        )
        for n, i in enumerate(IDS)
    ]


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture
def pair(settings: Settings, token: str) -> Iterator[tuple[RedisVectorIndex, RedisVectorIndex]]:
    """Tenants A and B with one index each, same index name, same record ids."""
    made = [
        RedisVectorIndex("docs", dims=DIMS, metadata_fields={"owner": "tag"}, settings=settings, tenant=f"{token}{t}")
        for t in ("a", "b")
    ]
    for index, owner in zip(made, ("a", "b"), strict=True):
        index.upsert(_records(owner))
    yield made[0], made[1]
    for index in made:
        drop_tenant(index.tenant, index.client)
        index.close()


def _only_a(hits: list, what: str) -> None:
    for hit in hits:
        record = getattr(hit, "record", hit)
        assert record.metadata.get("owner") == "a", f"{what} returned {record!r}"
        assert " of a " in record.text, f"{what} returned {record!r}"


def _each_read(a: RedisVectorIndex, flt: object) -> Iterator[tuple[str, object]]:
    query = embedder.embed(["b1"])[0]  # closest to one of B's records
    yield "get", lambda: a.get(IDS)
    yield "find", lambda: a.find(flt or "*", limit=100)
    yield "search", lambda: a.search(query, k=50, filter=flt)
    yield "text_search", lambda: a.text_search("secret words b", k=50, filter=flt)
    yield "hybrid_search", lambda: a.hybrid_search("secret b", query, k=50, filter=flt)
    yield "mmr_search", lambda: a.mmr_search(query, k=10, fetch_k=50, filter=flt)
    yield "asearch", lambda: asyncio.run(a.asearch(query, k=50, filter=flt))
    yield "atext_search", lambda: asyncio.run(a.atext_search("secret b", k=50, filter=flt))


@given(flt=st.one_of(raw_filters, dict_filters))
@PER_TEST
def test_no_filter_or_raw_query_string_reaches_another_tenant(pair, flt: object) -> None:
    a, _ = pair
    for what, read in _each_read(a, flt):
        try:
            hits = read()
        except ERRORS:
            continue  # a clear refusal is fine; another tenant's record is not
        _only_a(hits, f"{what}({flt!r})")


def test_each_tenant_sees_all_of_its_own_records_and_only_them(pair) -> None:
    a, b = pair
    assert a.name != b.name and a.count() == b.count() == len(IDS)
    assert {r.text for r in a.get(IDS)} == {r.text for r in _records("a")}
    assert {r.text for r in b.get(IDS)} == {r.text for r in _records("b")}
    assert len(a.search(embedder.embed(["x"])[0], k=100)) == len(IDS)
    assert a.find({"owner": "b"}) == []
    # Deletes of A, however broad, stay in A: same ids and documents in B survive.
    a.delete_documents(["d1"])
    a.delete_where("*")
    a.delete(IDS)
    a.clear()
    assert a.count() == 0 and b.count() == len(IDS)
    assert {r.text for r in b.get(IDS)} == {r.text for r in _records("b")}


@given(first=tenant_parts, second=tenant_parts)
@PER_TEST
def test_random_tenant_names_keep_their_documents_apart(
    settings: Settings, token: str, first: str, second: str
) -> None:
    names = [f"{token}A{first}", f"{token}B{second}"]  # always two different tenants
    made = []
    try:
        for name, owner in zip(names, ("a", "b"), strict=True):
            fields = {"owner": "tag"}
            index = RedisVectorIndex("docs", dims=DIMS, metadata_fields=fields, settings=settings, tenant=name)
            made.append(index)
            index.upsert(_records(owner))
        a = made[0]
        _only_a(a.search(embedder.embed(["b1"])[0], k=50), "search")
        _only_a(a.find("*", limit=100), "find *")
        assert len(a.get(IDS)) == len(IDS)
        assert set(names) <= set(list_tenants(a.client))
    finally:
        for index in made:
            dropped = drop_tenant(index.tenant, index.client)
            assert dropped.indexes == [index.name]
            index.close()
    assert not set(names) & set(list_tenants(made[0].client))


def test_caches_and_histories_are_per_tenant(redis_url: str, token: str) -> None:
    ta, tb = f"{token}a", f"{token}b"
    caches = [SemanticCache(HashEmbedder(16), redis_url=redis_url, tenant=t, verify=False) for t in (ta, tb)]
    exacts = [ExactCache(redis_url=redis_url, tenant=t) for t in (ta, tb)]
    stores = [ChatHistoryStore(redis_url, tenant=t) for t in (ta, tb)]
    try:
        caches[1].store("what is the secret?", "B's answer", sources=[SourceRef("faq")])
        exacts[1].set("what is the secret?", "B's value")
        stores[1].append("s1", [StoredMessage(role="user", content="B's message")])
        # The same prompt, the same session id: tenant A finds nothing of B's.
        assert caches[0].check("what is the secret?") is None
        assert exacts[0].get("what is the secret?") is None
        assert stores[0].read("s1") == [] and stores[0].sessions() == []
        assert caches[1].check("what is the secret?").response == "B's answer"
        assert stores[1].sessions() == ["s1"]
        # A's document "faq" changing drops A's answers only: B's answer (built from B's "faq") survives.
        caches[0].store("what is the secret?", "A's answer", sources=[SourceRef("faq")])
        assert caches[0].invalidate_documents(["faq"]) == 1
        assert caches[0].check("what is the secret?") is None
        assert caches[1].check("what is the secret?").response == "B's answer"
        assert {ta, tb} <= set(list_tenants(redis_url))
    finally:
        for cache in caches:
            with contextlib.suppress(Exception):
                cache.delete_index()
            cache.close()
        for t in (ta, tb):
            drop_tenant(t, redis_url)
    assert not {ta, tb} & set(list_tenants(redis_url))


@given(first=tenant_parts, second=tenant_parts, prompt=st.text(min_size=1, max_size=30))
@example(first="a", second="b", prompt="\x85")  # whitespace to str.strip(): the cache refuses it
@PER_TEST
def test_random_tenants_never_share_cache_entries_or_sessions(
    redis_url: str, token: str, first: str, second: str, prompt: str
) -> None:
    ta, tb = f"{token}A{first}", f"{token}B{second}"
    caches = [SemanticCache(HashEmbedder(16), redis_url=redis_url, tenant=t, verify=False) for t in (ta, tb)]
    exacts = [ExactCache(redis_url=redis_url, tenant=t) for t in (ta, tb)]
    stores = [ChatHistoryStore(redis_url, tenant=t) for t in (ta, tb)]
    try:
        if not prompt.strip():  # the caches refuse a key with nothing to match on: a clear refusal, nothing stored
            with pytest.raises(CacheInputError):
                caches[1].store(prompt, "B")
            prompt = f"x{prompt}"
        caches[1].store(prompt, "B")
        exacts[1].set(prompt, "B")
        stores[1].append("s", [StoredMessage(role="user", content="B")])
        assert caches[0].check(prompt) is None and caches[1].check(prompt).response == "B"
        assert exacts[0].get(prompt) is None and exacts[1].get(prompt) == "B"
        assert stores[0].read("s") == [] and [m.content for m in stores[1].read("s")] == ["B"]
    finally:
        for cache in caches:
            with contextlib.suppress(Exception):
                cache.delete_index()
            cache.close()
        for t in (ta, tb):
            drop_tenant(t, redis_url)


def test_a_tenants_store_write_invalidates_its_own_cache_only(settings: Settings, redis_url: str, token: str) -> None:
    ta, tb = f"{token}a", f"{token}b"
    indexes = [RedisVectorIndex("docs", dims=DIMS, settings=settings, tenant=t) for t in (ta, tb)]
    caches = [SemanticCache(HashEmbedder(16), redis_url=redis_url, tenant=t, verify=False) for t in (ta, tb)]
    try:
        for index, cache in zip(indexes, caches, strict=True):
            index.upsert([Record("c1", "v1", np.ones(DIMS, dtype=np.float32), doc_id="faq")])
            cache.store("q", f"answer of {index.tenant.name}", sources=[SourceRef("faq")])
        indexes[0].upsert([Record("c1", "v2 changed", np.ones(DIMS, dtype=np.float32), doc_id="faq")])
        assert caches[0].check("q") is None  # A's answer built from A's changed faq is gone
        assert caches[1].check("q").response == f"answer of {tb}"  # B's faq did not change
    finally:
        for cache in caches:
            with contextlib.suppress(Exception):
                cache.delete_index()
            cache.close()
        for t in (ta, tb):
            drop_tenant(t, redis_url)


def test_untenanted_names_in_the_tenants_namespace_are_refused(settings: Settings) -> None:
    from redis_rag_integrations.tenancy import TenantError

    for kwargs in ({"index_name": "rag"}, {"index_name": "x", "prefix": "rag:{acme}:docs"}):
        with pytest.raises(TenantError, match="tenant="):
            RedisVectorIndex(dims=DIMS, settings=settings, **kwargs)
    with pytest.raises(TenantError):
        SemanticCache(HashEmbedder(16), name="rag:{acme}:llmcache")
    with pytest.raises(TenantError):
        ChatHistoryStore(settings.redis_url, prefix="rag")


def test_a_tenants_index_name_and_prefix_are_both_under_its_tag(settings: Settings, token: str) -> None:
    index = RedisVectorIndex("kb", prefix="kb-records", dims=DIMS, settings=settings, tenant=f"{token} x")
    try:
        tag = index.tenant.tag
        assert (index.name, index.layout.key_prefix) == (f"rag:{{{tag}}}:kb", f"rag:{{{tag}}}:kb-records")
        index.upsert(_records("a")[:1])
        assert index.client.exists(f"rag:{{{tag}}}:kb-records:{IDS[0]}") == 1
    finally:
        drop_tenant(index.tenant, index.client)


def test_untenanted_names_are_unchanged(settings: Settings, unique_name: str) -> None:
    index = RedisVectorIndex(unique_name, dims=DIMS, settings=settings)
    try:
        assert (index.name, index.layout.key_prefix, index.tenant) == (unique_name, unique_name, None)
    finally:
        index.drop()
        index.close()
