"""One storage format: LangChain writes, LlamaIndex reads, and the other way round."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock, ToolCallBlock

from redis_rag_integrations.history import ChatHistoryStore
from redis_rag_integrations.langchain import RedisChatMessageHistory
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore


def test_langchain_session_reads_back_in_llama_index(store: ChatHistoryStore) -> None:
    RedisChatMessageHistory("x", store=store).add_messages(
        [
            SystemMessage(content="Be brief."),
            HumanMessage(
                content=[
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ]
            ),
            AIMessage(content="", tool_calls=[{"id": "c1", "name": "look", "args": {"q": "a"}, "type": "tool_call"}]),
            ToolMessage(content="a cat", tool_call_id="c1"),
            AIMessage(content="A cat."),
        ]
    )
    got = RedisChatStore(store=store).get_messages("x")
    assert [m.role for m in got] == ["system", "user", "assistant", "tool", "assistant"]
    assert got[0].content == "Be brief." and got[4].content == "A cat."
    assert [type(b) for b in got[1].blocks] == [TextBlock, ImageBlock]
    assert str(got[1].blocks[1].url) == "https://example.com/a.png"  # type: ignore[union-attr]
    (call,) = got[2].blocks
    assert isinstance(call, ToolCallBlock) and (call.tool_call_id, call.tool_name, call.tool_kwargs) == (
        "c1",
        "look",
        {"q": "a"},
    )
    assert got[3].additional_kwargs["tool_call_id"] == "c1" and got[3].content == "a cat"


async def test_llama_index_session_reads_back_in_langchain(store: ChatHistoryStore) -> None:
    await RedisAsyncChatStore(store=store).add_messages(
        "y",
        [
            ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
            ChatMessage(role=MessageRole.USER, content="Add 1 and 2"),
            ChatMessage(
                role=MessageRole.ASSISTANT,
                additional_kwargs={
                    "tool_calls": [
                        {"id": "c9", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
                    ]
                },
            ),
            ChatMessage(role=MessageRole.TOOL, content="3", additional_kwargs={"tool_call_id": "c9"}),
            ChatMessage(
                role=MessageRole.ASSISTANT,
                blocks=[TextBlock(text="3"), ToolCallBlock(tool_call_id="c10", tool_name="log", tool_kwargs={})],
            ),
            ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="and"), ImageBlock(url="https://e.x/b.png")]),
        ],
    )
    got = RedisChatMessageHistory("y", store=store).messages
    assert [m.type for m in got] == ["system", "human", "ai", "tool", "ai", "human"]
    assert got[1].content == "Add 1 and 2"
    assert isinstance(got[2], AIMessage) and got[2].tool_calls == [
        {"id": "c9", "name": "add", "args": {"a": 1}, "type": "tool_call"}
    ]
    assert isinstance(got[3], ToolMessage) and got[3].tool_call_id == "c9" and got[3].content == "3"
    assert isinstance(got[4], AIMessage) and [c["name"] for c in got[4].tool_calls] == ["log"]
    image = [b for b in got[5].content if isinstance(b, dict) and b.get("type") == "image"]
    assert image and image[0]["url"] == "https://e.x/b.png"


async def test_both_frameworks_append_to_one_session_in_order(store: ChatHistoryStore) -> None:
    lc = RedisChatMessageHistory("z", store=store)
    li = RedisChatStore(store=store)
    lc.add_messages([HumanMessage(content="1")])
    li.add_message("z", ChatMessage(role="assistant", content="2"))
    await lc.aadd_messages([HumanMessage(content="3")])
    await RedisAsyncChatStore(store=store).add_message("z", ChatMessage(role="assistant", content="4"))
    assert [m.content for m in lc.messages] == ["1", "2", "3", "4"]
    assert [m.content for m in li.get_messages("z")] == ["1", "2", "3", "4"]
    assert [m.type for m in lc.messages] == ["human", "ai", "human", "ai"]
