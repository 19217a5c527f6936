"""LangChain caches: the standard cache suites, plus what matters in an app (paraphrase hits, model scope, faults)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import Generation
from langchain_tests.integration_tests import AsyncCacheTestSuite, SyncCacheTestSuite

from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.langchain import RagEmbeddings, RedisCache, RedisSemanticCache
from redis_rag_integrations.server import free_port


@pytest.fixture
def semantic(redis_url: str, unique_name: str, local_embedder) -> Iterator[RedisSemanticCache]:
    cache = RedisSemanticCache(
        embeddings=RagEmbeddings(local_embedder), redis_url=redis_url, name=unique_name, distance_threshold=0.2
    )
    yield cache
    cache.core.delete_index()


class TestSemanticCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, semantic: RedisSemanticCache) -> RedisSemanticCache:
        return semantic


class TestSemanticCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, semantic: RedisSemanticCache) -> RedisSemanticCache:
        return semantic


@pytest.fixture
def exact(redis_url: str, unique_name: str) -> Iterator[RedisCache]:
    cache = RedisCache(redis_url=redis_url, name=f"{unique_name}:exact")
    yield cache
    cache.clear()


class TestExactCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, exact: RedisCache) -> RedisCache:
        return exact


class TestExactCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, exact: RedisCache) -> RedisCache:
        return exact


def test_paraphrased_prompt_is_answered_from_the_cache(semantic: RedisSemanticCache) -> None:
    llm = FakeListLLM(responses=["Use the reversed() builtin.", "SECOND CALL"], cache=semantic)
    assert llm.invoke("How do I reverse a list in Python?") == "Use the reversed() builtin."
    assert llm.invoke("How can I reverse a Python list?") == "Use the reversed() builtin."
    assert llm.invoke("How do I sort a dictionary by its values?") == "SECOND CALL"
    assert semantic.stats.hits == 1


def test_global_cache_serves_chat_models_and_keeps_messages(semantic: RedisSemanticCache) -> None:
    set_llm_cache(semantic)
    try:
        model = GenericFakeChatModel(messages=iter([AIMessage(content="A tuple is immutable.")]))
        first = model.invoke("What is the difference between a list and a tuple?")
        again = model.invoke("What's the difference between lists and tuples?")  # the fake has no 2nd answer
        assert again.content == first.content == "A tuple is immutable."
    finally:
        set_llm_cache(None)


def test_chat_prompts_are_matched_on_the_last_turn_within_the_same_context(
    redis_url: str, unique_name: str, local_embedder
) -> None:
    """LangChain hands the cache ``dumps(messages)``: embedded whole, its boilerplate made questions look alike."""
    cache = RedisSemanticCache(embeddings=RagEmbeddings(local_embedder), redis_url=redis_url, name=unique_name)
    set_llm_cache(cache)
    answers = ["Floor division rounds down.", "The sign of the divisor.", "In Java it truncates."]
    model = GenericFakeChatModel(messages=iter([AIMessage(content=a) for a in answers]))
    system = SystemMessage("You answer questions about Python in one sentence.")
    try:
        model.invoke([system, HumanMessage("Why does -22 // 10 return -3?")])
        # 0.024 apart as serialized JSON, 0.076 with the system prompt as text: both wrong hits at 0.10
        assert model.invoke([system, HumanMessage("Why does -22 % 10 return 8?")]).content == answers[1]
        assert model.invoke([system, HumanMessage("why does -22//10 return -3?")]).content == answers[0]  # a hit
        # the same question in another context (no system prompt) is another question
        assert model.invoke([HumanMessage("why does -22//10 return -3?")]).content == answers[2]
        assert (cache.stats.hits, cache.stats.stores) == (1, 3)
        with pytest.raises(StopIteration):  # an image is not matched by meaning: the model is called
            model.invoke([HumanMessage(content=[{"type": "image_url", "image_url": {"url": "https://x/y.png"}}])])
    finally:
        set_llm_cache(None)
        cache.core.delete_index()


def test_another_model_or_other_parameters_never_get_the_answer(semantic: RedisSemanticCache) -> None:
    semantic.update("What is a decorator?", "model=a temperature=0", [Generation(text="a's answer")])
    assert semantic.lookup("What is a decorator?", "model=a temperature=0") is not None
    assert semantic.lookup("What is a decorator?", "model=a temperature=1") is None
    assert semantic.lookup("What is a decorator?", "model=b temperature=0") is None


def test_unserializable_generations_are_not_cached(semantic: RedisSemanticCache) -> None:
    bad = Generation(text="x", generation_info={"handle": object()})
    semantic.update("What is a file handle?", "llm", [bad])
    assert semantic.lookup("What is a file handle?", "llm") is None
    assert semantic.stats.stores == 0 and semantic.stats.skipped == 1


def test_empty_prompt_passes_through(semantic: RedisSemanticCache) -> None:
    llm = FakeListLLM(responses=["one", "two"], cache=semantic)
    assert llm.invoke("") == "one"
    assert llm.invoke("") == "two"  # not cached, not an error


def test_unreachable_redis_still_answers_with_a_warning(caplog, local_embedder) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for cache in (RedisSemanticCache(embeddings=RagEmbeddings(local_embedder), redis_url=dead), RedisCache(dead)):
        llm = FakeListLLM(responses=["answer"], cache=cache)
        with caplog.at_level(logging.WARNING):
            assert llm.invoke("What is Python?") == "answer"
    assert "Redis unavailable" in caplog.text


async def test_unreachable_redis_still_answers_async(local_embedder) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    llm = FakeListLLM(responses=["answer"], cache=RedisSemanticCache(RagEmbeddings(local_embedder), redis_url=dead))
    assert await llm.ainvoke("What is Python?") == "answer"


def test_bad_embeddings_argument_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="Embeddings"):
        RedisSemanticCache(embeddings="all-MiniLM-L6-v2")  # type: ignore[arg-type]


def test_a_given_empty_core_is_used_not_replaced(redis_url: str, unique_name: str, local_embedder) -> None:
    core = SemanticCache(local_embedder, name=unique_name, redis_url=redis_url)
    try:
        assert len(core) == 0
        cache = RedisSemanticCache(core=core)
        cache.update("What is a decorator?", "model=a", [Generation(text="a wrapper")])
        assert cache.core is core and len(core) == 1
    finally:
        core.delete_index()
