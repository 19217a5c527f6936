"""Per-tenant ingestion streams, and ``redis-rag tenants list|drop`` on the embedded Redis."""

from __future__ import annotations

import uuid

import pytest
from fakes import WordsEmbedder

from redis_rag_integrations import Settings, cli
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.store import ChatHistoryStore
from redis_rag_integrations.ingest import Producer, Worker, make_splitter
from redis_rag_integrations.ingest.events import StreamKeys
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.tenancy import Tenant
from redis_rag_integrations.tenant_admin import drop_tenant


def test_each_tenant_has_its_own_stream_and_its_worker_fills_its_own_index(redis_url: str) -> None:
    token = uuid.uuid4().hex[:6]
    names = [f"{token}a", f"{token}b"]
    settings = Settings(redis_url=redis_url)
    try:
        indexes = [RedisVectorIndex("docs", dims=32, settings=settings, tenant=n) for n in names]
        producers = [Producer("docs", redis_url=redis_url, tenant=n) for n in names]
        assert producers[0].keys.events == f"rag:{{{names[0]}}}:ingest:docs:events"
        assert producers[0].keys == StreamKeys.of_index(indexes[0]) != producers[1].keys
        producers[0].upsert("faq", "what tenant a knows")
        producers[1].upsert("faq", "what tenant b knows")
        splitter = make_splitter(chunk_size=200, chunk_overlap=0)
        Worker(indexes[0], WordsEmbedder(), splitter=splitter).run(until_idle=True)
        assert [r.text for r in indexes[0].find({"doc_id": "faq"})] == ["what tenant a knows"]
        assert indexes[1].find({"doc_id": "faq"}) == []  # b's event waits in b's stream for b's worker
        assert producers[1].backlog() == 1 and producers[0].backlog() == 0
        Worker(indexes[1], WordsEmbedder(), splitter=splitter).run(until_idle=True)
        assert [r.text for r in indexes[1].find({"doc_id": "faq"})] == ["what tenant b knows"]
    finally:
        for name in names:
            drop_tenant(name, redis_url)


def test_the_cli_lists_and_drops_tenants(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    token = uuid.uuid4().hex[:6]
    names = [f"{token}-one", f"{token} two"]
    settings = Settings(redis_url=redis_url)
    RedisVectorIndex("docs", dims=4, settings=settings, tenant=names[0])
    ChatHistoryStore(redis_url, tenant=names[1]).append("s", [StoredMessage(role="user", content="hi")])
    assert cli.main(["tenants", "list", "--url", redis_url]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert set(names) <= set(listed)
    assert cli.main(["tenants", "drop", names[0], "--url", redis_url]) == 0
    assert "dropped 1 index(es)" in capsys.readouterr().out
    assert cli.main(["tenants", "drop", names[1], "--url", redis_url]) == 0
    assert "deleted 1 key(s)" in capsys.readouterr().out
    assert cli.main(["tenants", "list", "--url", redis_url]) == 0
    assert not set(names) & set(capsys.readouterr().out.splitlines())
    assert cli.main(["tenants", "drop", "--url", redis_url]) == 2  # a name is required
    client = ChatHistoryStore(redis_url).client
    assert list(client.scan_iter(match=Tenant(names[1]).scan_pattern)) == []
