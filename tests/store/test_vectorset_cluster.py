"""The vector-set backend on a live 3-primary Redis Cluster: one set per tenant on its tag's shard, every key of the
index on that slot, writes (scripts), reads, versioned writes and cache invalidation from the client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from cluster import LocalRedisCluster
from fakes import HashEmbedder
from redis.cluster import RedisCluster, key_slot

from redis_rag_integrations import Settings, freshness
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.store.vectorset import VectorSetIndex

pytestmark = pytest.mark.cluster
DIMS = 8
embedder = HashEmbedder(DIMS)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(primaries=3) as c:  # no module: vector sets are built into Redis 8
        yield c


def _records(n: int, doc: str) -> list[Record]:
    return [
        Record(f"{doc}#{i}", f"{doc} chunk {i}", embedder.embed([f"{doc}{i}"])[0], {"i": i}, doc_id=doc)
        for i in range(n)
    ]


def test_tenants_sets_live_on_their_shard_and_work_whole(cluster: LocalRedisCluster) -> None:
    settings = Settings(redis_url=cluster.url)
    tenants = [f"t{uuid.uuid4().hex[:6]}-{n}" for n in range(3)]
    indexes = [RedisVectorIndex("docs", dims=DIMS, settings=settings, backend="vectorset", tenant=t) for t in tenants]
    raw = RedisCluster.from_url(cluster.url)
    try:
        for idx, tenant in zip(indexes, tenants, strict=True):
            assert isinstance(idx, VectorSetIndex)
            idx.upsert(_records(20, f"{tenant}-a") + _records(5, f"{tenant}-b"))
            slots = {
                key_slot(k.encode()) for k in (idx.keys.vset, idx.keys.meta, idx.keys.doc("x"), idx.keys.version("x"))
            }
            assert len(slots) == 1
            assert idx.count() == 25
            hit = idx.search(embedder.embed([f"{tenant}-a3"])[0], k=1)[0]
            assert hit.record.id == f"{tenant}-a#3" and hit.score == pytest.approx(1.0, abs=0.02)
            assert len(idx.find({"doc_id": f"{tenant}-b"})) == 5
            assert idx.delete_documents([f"{tenant}-b"]) == 5 and idx.count() == 20
            written = idx.replace_document(f"{tenant}-a", _records(3, f"{tenant}-a"), version=2)
            assert written.status == "applied" and written.removed == 17 and idx.count() == 3
            assert asyncio.run(idx.acount()) == 3
        # Cache invalidation runs from the client on a cluster (the links' keys are on other slots).
        idx, tenant = indexes[0], tenants[0]
        entry = f"{idx.keys.base}:cache-entry"
        raw.set(entry, "answer")
        fresh = freshness.keys_of(idx.keys.prefix)
        raw.sadd(fresh.deps(f"{tenant}-a"), entry)
        changed = _records(1, f"{tenant}-a")[0]
        changed.text = "new text"
        idx.upsert([changed])
        assert raw.exists(entry) == 0
    finally:
        for idx in indexes:
            idx.drop()
        raw.close()


def test_an_untagged_index_keeps_its_keys_on_one_slot(cluster: LocalRedisCluster) -> None:
    idx = RedisVectorIndex(
        f"plain{uuid.uuid4().hex[:6]}", dims=DIMS, settings=Settings(redis_url=cluster.url), backend="vectorset"
    )
    try:
        assert idx.keys.base == "{" + idx.keys.prefix + "}"
        idx.upsert(_records(4, "d"))
        assert idx.delete(["d#0"]) == 1 and [r.id for r in idx.get(["d#1"])] == ["d#1"]
        assert np.isfinite(idx.search(embedder.embed(["d1"])[0], 2)[0].score)
    finally:
        idx.drop()
