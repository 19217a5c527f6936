"""Redis Sentinel, live: store / caches / history through a ``redis+sentinel://`` URL, sync and async, before and
after a ``SENTINEL FAILOVER``; and the sentinel URL parser, property-tested (exact or a clear refusal)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sentinel_setup import LocalSentinel

from redis_rag_integrations import Settings
from redis_rag_integrations.cache.exact import ExactCache
from redis_rag_integrations.cache.semantic import SemanticCache
from redis_rag_integrations.connection import async_twin, client_url, get_client, mask_url
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.store import ChatHistoryStore
from redis_rag_integrations.sentinel import parse_sentinel_url
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.store.layout import Record
from redis_rag_integrations.urls import redis_url as resolve_url

PASSWORD = "sentinel pw/@:%"


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalSentinel]:
    with LocalSentinel(password=PASSWORD) as found:
        yield found


def _vec(embedder, text: str) -> np.ndarray:
    return np.asarray(embedder.embed([text])[0], dtype=np.float32)


def test_round_trip_and_failover(deployment: LocalSentinel, hash_embedder) -> None:
    url = deployment.url
    settings = Settings(redis_url=url)
    assert resolve_url(settings) == url  # PING + module check on the primary the sentinel names
    name = f"sent{uuid.uuid4().hex[:8]}"
    index = RedisVectorIndex(name, dims=hash_embedder.dims, url=url, settings=settings)
    cache = SemanticCache(hash_embedder, name=f"{name}c", redis_url=url, settings=settings)
    exact = ExactCache(name=f"{name}x", redis_url=url, settings=settings)
    history = ChatHistoryStore(url, settings=settings, prefix=name)

    def round_trip(tag: str) -> None:
        vec = _vec(hash_embedder, tag)
        index.upsert([Record(id=tag, text=tag, vector=vec)])
        assert [h.record.id for h in index.search(vec, k=1)] == [tag]
        assert [h.record.id for h in asyncio.run(index.asearch(vec, k=1))] == [tag]
        assert cache.store(f"question {tag}", f"answer {tag}") is not None
        hit = cache.check(f"question {tag}")
        assert hit is not None and hit.response == f"answer {tag}"
        assert exact.set(tag, tag) and exact.get(tag) == tag
        history.append("s", [StoredMessage(role="user", content=tag)])

        async def aread() -> list[str]:
            await history.aappend("s", [StoredMessage(role="ai", content=f"a-{tag}")])
            return [str(m.content) for m in await history.aread("s")]

        assert asyncio.run(aread())[-2:] == [tag, f"a-{tag}"]

    before = deployment.primary_port()
    round_trip("before")
    assert deployment.failover() != before
    round_trip("after")  # the same objects: their clients follow the sentinel to the new primary
    vec = _vec(hash_embedder, "before")
    assert [h.record.id for h in index.search(vec, k=1)] == ["before"]  # replicated before the switch, still there
    assert [m.content for m in history.read("s")][:2] == ["before", "a-before"]
    index.drop()
    cache.delete_index()


def test_sync_client_twin_and_url(deployment: LocalSentinel) -> None:
    client = get_client(deployment.url, settings=Settings())
    try:
        assert client.ping()
        shown = client_url(client)
        assert shown.startswith("redis+sentinel://127.0.0.1:") and shown.endswith("/mymaster/0")
        assert PASSWORD not in shown and quote(PASSWORD, safe="") not in shown

        async def ping_twin() -> bool:
            twin = async_twin(client)
            try:
                return bool(await twin.ping())
            finally:
                await twin.aclose()

        assert asyncio.run(ping_twin())
    finally:
        client.close()
    assert mask_url(deployment.url).count("***") == 1


_host = st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True)
_port = st.integers(1, 65535)


@given(
    hosts=st.lists(st.tuples(_host, _port), min_size=1, max_size=3),
    service=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=15),
    db=st.integers(0, 15),
    user=st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
    password=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    tls=st.booleans(),
)
def test_sentinel_url_parses_exactly(
    hosts: list[tuple[str, int]], service: str, db: int, user: str, password: str, tls: bool
) -> None:
    scheme = "rediss+sentinel" if tls else "redis+sentinel"
    netloc = ",".join(f"{h}:{p}" for h, p in hosts)
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    target = parse_sentinel_url(f"{scheme}://{auth}{netloc}/{quote(service, safe='')}/{db}")
    assert target.sentinels == tuple(hosts)
    assert (target.service, target.db, target.tls) == (service, db, tls)
    assert (target.username, target.password) == (user or None, password)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h:1",  # no service
        "redis+sentinel://h:x/m",  # port not a number
        "redis+sentinel://h:70000/m",
        "redis+sentinel://h:1/m/notadb",
        "redis+sentinel://h:1/m/0/extra",
        "redis+sentinel://[::1]:1/m",
        "redis://h:1/m",
    ],
)
def test_bad_sentinel_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sentinel URL"):
        parse_sentinel_url(url)


def test_writes_can_wait_for_the_replica(deployment: LocalSentinel, hash_embedder) -> None:
    """REDIS_RAG_WRITE_REPLICAS through a sentinel URL: the write returns once the replica has it."""
    url = deployment.url
    settings = Settings(redis_url=url, write_replicas=1, write_wait_timeout_ms=2000)
    index = RedisVectorIndex(f"sentw{uuid.uuid4().hex[:8]}", dims=hash_embedder.dims, url=url, settings=settings)
    try:
        vec = _vec(hash_embedder, "waited")
        index.upsert([Record(id="w", text="waited", vector=vec)])
        replica = deployment.replica if deployment.primary_port() != deployment.replica.port else deployment.primary
        assert replica is not None
        seen = deployment.node_client(replica).exists(index.layout.key("w"))
        assert seen == 1  # on the replica as soon as the write returned
    finally:
        index.drop()
