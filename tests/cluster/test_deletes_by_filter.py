"""Deletes that first search the index (by document, clear, drop with records) on the live cluster, sync and async.

They went through redisvl's search (``drop_by_filter``, ``clear``), which the asyncio cluster client sends to its
default node, or to none at all: ``'NoneType' object has no attribute 'connection_kwargs'`` for
``adelete_documents``. Now the search goes to the index's node (``placement.ft_call``), as every read does.
"""

from __future__ import annotations

import numpy as np
import pytest
from cluster_ops import tenants_on_distinct_shards

from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex

pytestmark = pytest.mark.cluster


def _records(n: int) -> list[Record]:
    v = np.ones(4, dtype=np.float32)
    return [Record(f"r{i}", f"text {i}", v, {"i": i}, doc_id=f"d{i % 3}") for i in range(n)]


async def test_deletes_by_document_and_clear_on_the_cluster(search_cluster, unique_name: str) -> None:
    (tenant,) = tenants_on_distinct_shards(search_cluster, 1, unique_name)
    index = RedisVectorIndex("docs", dims=4, settings=Settings(redis_url=search_cluster.url), tenant=tenant)
    dropped = False
    try:
        index.upsert(_records(30))
        assert (index.count(), await index.acount()) == (30, 30)  # FT.INFO on the index's node, sync and async
        assert index.delete_documents(["d0"]) == 10
        assert await index.adelete_documents(["d1", "missing"]) == 10
        assert sorted(r.id for r in index.find({"doc_id": "d2"}, limit=100)) == sorted(f"r{i}" for i in range(2, 30, 3))
        assert await index.aclear() == 10
        assert index.find({"doc_id": {"$in": ["d0", "d1", "d2"]}}) == []
        index.upsert(_records(6))
        assert index.clear() == 6
        index.upsert(_records(6))
        await index.adrop(delete_records=True)
        dropped = True
        client = index.client
        assert not [k for k in client.scan_iter(match=f"{index.layout.key_prefix}:*", target_nodes="primaries")]
    finally:
        if not dropped:
            index.drop()
        index.close()
