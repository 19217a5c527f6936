"""cache.lookup_plan: a lookup sent in a caller's pipeline answers exactly as ``SemanticCache.check`` does.

The plan is the lookup of the agent RAG middleware's shared round trip (:mod:`redis_rag_integrations.langchain.
rag_turn`); whatever question a user sends, it must find the same entry (or the same miss) as ``check``, refuse the
same bad input, and count statistics only when the caller uses it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fakes import HashEmbedder, WordsEmbedder
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache import CacheInputError, SemanticCache
from redis_rag_integrations.cache.lookup_plan import alookup, aplan_lookup, lookup, plan_lookup


def run_plan(cache: SemanticCache, prompt: str, llm: Any, scope: Any) -> Any:
    vector = cache.embedder.embed([prompt[: cache.max_semantic_chars]])[0]
    plan = plan_lookup(cache, prompt, llm=llm, scope=scope, vector=vector)
    assert plan is not None
    pipe = plan.client.pipeline(transaction=False)
    pipe.execute_command(*plan.command)
    plan.finish(pipe.execute(raise_on_error=False)[0], time.perf_counter())
    return plan


QUESTIONS = st.text(min_size=1, max_size=60) | st.text(min_size=1000, max_size=1100)


def _one_entry(make_cache: Callable[..., SemanticCache], stored: str, tenant: Any) -> SemanticCache | None:
    """A cache (no verifier, tight threshold) holding the answer to ``stored``, or ``None`` when it refused it."""
    cache = make_cache(HashEmbedder(), verify=False, distance_threshold=0.1)
    try:
        cache.store(stored, "the answer", llm="m", scope=tenant)
    except CacheInputError:
        return None
    return cache


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=QUESTIONS, asked=QUESTIONS, same=st.booleans(), tenant=st.sampled_from([None, "acme", {"t": 1}]))
def test_a_planned_lookup_finds_what_check_finds(
    make_cache: Callable[..., SemanticCache], stored: str, asked: str, same: bool, tenant: Any
) -> None:
    made = _one_entry(make_cache, stored, tenant)
    if made is None:
        return  # refused on the way in: nothing to find
    cache, question = made, stored if same else asked
    try:
        expected = cache.check(question, llm="m", scope=tenant)
    except CacheInputError:  # a question check() refuses (whitespace): the plan refuses it the same way
        with pytest.raises(CacheInputError):
            run_plan(cache, question, "m", tenant)
        return
    found = run_plan(cache, question, "m", tenant)
    assert found.ok and found.done
    assert (found.hit is None) == (expected is None)
    if expected is not None:
        assert (found.hit.key, found.hit.response, found.hit.prompt) == (expected.key, expected.response, question)
        assert found.hit.distance == pytest.approx(expected.distance, abs=1e-6)
    # the other scopes never see it
    assert run_plan(cache, question, "other-model", tenant).hit is None
    cache.clear()


def test_statistics_wait_for_the_caller(make_cache: Callable[..., SemanticCache]) -> None:
    cache = make_cache(HashEmbedder())
    cache.store("How do I close a file?", "with", llm="m")
    before = cache.stats.snapshot()
    plan = run_plan(cache, "How do I close a file?", "m", None)
    assert plan.hit is not None and cache.stats.snapshot()["lookups"] == before["lookups"]  # sent, not used
    assert plan.record() is plan.hit
    after = cache.stats.snapshot()
    assert (after["lookups"], after["hits"]) == (before["lookups"] + 1, before["hits"] + 1)


def test_bad_input_is_refused_like_check(make_cache: Callable[..., SemanticCache]) -> None:
    cache = make_cache(HashEmbedder(), max_prompt_bytes=10)
    vector = cache.embedder.embed(["x"])[0]
    with pytest.raises(CacheInputError):
        cache.check("a question longer than ten bytes", vector=vector)
    with pytest.raises(CacheInputError):
        plan_lookup(cache, "a question longer than ten bytes", vector=vector)
    with pytest.raises(CacheInputError):  # a vector of another model
        plan_lookup(cache, "short", vector=vector[:3])


def test_an_error_reply_is_a_fault_and_a_miss(make_cache: Callable[..., SemanticCache]) -> None:
    cache = make_cache(HashEmbedder())
    cache.store("How do I close a file?", "with", llm="m")
    vector = cache.embedder.embed(["How do I close a file?"])[0]
    plan = plan_lookup(cache, "How do I close a file?", llm="m", vector=vector)
    assert plan is not None
    plan.client.execute_command("FT.DROPINDEX", cache.name)  # dropped behind the cache's back
    pipe = plan.client.pipeline(transaction=False)
    pipe.execute_command(*plan.command)
    assert plan.finish(pipe.execute(raise_on_error=False)[0], time.perf_counter()) is None
    assert plan.done and not plan.ok and plan.record() is None
    assert cache.stats.snapshot()["errors"] == 1 and cache._index is None  # re-created at the next use
    cache.guard.succeeded()
    assert cache.check("How do I close a file?", llm="m") is None  # the index is back (its entries are gone)


def test_async_plan_is_on_the_loops_client(make_cache: Callable[..., SemanticCache]) -> None:
    cache = make_cache(HashEmbedder())
    cache.store("How do I close a file?", "with", llm="m")
    vector = cache.embedder.embed(["How do I close a file?"])[0]

    async def main() -> Any:
        plan = await aplan_lookup(cache, "How do I close a file?", llm="m", vector=vector)
        assert plan is not None
        pipe = plan.client.pipeline(transaction=False)
        pipe.execute_command(*plan.command)
        plan.finish((await pipe.execute(raise_on_error=False))[0], time.perf_counter())
        return await plan.arecord()

    hit = asyncio.run(main())
    assert hit is not None and hit.response == "with"


WORDS = st.lists(
    st.sampled_from(["close", "open", "a", "file", "list", "tuple", "sort", "not", "how", "why"]),
    min_size=1,
    max_size=6,
).map(" ".join)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.lists(WORDS, min_size=1, max_size=5), asked=WORDS)
def test_with_the_verifier_and_near_neighbours_the_plan_picks_what_check_picks(
    make_cache: Callable[..., SemanticCache], stored: list[str], asked: str
) -> None:
    embedder = WordsEmbedder()
    # Entries equally close to the question (the same words in another order, or the same prompt twice) come back
    # from two searches in either order: both answers are right, so the property is checked where the order is one.
    vectors = embedder.embed([asked, *stored])
    distances = [round(1.0 - float(np.dot(vectors[0], v)), 4) for v in vectors[1:]]
    assume(len(set(distances)) == len(distances))
    cache = make_cache(embedder, distance_threshold=0.5)
    for i, prompt in enumerate(stored):
        cache.store(prompt, f"answer {i}", llm="m")
    before = cache.stats.snapshot()["rejected"]
    expected = cache.check(asked, llm="m")
    rejected = cache.stats.snapshot()["rejected"] - before
    plan = run_plan(cache, asked, "m", None)
    assert (plan.hit and plan.hit.key) == (expected and expected.key)
    before = cache.stats.snapshot()["rejected"]
    plan.record()
    assert cache.stats.snapshot()["rejected"] - before == rejected
    cache.clear()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=QUESTIONS, asked=QUESTIONS, same=st.booleans(), tenant=st.sampled_from([None, "acme", {"t": 1}]))
def test_a_lookup_sent_alone_finds_what_check_finds_and_counts_it_once(
    make_cache: Callable[..., SemanticCache], stored: str, asked: str, same: bool, tenant: Any
) -> None:
    made = _one_entry(make_cache, stored, tenant)
    if made is None:
        return
    cache, question = made, stored if same else asked
    vector = cache.embedder.embed([question[: cache.max_semantic_chars]])[0]
    try:
        expected = cache.check(question, llm="m", scope=tenant, vector=vector)
    except CacheInputError:  # refused by check(): refused alike
        with pytest.raises(CacheInputError):
            lookup(cache, question, llm="m", scope=tenant, vector=vector)
        return
    before = cache.stats.snapshot()
    found = lookup(cache, question, llm="m", scope=tenant, vector=vector)
    after = cache.stats.snapshot()
    assert (found is None) == (expected is None)
    if expected is not None:
        assert (found.key, found.response, found.prompt) == (expected.key, expected.response, expected.prompt)
    assert after["lookups"] == before["lookups"] + 1 and after["hits"] == before["hits"] + (expected is not None)
    assert asyncio.run(alookup(cache, question, llm="other-model", scope=tenant, vector=vector)) is None
    cache.clear()


def test_a_lookup_sent_alone_on_a_dropped_index_is_a_counted_miss(make_cache: Callable[..., SemanticCache]) -> None:
    cache = make_cache(HashEmbedder())
    cache.store("How do I close a file?", "with", llm="m")
    vector = cache.embedder.embed(["How do I close a file?"])[0]
    assert lookup(cache, "How do I close a file?", llm="m", vector=vector) is not None
    cache._sync_index()[0].execute_command("FT.DROPINDEX", cache.name)
    assert lookup(cache, "How do I close a file?", llm="m", vector=vector) is None
    assert cache.stats.snapshot()["errors"] == 1 and cache._index is None
