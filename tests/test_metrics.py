"""Metrics: percentile math on known histograms, real operations recorded and flushed to the real Redis, off means
nothing written, a dead metrics Redis never breaks an operation, OpenTelemetry data points, processes merge."""

from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
from fakes import WordsEmbedder
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from redis_rag_integrations import metrics
from redis_rag_integrations.cache import CacheInputError, ExactCache, SemanticCache
from redis_rag_integrations.metrics import LatencyHistogram, MetricKeys, bucket_bounds, bucket_of
from redis_rag_integrations.metrics.histogram import MAX_BUCKET
from redis_rag_integrations.metrics.storage import read, write


# --- the histogram, deterministically ----------------------------------------------------------------------------
def filled(values_us: dict[float, int]) -> LatencyHistogram:
    hist = LatencyHistogram()
    for value, n in values_us.items():
        for _ in range(n):
            hist.record(value)
    return hist


def test_percentiles_from_known_bucket_counts() -> None:
    # 50 calls of 100 us, 45 of 1 ms, 5 of 10 ms: each value lands in its own bucket.
    hist = filled({100.0: 50, 1000.0: 45, 10000.0: 5})
    b100, b1000, b10000 = (bucket_bounds(bucket_of(v)) for v in (100.0, 1000.0, 10000.0))
    # p50: rank 50 is the last call of the first bucket -> that bucket's upper bound.
    assert hist.percentile(0.50) == pytest.approx(b100[1])
    # p25: rank 25, halfway into the first bucket -> its geometric midpoint.
    assert hist.percentile(0.25) == pytest.approx(math.sqrt(b100[0] * b100[1]))
    # p95: rank 95 closes the second bucket.
    assert hist.percentile(0.95) == pytest.approx(b1000[1])
    # p99: rank 99 is 4/5 into the third bucket.
    lower, upper = b10000
    assert hist.percentile(0.99) == pytest.approx(lower * (upper / lower) ** 0.8)
    assert hist.percentile(1.0) == pytest.approx(upper)
    assert hist.count == 100
    assert hist.mean_us == pytest.approx((50 * 100 + 45 * 1000 + 5 * 10000) / 100)
    ms = hist.percentiles_ms()
    assert set(ms) == {"p50", "p95", "p99"}
    assert ms["p95"] == pytest.approx(b1000[1] / 1000)


def test_bucket_edges() -> None:
    assert bucket_of(0.0) == bucket_of(-5.0) == bucket_of(float("nan")) == bucket_of(0.5) == 0
    assert bucket_of(1.0) == 0 and bucket_of(2.0) == 4  # four buckets per doubling, starting at 1 us
    assert bucket_of(1e30) == MAX_BUCKET
    for value in (1.7, 33.0, 250.0, 4096.5, 123456.0, 9.9e7):
        lower, upper = bucket_bounds(bucket_of(value))
        assert lower <= value < upper
        assert upper / lower == pytest.approx(2**0.25)
    assert bucket_bounds(0) == (0.0, pytest.approx(2**0.25))
    with pytest.raises(ValueError, match="bucket index"):
        bucket_bounds(MAX_BUCKET + 1)
    with pytest.raises(ValueError, match="quantile"):
        LatencyHistogram().percentile(0.0)
    assert LatencyHistogram().percentile(0.99) == 0.0


def test_estimate_stays_in_the_bucket_of_the_true_sample_percentile() -> None:
    """On a skewed, realistic distribution the estimate is within one bucket width (19%) of numpy's answer."""
    samples = np.random.default_rng(7).lognormal(mean=math.log(800.0), sigma=0.9, size=5000)
    hist = LatencyHistogram()
    for s in samples:
        hist.record(float(s))
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        true = float(np.quantile(samples, q, method="inverted_cdf"))
        estimate = hist.percentile(q)
        lower, upper = bucket_bounds(bucket_of(true))
        assert lower <= estimate <= upper, (q, true, estimate)  # the true value's bucket, bounds included
        assert abs(estimate / true - 1) < 2**0.25 - 1


