"""SemanticCacheMiddleware: model calls of a create_agent loop served from Redis only when everything but the
question's wording is the same (earlier messages, tool calls, tool results, tools, model)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fakes import HashEmbedder
from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware

from .conftest import ToolFakeChatModel

TOOL_RESULT = {"value": "sunny"}


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"{TOOL_RESULT['value']} in {city}"


@pytest.fixture
def cache(redis_url: str, unique_name: str) -> Iterator[SemanticCacheMiddleware]:
    middleware = SemanticCacheMiddleware(embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url)
    yield middleware
    middleware.core.delete_index()


def tool_model() -> ToolFakeChatModel:
    call = AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": "call-1"}])
    return ToolFakeChatModel(messages=iter([call, AIMessage(f"It is {TOOL_RESULT['value']} in Lisbon.")]))


def ask(cache: SemanticCacheMiddleware, model: ToolFakeChatModel, thread: list, question: str, tools=(weather,)):
    agent = create_agent(model, tools=list(tools), middleware=[cache])
    return agent.invoke({"messages": [*thread, {"role": "user", "content": question}]})["messages"]


def test_whole_tool_loop_is_served_when_everything_matches(cache: SemanticCacheMiddleware) -> None:
    TOOL_RESULT["value"] = "sunny"
    first = ask(cache, tool_model(), [], "Weather in Lisbon?")
    assert [m.type for m in first] == ["human", "ai", "tool", "ai"]
    idle = ToolFakeChatModel(messages=iter([]))  # fails if called
    second = ask(cache, idle, [], "Weather in Lisbon?")
    assert idle.calls == []
    # one tool call, really executed, then the final answer: a tool-calling response never stood in for the answer
    assert [m.type for m in second] == ["human", "ai", "tool", "ai"]
    assert second[2].content == "sunny in Lisbon" and second[3].content == "It is sunny in Lisbon."
    assert second[1].response_metadata["cache_hit"] and second[3].response_metadata["cache_hit"]
    assert second[1].tool_calls[0]["id"] != first[1].tool_calls[0]["id"]  # fresh ids on replay
    assert second[2].tool_call_id == second[1].tool_calls[0]["id"]


def test_different_tool_result_is_never_answered_from_cache(cache: SemanticCacheMiddleware) -> None:
    TOOL_RESULT["value"] = "sunny"
    ask(cache, tool_model(), [], "Weather in Lisbon?")
    TOOL_RESULT["value"] = "raining"
    model = ToolFakeChatModel(messages=iter([AIMessage("It is raining in Lisbon.")]))
    messages = ask(cache, model, [], "Weather in Lisbon?")
    assert len(model.calls) == 1  # the tool-call step hit; the step after the (new) tool result did not
    assert model.calls[0][-1].content == "raining in Lisbon"
    assert messages[-1].content == "It is raining in Lisbon."
    TOOL_RESULT["value"] = "sunny"


def test_different_earlier_messages_do_not_hit(cache: SemanticCacheMiddleware) -> None:
    ask(cache, ToolFakeChatModel(messages=iter([AIMessage("Paris.")])), [], "And the capital?", tools=())
    earlier = [{"role": "user", "content": "Tell me about Portugal"}, {"role": "assistant", "content": "Sure."}]
    model = ToolFakeChatModel(messages=iter([AIMessage("Lisbon.")]))
    assert ask(cache, model, earlier, "And the capital?", tools=())[-1].content == "Lisbon."
    assert len(model.calls) == 1
    idle = ToolFakeChatModel(messages=iter([]))
    assert ask(cache, idle, earlier, "And the capital?", tools=())[-1].content == "Lisbon."  # same context: hit


def test_answer_without_tools_not_served_when_tools_are_bound(cache: SemanticCacheMiddleware) -> None:
    ask(
        cache,
        ToolFakeChatModel(messages=iter([AIMessage("I cannot check the weather.")])),
        [],
        "Weather in Lisbon?",
        tools=(),
    )
    model = tool_model()
    messages = ask(cache, model, [], "Weather in Lisbon?")
    assert len(model.calls) == 2 and messages[1].tool_calls


def test_cache_tool_calls_false_caches_final_answers_only(redis_url: str, unique_name: str) -> None:
    cache = SemanticCacheMiddleware(
        embeddings=HashEmbedder(), name=unique_name, redis_url=redis_url, cache_tool_calls=False
    )
    try:
        ask(cache, tool_model(), [], "Weather in Lisbon?")
        model = tool_model()
        ask(cache, model, [], "Weather in Lisbon?")
        # the tool-calling step was not cached (the model ran); the final step hit: same call, same tool result
        assert [len(c) for c in model.calls] == [1]
    finally:
        cache.core.delete_index()


def test_async_agent_hits(cache: SemanticCacheMiddleware) -> None:
    async def run(model: ToolFakeChatModel) -> list:
        agent = create_agent(model, tools=[weather], middleware=[cache])
        return (await agent.ainvoke({"messages": [{"role": "user", "content": "Weather in Lisbon?"}]}))["messages"]

    TOOL_RESULT["value"] = "sunny"
    asyncio.run(run(tool_model()))
    idle = ToolFakeChatModel(messages=iter([]))
    assert asyncio.run(run(idle))[-1].content == "It is sunny in Lisbon." and idle.calls == []


def test_a_miss_embeds_the_question_once(redis_url: str, unique_name: str) -> None:
    embedder = HashEmbedder()
    cache = SemanticCacheMiddleware(embeddings=embedder, name=unique_name, redis_url=redis_url)
    try:
        ask(cache, ToolFakeChatModel(messages=iter([AIMessage("hi")])), [], "hello?", tools=())
        assert cache.core.flush(10)  # the store is written behind; its outcome is counted once written
        assert embedder.calls == 1 and cache.stats.stores == 1  # one embedding for the lookup and the store
    finally:
        cache.core.delete_index()


def test_redis_down_still_answers() -> None:
    from redis_rag_integrations.cache import SemanticCache

    core = SemanticCache(HashEmbedder(), redis_url="redis://127.0.0.1:1/0", name="down")
    cache = SemanticCacheMiddleware(core)
    model = ToolFakeChatModel(messages=iter([AIMessage("still here")]))
    assert ask(cache, model, [], "hello?", tools=())[-1].content == "still here"


def test_a_tool_schema_is_converted_once_and_a_changed_tool_changes_the_key(
    cache: SemanticCacheMiddleware, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Converting and canonicalising a tool's schema cost about 0.1 ms per tool per model call (profiled), for a
    value that does not change between calls: it is remembered per tool object. A tool whose name or description
    changed is converted again, so a cached answer never outlives the tool it was made with."""
    from redis_rag_integrations.langchain import agent_cache, agent_call_key

    converted: list[str] = []
    real = agent_call_key.convert_to_openai_tool

    def counting(t: object) -> dict:
        converted.append(getattr(t, "name", "?"))
        return real(t)

    monkeypatch.setattr(agent_call_key, "convert_to_openai_tool", counting)

    @tool
    def forecast(city: str) -> str:
        """Tomorrow's forecast for a city."""
        return f"rain in {city}"

    def key() -> agent_cache.CallKey | None:
        from langchain.agents.middleware import ModelRequest
        from langchain_core.messages import HumanMessage

        request = ModelRequest(
            model=ToolFakeChatModel(messages=iter([])), messages=[HumanMessage("Rain tomorrow in Porto?")],
            system_message=None, tools=[forecast], tool_choice=None, response_format=None, model_settings={},
            state={"messages": []}, runtime=None,
        )  # fmt: skip
        return agent_cache.call_key(request)

    first, second = key(), key()
    assert first is not None and first == second
    assert converted == ["forecast"]  # once for two model calls
    forecast.description = "Tomorrow's forecast for a city, in millimetres of rain."
    third = key()
    assert third is not None and third.identity != first.identity and converted == ["forecast", "forecast"]
