"""register(): one call wires the cache, the vector store and the history into each framework's globals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.globals import get_llm_cache, set_llm_cache
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from llama_index.core import Document, VectorStoreIndex
from llama_index.core import Settings as LISettings
from llama_index.core.llms import MockLLM
from llama_index.core.memory import ChatMemoryBuffer

from redis_rag_integrations.langchain import RagEmbeddings, RedisSemanticCache
from redis_rag_integrations.langchain import register as register_langchain
from redis_rag_integrations.llama_index import RagEmbedding, SemanticCacheLLM
from redis_rag_integrations.llama_index import register as register_llama_index


@pytest.fixture
def clean_globals() -> Iterator[None]:
    previous_llm, previous_embed = LISettings._llm, LISettings._embed_model
    yield
    set_llm_cache(None)
    LISettings._llm, LISettings._embed_model = previous_llm, previous_embed


# LangChain deprecated RunnableWithMessageHistory (LangGraph persistence replaces it); this test checks that
# register()'s history factory still works under it, so only that notice is filtered.
@pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated:DeprecationWarning")
def test_langchain_register_sets_the_cache_and_builds_store_and_history(
    redis_url: str, unique_name: str, local_embedder, clean_globals: None
) -> None:
    parts = register_langchain(embeddings=RagEmbeddings(local_embedder), index_name=unique_name)
    try:
        assert isinstance(get_llm_cache(), RedisSemanticCache) and get_llm_cache() is parts.cache
        assert parts.redis_url == redis_url
        parts.vector_store.add_texts(
            ["Use a with statement to close files automatically.", "Decorators wrap functions."],
            ids=["files", "decorators"],
        )
        docs = parts.vector_store.as_retriever(search_kwargs={"k": 1}).invoke("How do I make sure a file is closed?")
        assert [d.id for d in docs] == ["files"]

        model = GenericFakeChatModel(messages=iter([AIMessage("first answer"), AIMessage("second answer")]))
        prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{question}")])
        chain = RunnableWithMessageHistory(
            prompt | model,
            parts.get_session_history,
            input_messages_key="question",
            history_messages_key="history",
        )
        config = {"configurable": {"session_id": unique_name}}
        assert chain.invoke({"question": "What is a decorator?"}, config).content == "first answer"
        assert chain.invoke({"question": "And a generator?"}, config).content == "second answer"
        stored = parts.get_session_history(unique_name).messages
        assert [m.content for m in stored] == ["What is a decorator?", "first answer", "And a generator?",
                                               "second answer"]  # fmt: skip
        # the same prompt (same history, same question) again is answered by the semantic cache, not the model
        fresh = (prompt | model).invoke({"question": "What is a decorator?", "history": []})
        assert fresh.content == "first answer"
    finally:
        parts.vector_store.index.drop()
        parts.get_session_history(unique_name).clear()
        if parts.cache is not None:
            parts.cache.core.delete_index()


def test_llama_index_register_sets_settings_and_builds_store_and_chat_store(
    redis_url: str, unique_name: str, local_embedder, clean_globals: None
) -> None:
    parts = register_llama_index(llm=MockLLM(max_tokens=8), embed_model=RagEmbedding(local_embedder),
                                 index_name=unique_name)  # fmt: skip
    try:
        assert isinstance(LISettings.embed_model, RagEmbedding)
        assert isinstance(LISettings.llm, SemanticCacheLLM) and LISettings.llm is parts.llm
        index = VectorStoreIndex.from_documents(
            [Document(text="Use a with statement to close files automatically.", id_="files"),
             Document(text="Decorators wrap functions.", id_="decorators")],
            storage_context=parts.storage_context,
        )  # fmt: skip
        response = index.as_query_engine(similarity_top_k=1).query("How do I make sure a file is closed?")
        assert response.source_nodes[0].node.ref_doc_id == "files"
        memory = ChatMemoryBuffer.from_defaults(chat_store=parts.chat_store, chat_store_key=unique_name)
        engine = index.as_chat_engine(chat_mode="context", memory=memory)
        engine.chat("What is a decorator?")
        assert [m.role.value for m in parts.chat_store.get_messages(unique_name)] == ["user", "assistant"]
        again = register_llama_index(embed_model=RagEmbedding(local_embedder), index_name=unique_name)
        assert again.llm is parts.llm  # an already cached LLM is not wrapped twice
    finally:
        parts.vector_store.clear()
        parts.chat_store.delete_messages(unique_name)
        if parts.llm is not None:
            parts.llm.cache.delete_index()