def test_merge_equals_one_histogram_of_all_samples_and_fields_round_trip() -> None:
    rng = np.random.default_rng(1)
    a_values, b_values = rng.uniform(5, 50_000, 300), rng.uniform(5, 50_000, 200)
    a, b, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for v in a_values:
        a.record(float(v))
        both.record(float(v))
    for v in b_values:
        b.record(float(v))
        both.record(float(v))
    b.errors = 3
    merged = LatencyHistogram().merge(a).merge(b)
    assert merged.buckets == both.buckets and merged.count == 500 and merged.errors == 3
    back = LatencyHistogram.from_fields({k.encode(): str(v).encode() for k, v in merged.to_fields().items()})
    assert back.buckets == merged.buckets and back.count == 500 and back.errors == 3
    assert back.sum_us == pytest.approx(merged.sum_us, abs=1)
    assert back.percentile(0.95) == merged.percentile(0.95)


# --- real operations, real Redis ---------------------------------------------------------------------------------
@pytest.fixture
def prefix(unique_name: str) -> str:
    return f"{unique_name}:metrics"


@pytest.fixture
def otel_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def metrics_on(redis_url: str, prefix: str, otel_reader: InMemoryMetricReader) -> Iterator[MetricKeys]:
    """Metrics on, flushing only when a test says so (interval 1 h), into a prefix of the test's own."""
    metrics.enable(redis_url, interval=3600, prefix=prefix, meter_provider=MeterProvider([otel_reader]))
    yield MetricKeys(prefix)
    metrics.disable(flush=False)
    metrics.reset(redis.Redis.from_url(redis_url), MetricKeys(prefix))


def test_cache_lookups_are_timed_counted_and_flushed(
    metrics_on: MetricKeys, client: redis.Redis, redis_url: str, unique_name: str, local_embedder: Any
) -> None:
    cache = SemanticCache(local_embedder, name=f"{unique_name}sem", redis_url=redis_url)
    exact = ExactCache(name=f"{unique_name}:exact", redis_url=redis_url)
    try:
        cache.store("How do I sort a list in Python?", "Use sorted(items) or items.sort().")
        assert cache.check("How do I sort a list in Python?") is not None
        assert cache.check("What is the capital of France?") is None
        exact.set("ping", "pong")
        assert exact.get("ping") == "pong"
        assert exact.get("unknown") is None
        with pytest.raises(CacheInputError):
            cache.check(123)  # type: ignore[arg-type]

        assert metrics.flush() is True
        window = read(client, metrics_on, hours=2)
    finally:
        cache.delete_index()
        cache.close()
        exact.clear()

    ops = window.operations
    assert ops["cache.semantic.lookup"].count == 2  # the failed call is not a latency sample...
    assert ops["cache.semantic.lookup"].errors == 1  # ...it is an error
    assert ops["cache.semantic.store"].count == 1
    assert ops["cache.exact.lookup"].count == 2 and ops["cache.exact.store"].count == 1
    assert ops["embed"].count >= 3  # store + two lookups each embed one question
    assert window.counter("embed.texts") >= 3
    lookup = ops["cache.semantic.lookup"]
    # a lookup embeds, so the slowest lookup is no faster than the fastest embed; percentiles are ordered
    assert 0 < lookup.percentile(0.5) <= lookup.percentile(0.95) <= lookup.percentile(0.99)
    assert max(lookup.buckets) >= min(ops["embed"].buckets)
    assert window.counter("cache.semantic.hits", f"{unique_name}sem") == 1
    assert window.counter("cache.semantic.misses", f"{unique_name}sem") == 1
    assert window.counter("cache.semantic.stores", f"{unique_name}sem") == 1
    assert window.counter("cache.exact.hits", f"{unique_name}:exact") == 1
    assert window.counter("cache.exact.misses", f"{unique_name}:exact") == 1
    # the same numbers the cache object keeps for itself
    assert cache.stats.hits == 1 and cache.stats.misses == 1
    # stored as hourly hashes under the prefix, with an expiry
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{metrics_on.prefix}:op:cache.semantic.lookup:*"))
    assert len(keys) == 1 and client.ttl(keys[0]) > 0
    assert int(client.hget(keys[0], "count")) == 2
    assert metrics.pending() == ({}, {})


