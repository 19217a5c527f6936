"""LangChain's ChatOpenAI on the real local server: a completion, a stream, async calls, and a dead endpoint."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_openai import ChatOpenAI

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain.models import chat_model
from redis_rag_integrations.llm import LLMEndpoint, LLMUnavailableError, LocalLLMServer

QUESTION = "What is Python? Answer in one sentence."


@pytest.fixture(scope="module")
def model(local_endpoint: LLMEndpoint) -> ChatOpenAI:
    return chat_model(endpoint=local_endpoint, max_tokens=24, temperature=0)


def test_chat_model_defaults_to_the_local_model(no_remote_llm: Settings, local_llm: LocalLLMServer) -> None:
    model = chat_model(no_remote_llm)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "smollm2" and model.openai_api_base == local_llm.base_url


def test_chat_model_answers_within_max_tokens(model: ChatOpenAI) -> None:
    answer = model.invoke(QUESTION)
    assert isinstance(answer, AIMessage) and answer.content.strip()
    assert answer.response_metadata["token_usage"]["completion_tokens"] <= 24


def test_chat_model_streams_token_chunks(model: ChatOpenAI) -> None:
    chunks = list(model.stream(QUESTION))
    assert 1 < len(chunks) <= 24 + 2  # one chunk per token, plus the role and the finish chunks
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks).strip()


async def test_chat_model_answers_and_streams_async(model: ChatOpenAI) -> None:
    answer = await model.ainvoke(QUESTION)
    assert answer.content.strip()
    chunks = [chunk async for chunk in model.astream(QUESTION)]
    assert len(chunks) > 1


@pytest.mark.usefixtures("requires_local_llm")
async def test_server_gone_after_start_raises_a_clear_error_sync_stream_and_async() -> None:
    with LocalLLMServer(n_ctx=512) as server:
        model = chat_model(endpoint=server.endpoint(timeout=5), max_retries=0, max_tokens=8)
        base_url = server.base_url
    with pytest.raises(LLMUnavailableError, match="OPENAI_BASE_URL") as info:
        model.invoke("hi")
    assert base_url in str(info.value)
    with pytest.raises(LLMUnavailableError):
        list(model.stream("hi"))
    with pytest.raises(LLMUnavailableError):
        await model.ainvoke("hi")
    with pytest.raises(LLMUnavailableError):
        [chunk async for chunk in model.astream("hi")]
