"""LlamaIndex's OpenAILike on the real local server: chat, completion, streams, async calls, and a dead endpoint."""

from __future__ import annotations

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai_like import OpenAILike

from redis_rag_integrations import Settings
from redis_rag_integrations.llama_index.models import llm
from redis_rag_integrations.llm import LLMEndpoint, LLMUnavailableError, LocalLLMServer

QUESTION = "What is Python? Answer in one sentence."


@pytest.fixture(scope="module")
def model(local_endpoint: LLMEndpoint) -> OpenAILike:
    return llm(endpoint=local_endpoint, max_tokens=24, temperature=0)


def test_llm_defaults_to_the_local_chat_model(no_remote_llm: Settings, local_llm: LocalLLMServer) -> None:
    model = llm(no_remote_llm)
    assert isinstance(model, OpenAILike)
    assert model.metadata.is_chat_model and model.metadata.model_name == "smollm2"
    assert model.metadata.context_window == local_llm.n_ctx and model.api_base == local_llm.base_url


def test_llm_completes_and_chats_within_max_tokens(model: OpenAILike) -> None:
    completion = model.complete(QUESTION)
    assert completion.text.strip() and completion.raw.usage.completion_tokens <= 24
    reply = model.chat([ChatMessage(role="user", content=QUESTION)])
    assert reply.message.content and reply.message.content.strip()


def test_llm_streams_deltas(model: OpenAILike) -> None:
    deltas = [r.delta for r in model.stream_complete(QUESTION)]
    assert 1 < len(deltas) <= 24 + 2 and "".join(d or "" for d in deltas).strip()
    chat_deltas = [r.delta for r in model.stream_chat([ChatMessage(role="user", content=QUESTION)])]
    assert len(chat_deltas) > 1


async def test_llm_async_calls_and_streams(model: OpenAILike) -> None:
    assert (await model.acomplete(QUESTION)).text.strip()
    stream = await model.astream_chat([ChatMessage(role="user", content=QUESTION)])
    deltas = [r.delta async for r in stream]
    assert len(deltas) > 1


@pytest.mark.usefixtures("requires_local_llm")
async def test_server_gone_after_start_raises_a_clear_error() -> None:
    with LocalLLMServer(n_ctx=512) as server:
        model = llm(endpoint=server.endpoint(timeout=5), max_retries=0, max_tokens=8)
        base_url = server.base_url
    with pytest.raises(LLMUnavailableError, match="OPENAI_BASE_URL") as info:
        model.complete("hi")
    assert base_url in str(info.value)
    with pytest.raises(LLMUnavailableError):
        list(model.stream_chat([ChatMessage(role="user", content="hi")]))
    with pytest.raises(LLMUnavailableError):
        await model.achat([ChatMessage(role="user", content="hi")])
    with pytest.raises(LLMUnavailableError):
        stream = await model.astream_complete("hi")
        [r async for r in stream]
