"""A wrapped LLM formats prompts as the model it wraps (system prompt, query wrapper, messages_to_prompt): the
cache wrapper changes nothing but caching (review finding: the wrapped model's system prompt was dropped)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fakes import HashEmbedder
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.llms import MockLLM
from llama_index.core.prompts import ChatPromptTemplate, PromptTemplate

from redis_rag_integrations.llama_index import SemanticCacheLLM


def _tagged(messages: Sequence[ChatMessage]) -> str:
    return "CUSTOM|" + "|".join(f"{m.role.value}={m.content}" for m in messages)


def test_the_wrapper_formats_with_the_wrapped_models_settings(redis_url: str, unique_name: str) -> None:
    inner = MockLLM(system_prompt="Be brief.", messages_to_prompt=_tagged)
    inner.query_wrapper_prompt = PromptTemplate("[INST] {query_str} [/INST]")  # MockLLM's __init__ lacks it
    llm = SemanticCacheLLM(inner, embed_model=HashEmbedder(), redis_url=redis_url, name=unique_name)
    try:
        plain = PromptTemplate("Question: {q}")
        chat = ChatPromptTemplate([ChatMessage(role="user", content="Question: {q}")])
        for prompt in (plain, chat):
            assert llm.predict(prompt, q="hi") == inner.predict(prompt, q="hi")
        assert llm.predict(chat, q="x").startswith("[INST] Be brief.\n\nCUSTOM|user=Question: x")
        assert llm.system_prompt == inner.system_prompt
        inner.system_prompt = "Be long."  # read at each call, not copied once
        assert llm.predict(plain, q="hi") == inner.predict(plain, q="hi")
        assert "Be long." in llm.predict(plain, q="hi")
    finally:
        llm.cache.delete_index()


def test_prompt_settings_given_to_the_wrapper_are_refused(redis_url: str, unique_name: str) -> None:
    with pytest.raises(TypeError, match="system_prompt on the wrapped LLM"):
        SemanticCacheLLM(
            MockLLM(), embed_model=HashEmbedder(), redis_url=redis_url, name=unique_name, system_prompt="x"
        )
