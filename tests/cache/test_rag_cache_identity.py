"""Question-level RAG caches answer only the same pipeline asked the same way.

Identity here is plumbing (which entries a call may see), so the deterministic embedder is used: the same question
text is the only thing that could make two calls meet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import HashEmbedder
from langchain_core.runnables import RunnableConfig, RunnableLambda
from llama_index.core.base.response.schema import Response
from llama_index.core.bridge.pydantic import Field
from llama_index.core.prompts import PromptTemplate
from llama_index.core.query_engine import CustomQueryEngine

from redis_rag_integrations.langchain import CachedRAGChain, RagEmbeddings
from redis_rag_integrations.llama_index import CachedQueryEngine, RagEmbedding

QUESTION = "How do I copy a file in Python?"


@pytest.fixture
def cached_chain(redis_url: str, unique_name: str) -> Iterator[Callable[..., CachedRAGChain]]:
    made: list[CachedRAGChain] = []

    def factory(chain: Any, **kwargs: Any) -> CachedRAGChain:
        cached = CachedRAGChain(
            chain, embeddings=RagEmbeddings(HashEmbedder()), redis_url=redis_url, name=unique_name, **kwargs
        )
        made.append(cached)
        return cached

    yield factory
    if made:
        made[0].cache.delete_index()


def test_two_chains_left_at_the_default_id_do_not_share_answers(cached_chain) -> None:
    short = cached_chain(RunnableLambda(lambda q: {"answer": f"short: {q}"}))
    long = cached_chain(RunnableLambda(lambda q: {"answer": f"a long, careful answer to: {q}"}))
    assert short.invoke(QUESTION)["answer"].startswith("short")
    assert long.invoke(QUESTION)["answer"].startswith("a long")


def test_the_same_chain_built_again_shares_answers(cached_chain) -> None:
    calls: list[str] = []

    def build() -> Any:
        return RunnableLambda(lambda q: calls.append(q) or {"answer": f"answer {len(calls)}"})

    assert cached_chain(build()).invoke(QUESTION) == {"answer": "answer 1"}
    assert cached_chain(build()).invoke(QUESTION) == {"answer": "answer 1"} and len(calls) == 1


def test_other_input_fields_are_part_of_the_identity(cached_chain) -> None:
    cached = cached_chain(RunnableLambda(lambda d: {"answer": f"[{d['language']}] {d['question']}"}))
    assert cached.invoke({"question": QUESTION, "language": "fr"})["answer"].startswith("[fr]")
    assert cached.invoke({"question": QUESTION, "language": "en"})["answer"].startswith("[en]")
    assert cached.invoke({"question": QUESTION, "language": "fr"})["answer"].startswith("[fr]")


async def test_configurable_values_and_call_kwargs_are_part_of_the_identity(cached_chain) -> None:
    def styled(question: str, config: RunnableConfig) -> dict[str, str]:
        return {"answer": f"{config['configurable'].get('style', 'plain')}: {question}"}

    cached = cached_chain(RunnableLambda(styled))
    assert (await cached.ainvoke(QUESTION))["answer"].startswith("plain")
    terse = {"configurable": {"style": "terse"}}
    assert (await cached.ainvoke(QUESTION, terse))["answer"].startswith("terse")
    tenant = {"configurable": {"style": "terse", "cache_scope": "acme"}}  # the scope is not part of the identity
    assert (await cached.ainvoke(QUESTION, tenant))["answer"].startswith("terse")


def test_an_input_field_without_exact_form_bypasses_the_cache(cached_chain, caplog) -> None:
    calls: list[str] = []
    cached = cached_chain(RunnableLambda(lambda d: calls.append(d["question"]) or {"answer": "x"}))
    with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.cache"):
        cached.invoke({"question": QUESTION, "retriever": object()})
        cached.invoke({"question": QUESTION, "retriever": object()})
    assert len(calls) == 2 and cached.cache.stats.stores == 0
    assert "bypasses the cache" in caplog.text


class TemplateEngine(CustomQueryEngine):
    """Answers by filling its one prompt template; counts its calls."""

    template: str
    calls: list[str] = Field(default_factory=list)

    def _get_prompts(self) -> dict[str, Any]:
        return {"qa": PromptTemplate(self.template)}

    def custom_query(self, query_str: str) -> Response:
        self.calls.append(query_str)
        return Response(response=self.template.format(q=query_str), source_nodes=[])


def test_two_engines_with_different_prompts_do_not_share_answers(redis_url: str, unique_name: str) -> None:
    def wrap(template: str) -> CachedQueryEngine:
        engine = TemplateEngine(template=template)
        return CachedQueryEngine(
            engine, embed_model=RagEmbedding(HashEmbedder()), redis_url=redis_url, name=unique_name
        )

    short, long = wrap("Short: {q}"), wrap("Long: {q}")
    try:
        assert str(short.query(QUESTION)) == f"Short: {QUESTION}"
        assert str(long.query(QUESTION)) == f"Long: {QUESTION}"
        again = wrap("Short: {q}")
        assert str(again.query(QUESTION)) == f"Short: {QUESTION}" and again.query_engine.calls == []
    finally:
        short.cache.delete_index()
