"""The framework-neutral semantic cache on a real Redis: matching, scopes, TTL, bound, invalidation, counters."""

from __future__ import annotations

import pytest

from redis_rag_integrations.cache import CacheInputError, SemanticCache, SourceRef
from redis_rag_integrations.freshness import invalidate_documents

from .conftest import unit


def test_paraphrase_hits_and_near_miss_does_not(make_cache, local_embedder) -> None:
    cache = make_cache(local_embedder, distance_threshold=0.2)
    cache.store("How do I reverse a list in Python?", "Use list.reverse() or reversed().", llm="m")
    hit = cache.check("How can I reverse a Python list?", llm="m")
    assert hit is not None and hit.response == "Use list.reverse() or reversed()."
    assert 0.0 < hit.distance <= 0.2
    assert cache.check("How do I sort a dictionary by value?", llm="m") is None


def test_threshold_is_a_cosine_distance_with_inclusive_bound(make_cache) -> None:
    cache = make_cache(distance_threshold=0.5, verify=False)  # placeholder prompts: the distance alone decides
    cache.store("q", "a", vector=unit(1, 0))
    # cosine distance between (1,0) and (1,1)/sqrt2 is 1 - 0.7071 = 0.2929
    assert cache.check("q2", vector=unit(1, 1)) is not None
    assert cache.check("q2", vector=unit(1, 1), distance_threshold=0.29) is None
    assert cache.check("q3", vector=unit(0, 1)) is None  # orthogonal: distance 1.0
    with pytest.raises(ValueError, match="cosine DISTANCE"):
        make_cache(distance_threshold=2.5)


def test_closest_entry_wins_when_several_are_in_range(make_cache) -> None:
    cache = make_cache(distance_threshold=0.5, verify=False)  # placeholder prompts: the distance alone decides
    cache.store("far", "far answer", vector=unit(1, 0.6))
    cache.store("near", "near answer", vector=unit(1, 0.1))
    hit = cache.check("query", vector=unit(1, 0))
    assert hit is not None and hit.response == "near answer"


def test_llm_scope_is_a_prefilter_not_a_check_after_top1(make_cache) -> None:
    cache = make_cache(distance_threshold=0.5, verify=False)  # placeholder prompts: the distance alone decides
    cache.store("q", "answer from model A", llm="model-a", vector=unit(1, 0))  # closest overall
    cache.store("q'", "answer from model B", llm="model-b", vector=unit(1, 0.5))  # farther, still in range
    hit = cache.check("query", llm="model-b", vector=unit(1, 0))
    assert hit is not None and hit.response == "answer from model B"
    assert cache.check("query", llm="model-c", vector=unit(1, 0)) is None


def test_user_scope_isolates_tenants(make_cache) -> None:
    cache = make_cache(distance_threshold=0.5, verify=False)  # placeholder prompts: the distance alone decides
    cache.store("q", "acme's answer", scope={"tenant": "acme"}, vector=unit(1, 0))
    cache.store("q", "globex's answer", scope={"tenant": "globex"}, vector=unit(1, 0.4))
    hit = cache.check("q", scope={"tenant": "globex"}, vector=unit(1, 0))
    assert hit is not None and hit.response == "globex's answer"
    assert cache.check("q", vector=unit(1, 0)) is None  # unscoped lookups see only unscoped entries
    assert cache.invalidate(scope={"tenant": "acme"}) == 1
    assert cache.check("q", scope={"tenant": "acme"}, vector=unit(1, 0)) is None
    assert cache.check("q", scope={"tenant": "globex"}, vector=unit(1, 0)) is not None


def test_entry_ttl_is_set_and_not_refreshed_on_hit_by_default(make_cache, client) -> None:
    cache = make_cache(ttl=1000)
    key = cache.store("q", "a")
    assert 0 < client.ttl(key) <= 1000
    client.expire(key, 50)
    assert cache.check("q") is not None
    assert client.ttl(key) <= 50


def test_refresh_on_hit_extends_the_entry_ttl_when_asked(make_cache, client) -> None:
    cache = make_cache(ttl=1000, refresh_on_hit=True)
    key = cache.store("q", "a")
    client.expire(key, 50)
    assert cache.check("q") is not None
    assert client.ttl(key) > 50


def test_entries_without_ttl_never_expire(make_cache, client) -> None:
    cache = make_cache(ttl=None)
    key = cache.store("q", "a")
    assert client.ttl(key) == -1


def test_max_entries_evicts_the_oldest(make_cache) -> None:
    cache = make_cache(max_entries=3)
    for i in range(5):
        cache.store(f"question {i}", f"answer {i}")
    assert len(cache) == 3
    assert cache.check("question 0") is None and cache.check("question 1") is None
    assert cache.check("question 4").response == "answer 4"


def test_storing_the_same_prompt_again_overwrites(make_cache) -> None:
    cache = make_cache()
    first = cache.store("q", "old")
    second = cache.store("q", "new")
    assert first == second and len(cache) == 1
    assert cache.check("q").response == "new"


def test_clear_and_invalidate_by_llm(make_cache) -> None:
    cache = make_cache()
    cache.store("a", "1", llm="m1")
    cache.store("b", "2", llm="m1")
    cache.store("c", "3", llm="m2")
    assert cache.invalidate(llm="m1") == 2
    assert cache.check("a", llm="m1") is None and cache.check("c", llm="m2") is not None
    assert cache.clear() == 1
    assert cache.check("c", llm="m2") is None
    with pytest.raises(ValueError, match="clear"):
        cache.invalidate()


