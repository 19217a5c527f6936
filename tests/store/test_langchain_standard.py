"""LangChain's own standard vector-store test suite (sync and async) against our store on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RedisVectorStore


class TestRedisVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, settings: Settings, unique_name: str) -> Iterator[RedisVectorStore]:  # type: ignore[override]
        store = RedisVectorStore(self.get_embeddings(), unique_name, settings=settings)
        yield store
        store.index.drop()
        store.index.close()
