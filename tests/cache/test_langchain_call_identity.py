"""LangChain's ``llm_string`` already carries every call argument: these tests prove it for both LLM caches.

LangChain builds ``llm_string`` from the model's parameters plus the call's ``stop`` and every bound keyword
argument (``bind(max_tokens=...)``, ``bind_tools(...)`` -> ``tools`` / ``tool_choice``, ``response_format``), and
both caches use it, hashed whole, as the LLM scope. So nothing is added on our side; if a LangChain release
stopped encoding one of them, these tests would fail.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fakes import HashEmbedder
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from redis_rag_integrations.langchain import RagEmbeddings, RedisCache, RedisSemanticCache

from .call_tools import Answer, Verdict, add, multiply

PROMPT = "What does the walrus operator do?"


class ToolFakeChatModel(GenericFakeChatModel):
    """The fake chat model with ``bind_tools`` done the way provider integrations (ChatOpenAI...) do it."""

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> Runnable:
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)


@pytest.fixture(params=["semantic", "exact"])
def model(request, redis_url: str, unique_name: str) -> Iterator[ToolFakeChatModel]:
    if request.param == "semantic":
        cache: Any = RedisSemanticCache(embeddings=RagEmbeddings(HashEmbedder()), redis_url=redis_url, name=unique_name)
    else:
        cache = RedisCache(redis_url=redis_url, name=f"{unique_name}:exact")
    answers = iter([AIMessage(content=f"answer #{n}") for n in range(1, 20)])
    yield ToolFakeChatModel(messages=answers, cache=cache)
    if request.param == "semantic":
        cache.core.delete_index()
    else:
        cache.clear()


def test_stop_words_are_part_of_the_identity(model) -> None:
    assert model.invoke(PROMPT).content == "answer #1"
    assert model.invoke(PROMPT, stop=["\n"]).content == "answer #2"
    assert model.invoke(PROMPT, stop=["\n"]).content == "answer #2"  # the same call again: a hit
    assert model.invoke(PROMPT).content == "answer #1"


def test_max_tokens_is_part_of_the_identity(model) -> None:
    assert model.bind(max_tokens=10).invoke(PROMPT).content == "answer #1"
    assert model.bind(max_tokens=100).invoke(PROMPT).content == "answer #2"
    assert model.bind(max_tokens=10).invoke(PROMPT).content == "answer #1"


async def test_tools_and_tool_choice_are_part_of_the_identity(model) -> None:
    assert (await model.ainvoke(PROMPT)).content == "answer #1"
    assert (await model.bind_tools([add]).ainvoke(PROMPT)).content == "answer #2"
    assert (await model.bind_tools([multiply]).ainvoke(PROMPT)).content == "answer #3"
    assert (await model.bind_tools([add], tool_choice="add").ainvoke(PROMPT)).content == "answer #4"
    assert (await model.bind_tools([add]).ainvoke(PROMPT)).content == "answer #2"


def test_response_format_and_output_schema_are_part_of_the_identity(model) -> None:
    assert model.invoke(PROMPT).content == "answer #1"
    assert model.bind(response_format={"type": "json_object"}).invoke(PROMPT).content == "answer #2"
    assert model.bind_tools([Answer]).invoke(PROMPT).content == "answer #3"
    assert model.bind_tools([Verdict]).invoke(PROMPT).content == "answer #4"