def test_sources_link_entries_to_documents_for_invalidation(make_cache, client) -> None:
    cache = make_cache()
    cache.store("q1", "from doc-1", sources=[SourceRef("doc-1", "h1")])
    cache.store("q2", "from doc-2", sources=[SourceRef("doc-2", "h2")])
    assert cache.check("q1").sources == [SourceRef("doc-1", "h1")]
    assert invalidate_documents(client, ["doc-1"]) == 1
    assert cache.check("q1") is None
    assert cache.check("q2") is not None


def test_counters_and_latency(make_cache) -> None:
    cache = make_cache()
    cache.check("q")
    cache.store("q", "a")
    cache.check("q")
    cache.check("q")
    snap = cache.stats.snapshot()
    assert (snap["hits"], snap["misses"], snap["stores"], snap["lookups"]) == (2, 1, 1, 3)
    assert snap["mean_lookup_ms"] > 0 and snap["mean_search_ms"] > 0


@pytest.mark.parametrize("bad", ["", "   ", None, 42, b"bytes"])
def test_bad_prompts_raise_a_clear_error_and_write_nothing(make_cache, bad) -> None:
    cache = make_cache()
    with pytest.raises(CacheInputError):
        cache.store(bad, "a")
    with pytest.raises(CacheInputError):
        cache.check(bad)
    assert cache.stats.stores == 0


def test_bad_responses_and_metadata_are_refused_without_a_partial_entry(make_cache) -> None:
    cache = make_cache(max_response_bytes=100)
    with pytest.raises(CacheInputError, match="text"):
        cache.store("q", {"not": "text"})  # type: ignore[arg-type]
    with pytest.raises(CacheInputError, match="limit"):
        cache.store("q", "x" * 101)
    with pytest.raises(CacheInputError, match="JSON"):
        cache.store("q", "a", meta={"obj": object()})
    cache.check("q")  # creates the index if nothing did
    assert len(cache) == 0


def test_huge_prompts_match_exactly_not_by_meaning(make_cache, local_embedder) -> None:
    cache = make_cache(local_embedder, distance_threshold=0.3, max_semantic_chars=200)
    base = "Explain the following Python code in detail. " + "x = [i * i for i in range(10)]\n" * 20
    cache.store(base + "Answer in English.", "english")
    assert cache.check(base + "Answer in English.").response == "english"
    # same first 200 chars, different ending: the embedder cannot see the difference, the hash can
    assert cache.check(base + "Answer in French.") is None
    with pytest.raises(CacheInputError, match="limit"):
        make_cache(max_prompt_bytes=1000).check("y" * 1001)


def test_vector_of_the_wrong_size_is_refused(make_cache) -> None:
    cache = make_cache()
    with pytest.raises(CacheInputError, match="dims"):
        cache.check("q", vector=[1.0, 0.0])


async def test_async_twins_share_entries_with_sync(make_cache, local_embedder) -> None:
    cache = make_cache(local_embedder, distance_threshold=0.2, ttl=500)
    key = await cache.astore("What is a lambda function in Python?", "An anonymous function.", llm="m")
    assert key is not None
    hit = await cache.acheck("What's a Python lambda function?", llm="m")
    assert hit is not None and hit.key == key
    assert cache.check("What is a lambda function in Python?", llm="m") is not None
    assert await cache.acheck("What is a lambda function in Python?", llm="other") is None
    assert await cache.ainvalidate(llm="m") == 1
    await cache.astore("a", "b")
    assert await cache.aclear() == 1
    await cache.aclose()


async def test_async_bound_and_sources(make_cache, client) -> None:
    cache: SemanticCache = make_cache(max_entries=2)
    for i in range(3):
        await cache.astore(f"q{i}", f"a{i}", sources=[SourceRef(f"doc{i}")])
    assert len(cache) == 2
    assert await cache.ainvalidate_documents(["doc2"]) == 1
    assert await cache.acheck("q2") is None and await cache.acheck("q1") is not None
    await cache.aclose()


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I convert a string to a number?", "How do I convert a number to a string?"),
        (
            "What kinds of global value mutation are thread-safe?",
            "What kinds of global value mutation are not thread-safe?",
        ),
    ],
)
def test_near_misses_the_embedder_cannot_separate_are_rejected(make_cache, local_embedder, cached, query) -> None:
    cache = make_cache(local_embedder, distance_threshold=0.3)
    cache.store(cached, "answer")
    assert cache.check(query) is None
    assert cache.stats.rejected == 1
    unverified = make_cache(local_embedder, distance_threshold=0.3, verify=False)
    unverified.store(cached, "answer")
    assert unverified.check(query) is not None  # the wrong hit the verifier prevents


def test_verifier_falls_back_to_the_next_closest_valid_candidate(make_cache, local_embedder) -> None:
    cache = make_cache(local_embedder, distance_threshold=0.3)
    cache.store("How do I convert a number to a string?", "use str()")
    cache.store("How can I turn a string into a number?", "use int() or float()")
    hit = cache.check("How do I convert a string to a number?")
    assert hit is not None and hit.response == "use int() or float()"
