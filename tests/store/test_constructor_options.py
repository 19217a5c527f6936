"""The issue's constructor spellings: metadata_schema lists, a ready redis client, index options as keywords."""

from __future__ import annotations

import pytest
import redis

from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore

SCHEMA = [{"name": "category", "type": "tag"}, {"name": "year", "type": "numeric"}]


def test_metadata_schema_client_and_index_options_reach_the_index(
    redis_url: str, unique_name: str, local_embedder
) -> None:
    client = redis.Redis.from_url(redis_url)
    store = LCStore(RagEmbeddings(local_embedder), unique_name, metadata_schema=SCHEMA, redis_client=client,
                    vector_algorithm="flat", vector_datatype="float16")  # fmt: skip
    try:
        assert store.index.client is client
        assert dict(store.index.layout.metadata_fields) == {"category": "tag", "year": "numeric"}
        assert (store.index.layout.algorithm, store.index.layout.datatype) == ("flat", "float16")
        store.add_texts(["files close in a with block", "old"], metadatas=[{"category": "faq", "year": 2024},
                        {"category": "faq", "year": 1999}], ids=["a", "b"])  # fmt: skip
        hits = store.similarity_search("closing files", k=2, filter={"year": {"$gte": 2020}})
        assert [d.id for d in hits] == ["a"]
        li = LIStore(unique_name, redis_client=client)
        assert li.index is not None and dict(li.index.layout.metadata_fields) == {"category": "tag", "year": "numeric"}
    finally:
        store.index.drop()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metadata_schema": [{"nme": "x"}]}, ValueError, "metadata_schema\\[0\\]"),
        ({"metadata_schema": SCHEMA, "metadata_fields": {"x": "tag"}}, ValueError, "not both"),
        ({"vector_algoritm": "flat"}, TypeError, "unknown index option"),
        ({"vector_algorithm": "ivf"}, ValueError, "vector_algorithm"),
    ],
)
def test_bad_constructor_options_fail_clearly(unique_name: str, kwargs: dict, error: type, match: str,
                                              redis_url: str) -> None:  # fmt: skip
    with pytest.raises(error, match=match):
        LIStore(unique_name, **kwargs)