def test_opentelemetry_gets_the_same_operations(
    metrics_on: MetricKeys, otel_reader: InMemoryMetricReader, redis_url: str, unique_name: str
) -> None:
    exact = ExactCache(name=f"{unique_name}:otel", redis_url=redis_url)
    try:
        exact.set("q", "a")
        exact.get("q")
        exact.get("nope")
    finally:
        exact.clear()
    points: dict[str, list[Any]] = {}
    data = otel_reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "redis_rag_integrations"
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    durations = {p.attributes["redis_rag.operation"]: p for p in points["redis_rag.operation.duration"]}
    assert durations["cache.exact.lookup"].count == 2
    assert durations["cache.exact.store"].count == 1
    assert durations["cache.exact.lookup"].sum > 0
    hits = [p for p in points["redis_rag.cache.exact.hits"] if p.attributes["redis_rag.name"] == f"{unique_name}:otel"]
    assert hits[0].value == 1


def test_metrics_off_writes_nothing(redis_url: str, client: redis.Redis, prefix: str) -> None:
    metrics.enable(redis_url, interval=3600, prefix=prefix, otel=False)
    metrics.disable(flush=False)
    assert not metrics.enabled()
    exact = ExactCache(name=f"{prefix}:cache", redis_url=redis_url)
    exact.set("q", "a")
    assert exact.get("q") == "a"
    metrics.count("embed.texts", 5)
    with metrics.timer("anything"):
        pass
    assert metrics.pending() == ({}, {})
    assert metrics.flush() is True
    exact.clear()
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_metrics_redis_never_breaks_an_operation(
    redis_url: str, client: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    metrics.enable(dead, interval=3600, prefix=prefix, otel=False)
    exact = ExactCache(name=f"{prefix}:cache", redis_url=redis_url)
    try:
        with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.metrics"):
            exact.set("q", "a")
            assert exact.get("q") == "a"
            assert metrics.flush() is False  # failed, did not raise
            assert exact.get("q") == "a"
            assert metrics.flush() is False
        warnings = [r for r in caplog.records if "metrics flush failed" in r.getMessage()]
        assert len(warnings) == 1  # logged once, not once per attempt
        ops, _ = metrics.pending()
        assert ops["cache.exact.lookup"].count == 2  # kept for the next attempt

        metrics.enable(redis_url, interval=3600, prefix=prefix, otel=False)  # the metrics Redis is back
        assert metrics.flush() is True
        window = read(client, MetricKeys(prefix), hours=2)
        assert window.operations["cache.exact.lookup"].count == 2
        assert window.operations["cache.exact.store"].count == 1
    finally:
        metrics.disable(flush=False)
        exact.clear()
        metrics.reset(client, MetricKeys(prefix))


def test_timed_keeps_results_and_exceptions_and_handles_coroutines(
    redis_url: str, client: redis.Redis, prefix: str
) -> None:
    @metrics.timed("test.sync")
    def double(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return 2 * x

    @metrics.timed("test.async")
    async def triple(x: int) -> int:
        return 3 * x

    import asyncio

    metrics.enable(redis_url, interval=3600, prefix=prefix, otel=False)
    try:
        assert double(2) == 4
        with pytest.raises(ValueError, match="negative"):
            double(-1)
        assert asyncio.run(triple(2)) == 6
        assert double.__name__ == "double"
        ops, _ = metrics.pending()
        assert (ops["test.sync"].count, ops["test.sync"].errors) == (1, 1)
        assert ops["test.async"].count == 1
    finally:
        metrics.disable(flush=False)
    assert double(3) == 6 and metrics.pending() == ({}, {})


def test_processes_merge_through_redis(redis_url: str, client: redis.Redis, prefix: str) -> None:
    """Two application processes switched on by REDIS_RAG_METRICS=1 flush at exit; their counts add up."""
    keys = MetricKeys()  # the environment switch uses the default prefix
    metrics.reset(client, keys)
    script = textwrap.dedent(
        f"""
        from redis_rag_integrations import metrics
        from redis_rag_integrations.cache import ExactCache
        assert metrics.enabled()
        cache = ExactCache(name={prefix + ":app"!r})
        cache.set("q", "a")
        for _ in range(5):
            cache.get("q")
        cache.get("missing")
        """
    )
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_RAG_METRICS": "1", "REDIS_RAG_METRICS_FLUSH_INTERVAL": "600"}
    try:
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        window = read(client, keys, hours=1)
        assert window.operations["cache.exact.lookup"].count == 12
        assert window.operations["cache.exact.store"].count == 2
        assert window.counter("cache.exact.hits", f"{prefix}:app") == 10
        assert window.counter("cache.exact.misses", f"{prefix}:app") == 2
    finally:
        metrics.reset(client, keys)
        for key in client.scan_iter(match=f"{prefix}:app:*"):
            client.delete(key)


def test_bad_configuration_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        metrics.enable(redis_url, interval=0)
    with pytest.raises(ValueError, match="prefix"):
        metrics.enable(redis_url, prefix="has space")
    with pytest.raises(ValueError, match="hours"):
        read(redis.Redis.from_url(redis_url), MetricKeys(), hours=0)
    assert not metrics.enabled()


def test_reader_refuses_other_bucket_boundaries(client: redis.Redis, prefix: str) -> None:
    keys = MetricKeys(prefix)
    write(client, keys, {"x": filled({10.0: 1})}, {})
    client.hset(keys.meta, "bucket_scheme", "linear/1ms")
    try:
        with pytest.raises(ValueError, match="bucket scheme"):
            read(client, keys)
    finally:
        metrics.reset(client, keys)


def test_ingestion_and_search_are_recorded(
    metrics_on: MetricKeys, client: redis.Redis, redis_url: str, unique_name: str
) -> None:
    from redis_rag_integrations import Settings
    from redis_rag_integrations.ingest import Producer, Worker
    from redis_rag_integrations.store import RedisVectorIndex

    index = RedisVectorIndex(unique_name, dims=8, settings=Settings(redis_url=redis_url))
    try:
        producer = Producer(index.name, client=index.client)
        producer.upsert("a.md", "sorting lists in python")
        producer.upsert("b.md", "reading files line by line")
        producer.delete("old.md")
        worker = Worker(index, WordsEmbedder(dims=8), batch_size=10)
        assert worker.process_once() == 3
        hits = index.hybrid_search("sorting lists", WordsEmbedder(dims=8).embed(["sorting lists"])[0], k=1)
        assert hits[0].record.doc_id == "a.md"
        assert metrics.flush()
        window = read(client, metrics_on, hours=2)
    finally:
        index.drop()
        for key in client.scan_iter(match=f"{unique_name}*"):
            client.delete(key)
    ops = window.operations
    assert ops["ingest.publish"].count == 3
    assert ops["ingest.prepare"].count == 1 and ops["ingest.write"].count == 1
    assert ops["store.hybrid_search"].count == 1 and ops["store.fusion"].count == 1
    # one round trip for both sides (store/hybrid.py): neither is a search of its own
    assert "store.search" not in ops and "store.text_search" not in ops
    assert window.counter("ingest.events_published") == 3
    assert window.counter("ingest.documents_indexed") == 2
    assert window.counter("ingest.documents_deleted") == 1
    assert window.counter("ingest.chunks_written") == 2  # one chunk per short document
