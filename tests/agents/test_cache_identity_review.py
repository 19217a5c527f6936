"""The agent cache and the RAG cache never serve an answer whose model input differed: the image of a question, the
role of earlier messages, the store and template behind the context, a context that was empty; the RAG
middleware refuses templates and k it cannot honour. Found by an independent review (each test failed on the code
reviewed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage

from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.agent_call_key import call_key
from redis_rag_integrations.langchain.middleware import RedisRAGMiddleware

from .conftest import DIMS, ToolFakeChatModel

# --- semantic cache middleware ------------------------------------------------------------------------------------


@pytest.fixture
def agent_cache(redis_url: str, unique_name: str) -> Iterator[SemanticCacheMiddleware]:
    middleware = SemanticCacheMiddleware(
        embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url, write_behind=False
    )
    yield middleware
    middleware.core.delete_index()


def _ask(content: Any, middleware: list[Any], answer: str, system: str | None = None) -> AIMessage:
    model = ToolFakeChatModel(messages=iter([AIMessage(answer)]))
    agent = create_agent(model, system_prompt=system, middleware=middleware)
    return agent.invoke({"messages": [HumanMessage(content=content)]})["messages"][-1]


def _picture(url: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": "What is in this picture?"}, {"type": "image_url", "image_url": {"url": url}}]


def test_a_question_about_another_image_does_not_hit(agent_cache: SemanticCacheMiddleware) -> None:
    first = _ask(_picture("data:image/png;base64,CAT"), [agent_cache], "A cat.")
    assert first.content == "A cat." and not first.response_metadata.get("cache_hit")
    other = _ask(_picture("data:image/png;base64,DOG"), [agent_cache], "A dog.")
    assert other.content == "A dog."
    text_only = _ask("What is in this picture?", [agent_cache], "I see no picture.")
    assert text_only.content == "I see no picture."


def test_earlier_chat_messages_with_other_roles_give_other_keys() -> None:
    model = ToolFakeChatModel(messages=iter([]))

    def key(role: str) -> Any:
        messages = [ChatMessage(role=role, content="hi"), HumanMessage("question?")]
        return call_key(ModelRequest(model=model, messages=messages, tools=[]))

    assert key("user") != key("assistant")


@pytest.fixture
def vector_store(redis_url: str, unique_name: str) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(RagEmbeddings(HashEmbedder(DIMS)), f"{unique_name}vs", redis_url=redis_url)
    yield vs
    vs.index.drop()


def test_an_answer_without_context_is_not_served_once_context_exists(
    agent_cache: SemanticCacheMiddleware, vector_store: RedisVectorStore
) -> None:
    rag = RedisRAGMiddleware(vector_store, k=2)
    question = "What is the refund policy?"
    assert _ask(question, [rag, agent_cache], "I don't know.", system="Support bot.").content == "I don't know."
    vector_store.add_texts(["Refunds: 30 days, in full."], metadatas=[{"source": "refund.md"}], ids=["refund"])
    assert _ask(question, [rag, agent_cache], "30 days [1].", system="Support bot.").content == "30 days [1]."


@pytest.mark.parametrize("change", ["other-store", "other-template"])
def test_rag_answers_are_not_shared_across_rag_configurations(
    agent_cache: SemanticCacheMiddleware, vector_store: RedisVectorStore, redis_url: str, unique_name: str, change: str
) -> None:
    vector_store.add_texts(["Refunds: 30 days, in full."], metadatas=[{"source": "refund.md"}], ids=["refund"])
    first = _ask("Refunds?", [RedisRAGMiddleware(vector_store, k=1), agent_cache], "30 days [1].", system="S")
    assert first.content == "30 days [1]."
    other = RedisVectorStore(RagEmbeddings(HashEmbedder(DIMS)), f"{unique_name}vs2", redis_url=redis_url)
    try:
        if change == "other-store":
            other.add_texts(["Rockets burn fuel."], metadatas=[{"source": "rockets.md"}], ids=["r"])
            rag = RedisRAGMiddleware(other, k=1)
        else:
            rag = RedisRAGMiddleware(vector_store, k=1, template="Answer in French.\n{context}")
        assert _ask("Refunds?", [rag, agent_cache], "fresh", system="S").content == "fresh"
    finally:
        other.index.drop()


# --- RAG middleware -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ['Reply as JSON like {"answer": "..."}\n{context}', "{question}\n{context}", "Context: {{context}}"],
    ids=["json-example", "other-placeholder", "escaped-context"],
)
def test_a_template_that_cannot_hold_the_context_is_refused_at_construction(
    vector_store: RedisVectorStore, template: str
) -> None:
    with pytest.raises(ValueError, match="template"):
        RedisRAGMiddleware(vector_store, template=template)


@pytest.mark.parametrize("k", [0, -1])
def test_a_k_below_one_is_refused(vector_store: RedisVectorStore, k: int) -> None:
    with pytest.raises(ValueError, match="k"):
        RedisRAGMiddleware(vector_store, k=k)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.text(alphabet=st.sampled_from("ab {}context:\n.[]0!"), max_size=24), context=st.text(max_size=12))
def test_a_template_is_refused_or_always_carries_the_context(
    vector_store: RedisVectorStore, template: str, context: str
) -> None:
    # exact or a clear refusal: an accepted template formats any context without error and shows it verbatim
    try:
        RedisRAGMiddleware(vector_store, template=template)
    except ValueError:
        return
    assert context in template.format(context=context)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.one_of(st.integers(-5, 50), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)))
def test_k_is_a_positive_int_or_refused(vector_store: RedisVectorStore, k: Any) -> None:
    ok = isinstance(k, int) and not isinstance(k, bool) and k >= 1
    if ok:
        assert RedisRAGMiddleware(vector_store, k=k).retriever.search_kwargs["k"] == k
    else:
        with pytest.raises(ValueError, match="k"):
            RedisRAGMiddleware(vector_store, k=k)


_BLOCKS = st.sampled_from(
    [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,BBB"}},
        {"type": "image", "source_type": "url", "url": "https://example.com/a.png"},
        {"type": "file", "source_type": "base64", "data": "Zm9v", "mime_type": "application/pdf"},
    ]
)


@settings(max_examples=200, deadline=None)
@given(first=st.lists(_BLOCKS, max_size=3), second=st.lists(_BLOCKS, max_size=3))
def test_questions_with_the_same_text_share_a_key_only_with_the_same_media(first: list, second: list) -> None:
    model = ToolFakeChatModel(messages=iter([]))

    def key(media: list[Any]) -> Any:
        content = [{"type": "text", "text": "What is this?"}, *media]
        return call_key(ModelRequest(model=model, messages=[HumanMessage(content=content)], tools=[]))

    assert (key(first).identity == key(second).identity) == (first == second)


# --- CachedRAGChain -----------------------------------------------------------------------------------------------


def test_rag_chains_over_different_stores_do_not_share_answers(
    vector_store: RedisVectorStore, redis_url: str, unique_name: str
) -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    from redis_rag_integrations.langchain.rag_cache import CachedRAGChain

    other = RedisVectorStore(RagEmbeddings(HashEmbedder(DIMS)), f"{unique_name}vs2", redis_url=redis_url)
    vector_store.add_texts(["Refunds within 30 days."], metadatas=[{"source": "refund.md"}], ids=["refund"])
    other.add_texts(["Rockets burn fuel."], metadatas=[{"source": "rockets.md"}], ids=["rockets"])
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")

    def cached(store: RedisVectorStore, answer: str) -> CachedRAGChain:
        model = GenericFakeChatModel(messages=iter([AIMessage(answer)]))
        chain = {"context": store.as_retriever(), "question": RunnablePassthrough()} | prompt | model
        return CachedRAGChain(
            chain | StrOutputParser(), embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url
        )

    first = cached(vector_store, "30 days [refund.md]")
    try:
        assert first.invoke("What is the refund policy?") == "30 days [refund.md]"
        assert cached(other, "Nothing about refunds.").invoke("What is the refund policy?") == "Nothing about refunds."
    finally:
        first.cache.delete_index()
        other.index.drop()


def test_a_rag_chain_answer_without_context_is_not_served_once_context_exists(
    vector_store: RedisVectorStore, redis_url: str, unique_name: str
) -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableParallel, RunnablePassthrough

    from redis_rag_integrations.langchain.rag_cache import CachedRAGChain

    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    model = GenericFakeChatModel(messages=iter([AIMessage("I don't know."), AIMessage("30 days.")]))
    chain = RunnableParallel(context=vector_store.as_retriever(), question=RunnablePassthrough()).assign(
        answer=prompt | model | StrOutputParser()
    )
    cached = CachedRAGChain(chain, embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url)
    try:
        assert cached.invoke("What is the refund policy?")["answer"] == "I don't know."
        vector_store.add_texts(["Refunds within 30 days."], metadatas=[{"source": "refund.md"}], ids=["refund"])
        second = cached.invoke("What is the refund policy?")
        assert (second["answer"], len(second["context"])) == ("30 days.", 1)
    finally:
        cached.cache.delete_index()
