"""Nothing the caches keep in Redis grows without bound: bookkeeping follows the entries that are still alive.

Entries die without the cache's help (their TTL runs out, a document change invalidates them, ``max_entries``
evicts them); each test makes entries die that way and checks that the structures listing them -- the eviction
order, the document link sets, the in-flight watch set, the metrics' operation list -- drop them too.
"""

from __future__ import annotations

import time

import redis

from redis_rag_integrations.cache import SourceRef
from redis_rag_integrations.freshness import INFLIGHT_KEY, changed_key, deps_key, invalidate_documents
from redis_rag_integrations.metrics import storage
from redis_rag_integrations.metrics.histogram import LatencyHistogram


def wait_until_gone(client: redis.Redis, keys: list[str], limit: float = 10.0) -> None:
    """Wait for Redis to expire ``keys`` (a wait for the server, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while client.exists(*keys) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.exists(*keys) == 0


def members(client: redis.Redis, key: str) -> set[str]:
    return {m.decode() for m in client.zrange(key, 0, -1)}


def test_expired_entries_leave_the_eviction_order(make_cache, client) -> None:
    cache = make_cache(ttl=1)
    expired = [cache.store(f"question {i}", "answer") for i in range(50)]
    wait_until_gone(client, expired)
    live = [cache.store(f"new question {i}", "answer", ttl=600) for i in range(5)]
    assert members(client, cache.order_key) == set(live)
    assert members(client, cache.expiry_key) == set(live)


def test_max_entries_counts_live_entries_when_dead_ones_sit_in_the_middle(make_cache, client) -> None:
    cache = make_cache(max_entries=10, ttl=600)
    old = [cache.store(f"old {i}", "answer") for i in range(5)]
    short = [cache.store(f"short {i}", "answer", ttl=1) for i in range(5)]
    wait_until_gone(client, short)
    new = [cache.store(f"new {i}", "answer") for i in range(5)]
    assert client.exists(*old, *new) == 10  # the 5 expired made room; no live entry was evicted for them
    assert members(client, cache.order_key) == set(old + new)
    assert cache.stats.evicted == 0
    newest = cache.store("one more", "answer")
    assert client.exists(old[0]) == 0 and client.exists(newest) == 1 and cache.stats.evicted == 1


def test_invalidated_entries_leave_the_eviction_order(make_cache, client, unique_name) -> None:
    cache = make_cache(max_entries=10)
    keys = [cache.store(f"q {i}", "a", sources=[SourceRef(f"{unique_name}-doc-{i}")]) for i in range(10)]
    assert invalidate_documents(client, [f"{unique_name}-doc-{i}" for i in range(5)]) == 5
    assert members(client, cache.order_key) == set(keys[5:])
    new = [cache.store(f"new {i}", "a") for i in range(5)]
    assert client.exists(*keys[5:], *new) == 10


def test_document_links_drop_entries_that_expired(make_cache, client, unique_name) -> None:
    cache = make_cache()
    doc = SourceRef(f"{unique_name}-doc")
    expired = [cache.store(f"question {i}", "answer", ttl=1, sources=[doc]) for i in range(50)]
    wait_until_gone(client, expired)
    # each link checks a sample of LINK_SAMPLE (16) members: 16, then >= 15, >= 14, then the last 5 dead ones
    live = [cache.store(f"a question asked later {i}", "answer", ttl=600, sources=[doc]) for i in range(4)]
    assert client.smembers(deps_key(doc.id)) == {key.encode() for key in live}


def test_a_link_checks_a_bounded_sample_of_its_set(make_cache, client, unique_name) -> None:
    """The Redis work of linking an entry to a much-cited document is bounded (a sample, not the whole set), and
    small: the link scripts ran inside every store's MULTI, the largest part of a store's server time."""
    cache = make_cache()
    doc = SourceRef(f"{unique_name}-doc")
    for i in range(50):
        cache.store(f"question {i}", "answer", sources=[doc])  # 50 live entries cite the document
    before = client.info("commandstats").get("cmdstat_exists", {}).get("calls", 0)
    cache.store("one more question", "answer", sources=[doc])
    checked = client.info("commandstats")["cmdstat_exists"]["calls"] - before
    assert checked <= 16, checked


def test_document_links_live_as_long_as_their_longest_lived_entry(make_cache, client, unique_name) -> None:
    cache = make_cache()
    doc = SourceRef(f"{unique_name}-doc")
    cache.store("q1", "a", ttl=600, sources=[doc])
    assert 0 < client.ttl(deps_key(doc.id)) <= 600  # EXPIRE ... GT never gave a new set a TTL: it lived forever
    cache.store("q2", "a", ttl=60, sources=[doc])
    assert client.ttl(deps_key(doc.id)) > 60
    cache.store("q3", "a", ttl=None, sources=[doc])
    assert client.ttl(deps_key(doc.id)) == -1  # an entry that never expires keeps its link


def test_refreshed_entries_keep_their_document_links(make_cache, client, unique_name) -> None:
    cache = make_cache(ttl=600, refresh_on_hit=True)
    doc = SourceRef(f"{unique_name}-doc")
    key = cache.store("q", "a", sources=[doc])
    client.expire(key, 5)
    client.expire(deps_key(doc.id), 5)
    assert cache.check("q") is not None
    assert client.ttl(key) > 5 and client.ttl(deps_key(doc.id)) > 5
    assert invalidate_documents(client, [doc.id]) == 1


def test_watches_that_expired_stop_stamping_changes(client, unique_name) -> None:
    client.zadd(INFLIGHT_KEY, {f"{unique_name}-crashed": 1})  # a watch whose generator died long ago
    try:
        invalidate_documents(client, [f"{unique_name}-doc"])
        assert client.zscore(INFLIGHT_KEY, f"{unique_name}-crashed") is None
        assert client.exists(changed_key(f"{unique_name}-doc")) == 0
    finally:
        client.zrem(INFLIGHT_KEY, f"{unique_name}-crashed")


def test_metrics_forget_operation_names_unseen_for_the_retention(client, unique_name) -> None:
    keys = storage.MetricKeys(prefix=f"{unique_name}:metrics")
    hist = LatencyHistogram()
    hist.record(120.0)
    start = 1_000_000 * storage.PERIOD_SECONDS
    storage.write(client, keys, {f"dynamic.{i}": hist for i in range(20)}, {}, now=start)
    later = start + (storage.RETENTION_HOURS + 2) * storage.PERIOD_SECONDS
    storage.write(client, keys, {"steady": hist}, {}, now=later)
    names: set[str] = set()
    for key in client.scan_iter(match=f"{keys.prefix}:ops*"):
        kind = client.type(key).decode()
        names |= {m.decode() for m in (client.zrange(key, 0, -1) if kind == "zset" else client.smembers(key))}
    assert names == {"steady"}
    window = storage.read(client, keys, hours=1, now=later)
    assert set(window.operations) == {"steady"} and window.operations["steady"].count == 1
    storage.reset(client, keys)
