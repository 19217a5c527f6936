"""LlamaIndex agents on our Redis: FunctionAgent with Memory on RedisAsyncChatStore, our query engine as a tool,
and SemanticCacheLLM as the agent's LLM (a function-calling LLM when the wrapped one is)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes import HashEmbedder
from llama_index.core import Settings as LISettings
from llama_index.core import VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import MockLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.memory import Memory
from llama_index.core.schema import TextNode
from llama_index.core.tools import QueryEngineTool

from redis_rag_integrations.llama_index import RagEmbedding, RedisAsyncChatStore, SemanticCacheLLM, register
from redis_rag_integrations.llama_index.models import llm
from redis_rag_integrations.llm import LLMEndpoint

from .llama_fakes import ScriptedFunctionCallingLLM

# llama-index's workflow engine lists an agent's members with inspect.getmembers, which touches pydantic v1-style
# attributes of the agent model (third-party, not our code): only those notices are filtered here.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]


@pytest.fixture
def clean_settings() -> Iterator[None]:
    previous = LISettings._llm, LISettings._embed_model
    yield
    LISettings._llm, LISettings._embed_model = previous


async def test_function_agent_runs_on_the_registered_cache_llm(
    redis_url: str, unique_name: str, clean_settings
) -> None:
    """register(llm=<function-calling LLM>) then FunctionAgent(llm=Settings.llm): raised AttributeError
    ('SemanticCacheLLM' object has no attribute 'astream_chat_with_tools') before the cache LLM could call tools."""

    parts = register(llm=MockFunctionCallingLLM(), index_name=unique_name)
    try:
        agent = FunctionAgent(tools=[], llm=LISettings.llm)
        assert "hello" in str(await agent.run("hello"))
        assert isinstance(LISettings.llm, SemanticCacheLLM) and isinstance(LISettings.llm, FunctionCallingLLM)
        assert not isinstance(SemanticCacheLLM(MockLLM(), embed_model=parts.llm.cache.embedder), FunctionCallingLLM)
    finally:
        parts.llm.cache.delete_index()
        parts.vector_store.index.drop()


async def test_function_agent_with_memory_query_engine_tool_and_cache(
    redis_url: str, unique_name: str, clean_settings
) -> None:
    """A tool loop is never answered from the cache (tool-calling steps are not stored); a direct answer is."""
    embed = RagEmbedding(HashEmbedder())
    script = [
        ("docs", {"input": "closing files"}),
        "Use with.",
        ("docs", {"input": "closing files"}),
        "Use with, again.",
        "hi!",
    ]
    llm = ScriptedFunctionCallingLLM(script=script)
    parts = register(llm=llm, embed_model=embed, index_name=unique_name)
    try:
        index = VectorStoreIndex.from_vector_store(parts.vector_store, embed_model=embed)
        index.insert_nodes([TextNode(id_="files", text="Use a with statement to close files.")])
        engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
        tool = QueryEngineTool.from_defaults(engine, name="docs", description="Search the Python FAQ.")
        agent = FunctionAgent(tools=[tool], llm=LISettings.llm)
        chat_store = RedisAsyncChatStore(redis_url=redis_url, prefix=unique_name)

        def memory(session: str) -> Memory:
            return Memory.from_defaults(session_id=session, chat_store=chat_store)

        first = await agent.run("How do I close files?", memory=memory("s1"))
        assert str(first) == "Use with." and len(llm.calls) == 2
        stored = await chat_store.get_messages("s1")
        assert [m.role.value for m in stored] == ["user", "assistant", "tool", "assistant"]
        assert "Use a with statement" in stored[2].content  # the query engine's answer, through the tool

        second = await agent.run("How do I close files?", memory=memory("s2"))
        assert str(second) == "Use with, again." and len(llm.calls) == 4  # the tool loop ran again, for real

        assert str(await agent.run("Say hi", memory=memory("s3"))) == "hi!" and len(llm.calls) == 5
        assert str(await agent.run("Say hi", memory=memory("s4"))) == "hi!" and len(llm.calls) == 5  # cache hit
    finally:
        parts.llm.cache.delete_index()
        parts.vector_store.index.drop()


@pytest.mark.parametrize(
    ("kind", "option", "expected"),
    [("openai", None, True), ("local", None, False), ("compatible", None, False), ("compatible", True, True),
     ("openai", False, False)],
)  # fmt: skip
def test_models_llm_is_function_calling_for_openai_or_when_told(kind: str, option: bool | None, expected: bool) -> None:
    """llama_index.models.llm() said is_function_calling_model=False even for OpenAI, so FunctionAgent refused it."""
    endpoint = LLMEndpoint(base_url="http://127.0.0.1:1/v1", api_key="k", model="gpt-4o-mini", kind=kind)  # type: ignore[arg-type]
    model = llm(endpoint=endpoint, function_calling=option)
    assert model.metadata.is_function_calling_model is expected
    assert isinstance(SemanticCacheLLM(model, embed_model=RagEmbedding(HashEmbedder())), FunctionCallingLLM)
