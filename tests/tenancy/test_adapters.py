"""``tenant=`` is the same in both frameworks: a tenant's LangChain store and LlamaIndex store share one index, its
caches and chat history are its own, and no adapter of another tenant sees any of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fakes import HashEmbedder
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.outputs import Generation
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.vector_stores.types import VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RagEmbeddings, RedisCache, RedisChatMessageHistory, RedisSemanticCache
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisChatStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.tenancy import Tenant
from redis_rag_integrations.tenant_admin import drop_tenant, list_tenants


@pytest.fixture
def tenants(redis_url: str) -> Iterator[tuple[str, str]]:
    token = uuid.uuid4().hex[:6]
    names = (f"{token}-acme", f"{token} globex")  # the second one is stored encoded (a space)
    yield names
    for name in names:
        drop_tenant(name, redis_url)


def test_vector_stores_of_both_frameworks_share_a_tenants_index_only(
    settings: Settings, tenants: tuple[str, str]
) -> None:
    acme, globex = tenants
    embeddings = RagEmbeddings(HashEmbedder(16))
    docs = [Document(id=f"d{i}", page_content=f"text {i}", metadata={"source": "faq"}) for i in range(5)]
    lc_acme = LCStore.from_documents(docs, embeddings, index_name="kb", settings=settings, tenant=acme)
    lc_globex = LCStore(embeddings, "kb", settings=settings, tenant=globex)
    lc_globex.add_texts(["globex only"], ids=["g1"])
    assert lc_acme.index.name != lc_globex.index.name
    assert len(lc_acme.similarity_search("text", k=50)) == 5
    assert [d.page_content for d in lc_globex.similarity_search("text", k=50)] == ["globex only"]
    assert lc_globex.get_by_ids(["d0", "d1"]) == []

    li_acme = LIStore("kb", settings=settings, tenant=acme)  # opens the same tenant's index
    assert li_acme.index is not None and li_acme.index.name == lc_acme.index.name
    query = VectorStoreQuery(query_embedding=list(embeddings.embed_query("text 1")), similarity_top_k=50)
    assert {n.node_id for n in li_acme.query(query).nodes} == {f"d{i}" for i in range(5)}
    li_globex = LIStore("kb", settings=settings, tenant=globex)
    assert {n.node_id for n in li_globex.query(query).nodes} == {"g1"}
    assert set(tenants) <= set(list_tenants(lc_acme.index.client))


def test_llm_caches_and_chat_history_of_both_frameworks_are_per_tenant(
    redis_url: str, tenants: tuple[str, str]
) -> None:
    acme, globex = tenants
    embeddings = RagEmbeddings(HashEmbedder(16))
    semantic = [RedisSemanticCache(embeddings, redis_url=redis_url, tenant=t) for t in tenants]
    exact = [RedisCache(redis_url=redis_url, tenant=t) for t in tenants]
    try:
        semantic[0].update("What is Redis?", "llm", [Generation(text="acme's answer")])
        exact[0].update("What is Redis?", "llm", [Generation(text="acme's exact")])
        assert semantic[0].lookup("What is Redis?", "llm")[0].text == "acme's answer"
        assert exact[0].lookup("What is Redis?", "llm")[0].text == "acme's exact"
        assert semantic[1].lookup("What is Redis?", "llm") is None
        assert exact[1].lookup("What is Redis?", "llm") is None
    finally:
        for cache in semantic:
            cache.core.delete_index()

    RedisChatMessageHistory("s1", redis_url, tenant=acme).add_messages([HumanMessage("acme says hi")])
    assert RedisChatMessageHistory("s1", redis_url, tenant=globex).messages == []
    # LlamaIndex reads the same tenant's session (the layout is shared), and only that tenant's.
    assert [m.content for m in RedisChatStore(redis_url, tenant=acme).get_messages("s1")] == ["acme says hi"]
    RedisChatStore(redis_url, tenant=globex).add_message("s2", ChatMessage(role="user", content="globex"))
    assert RedisChatStore(redis_url, tenant=acme).get_keys() == ["s1"]
    assert RedisChatStore(redis_url, tenant=globex).get_keys() == ["s2"]


def test_agent_memory_is_per_tenant(redis_url: str, tenants: tuple[str, str]) -> None:
    from redis_rag_integrations.langchain.agents import memory_store

    acme, globex = (memory_store(redis_url, embeddings=HashEmbedder(16), tenant=t) for t in tenants)
    acme.put(("users", "u1"), "prefs", {"food": "pizza"})
    assert acme.get(("users", "u1"), "prefs").value == {"food": "pizza"}
    assert globex.get(("users", "u1"), "prefs") is None
    assert globex.search(("users",)) == []
    assert acme.name.startswith(Tenant(tenants[0]).root)
