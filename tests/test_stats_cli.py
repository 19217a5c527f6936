"""``redis-rag stats`` in a subprocess against the real test server: what an application process recorded (another
process, switched on by REDIS_RAG_METRICS=1) shows up with its counts, hit rate and percentiles."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis, local_server
from redis_rag_integrations.metrics import LatencyHistogram, MetricKeys, reset
from redis_rag_integrations.metrics.storage import write
from redis_rag_integrations.usage_report import classify

#: The application: a vector index, a semantic cache (deterministic plumbing embedder: meaning is not under test),
#: an exact cache and chat history, used the way an app would, with metrics switched on by the environment only.
APP = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np
    from redis_rag_integrations import metrics
    from redis_rag_integrations.cache import ExactCache, SemanticCache
    from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
    from redis_rag_integrations.store import Record, RedisVectorIndex

    class Embedder:
        model_name, dims = "hash-8", 8
        def embed(self, texts):
            rows = []
            for t in texts:
                v = np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).standard_normal(8)
                rows.append(v / np.linalg.norm(v))
            return np.asarray(rows, dtype=np.float32)
        async def aembed(self, texts):
            return self.embed(texts)

    name = sys.argv[1]
    assert metrics.enabled()
    emb = Embedder()
    index = RedisVectorIndex(name + "docs", dims=8)
    texts = ["sort a list", "open a file", "read json", "parse dates"]
    index.upsert([Record(id=f"r{i}", text=t, vector=emb.embed([t])[0]) for i, t in enumerate(texts)])
    for t in texts:
        index.search(emb.embed([t])[0], k=2)
    index.hybrid_search("sort list", emb.embed(["sort list"])[0], k=2)
    cache = SemanticCache(emb, name=name + "cache")
    cache.store("How do I sort a list?", "sorted()")
    for prompt in ["How do I sort a list?", "How do I sort a list?", "How do I sort a list?", "Unrelated?"]:
        cache.check(prompt)
    history = ChatHistoryStore(prefix=name + "chat")
    for session in ("alice", "bob", "carol"):
        history.append(session, [StoredMessage(role="user", content="hi"), StoredMessage(role="ai", content="hello")])
        history.read(session, last=20)
    """
)


def run_cli(*args: str, env: dict[str, str] | None = None, command: str = "stats") -> subprocess.CompletedProcess[str]:
    env = {**(env or os.environ), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "redis_rag_integrations", command, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def app_run(redis_url: str, client: redis.Redis, unique_name: str) -> Iterator[str]:
    """Run the application once in its own process (it flushes its metrics at exit); clean everything up after."""
    reset(client, MetricKeys())
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_RAG_METRICS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", APP, unique_name], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    yield unique_name
    reset(client, MetricKeys())
    for index in (unique_name + "docs", unique_name + "cache", unique_name + "chat-recall"):
        with contextlib.suppress(redis.ResponseError):
            client.execute_command("FT.DROPINDEX", index, "DD")
    for key in client.scan_iter(match=f"{unique_name}*"):
        client.delete(key)


def test_stats_json_shows_what_the_application_recorded(redis_url: str, app_run: str) -> None:
    done = run_cli("--url", redis_url, "--json", "--history-prefix", app_run + "chat")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    indexes = {i["name"]: i for i in report["indexes"]}
    store = indexes[app_run + "docs"]
    assert store["kind"] == "vector store" and store["num_docs"] == 4
    assert store["vector_index_bytes"] > 0 and store["index_bytes"] >= store["vector_index_bytes"]
    assert store["index_bytes_per_doc"] is None  # 4 documents: the vector index's fixed allocation, not a cost
    assert store["data_bytes_est"] > 4 * 8 * 4  # at least the four 8-dim float32 vectors
    assert indexes[app_run + "cache"]["kind"] == "semantic cache"

    caches = {c["name"]: c for c in report["caches"]}
    cache = caches[app_run + "cache"]
    assert (cache["kind"], cache["entries"], cache["hits"], cache["misses"]) == ("semantic", 1, 3, 1)
    assert cache["hit_rate"] == pytest.approx(0.75)
    assert cache["stores"] == 1

    assert report["history"] == {"prefix": app_run + "chat", "sessions": 3, "complete": True}

    ops = {o["name"]: o for o in report["operations"]}
    expected_counts = {
        "store.upsert": 1,
        "store.search": 4,  # four searches; the hybrid one pipelines both sides in one op (store/hybrid.py)
        "store.hybrid_search": 1,
        "store.fusion": 1,
        "cache.semantic.store": 1,
        "cache.semantic.lookup": 4,
        "history.append": 3,
        "history.read": 3,
    }
    for name, n in expected_counts.items():
        assert ops[name]["count"] == n, name
        assert ops[name]["errors"] == 0
        assert 0 < ops[name]["p50_ms"] <= ops[name]["p95_ms"] <= ops[name]["p99_ms"]
    assert report["counters"]["store.records_written"] == 4
    assert report["counters"]["history.messages_written"] == 6
    assert report["metrics"]["last_flush"] is not None


def test_stats_percentiles_are_the_merged_buckets(redis_url: str, client: redis.Redis, unique_name: str) -> None:
    """Two processes' worth of a known distribution: the CLI's p50/p95/p99 are those of the merged histogram."""
    keys = MetricKeys(f"{unique_name}:m")
    first, second = LatencyHistogram(), LatencyHistogram()
    for value, n in ((150.0, 40), (900.0, 5)):
        for _ in range(n):
            first.record(value)
    for value, n in ((150.0, 10), (900.0, 40), (20_000.0, 5)):
        for _ in range(n):
            second.record(value)
    second.errors = 2
    write(client, keys, {"known.op": first}, {"cache.exact.hits|c1": 3})
    write(client, keys, {"known.op": second}, {"cache.exact.hits|c1": 1, "cache.exact.misses|c1": 4})
    merged = LatencyHistogram().merge(first).merge(second)
    try:
        done = run_cli("--url", redis_url, "--json", "--prefix", keys.prefix, "--hours", "2")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
    finally:
        reset(client, keys)
    (op,) = [o for o in report["operations"] if o["name"] == "known.op"]
    assert (op["count"], op["errors"]) == (100, 2)
    for q in (0.5, 0.95, 0.99):
        assert op[f"p{int(q * 100)}_ms"] == pytest.approx(merged.percentile(q) / 1000, abs=1e-4)
    # p50 in the 150 us bucket, p95 in the 900 us one, p99 in the 20 ms one
    assert 0.150 / 1.19 < op["p50_ms"] < 0.150 * 1.19
    assert 0.900 / 1.19 < op["p95_ms"] < 0.900 * 1.19
    assert 20.0 / 1.19 < op["p99_ms"] < 20.0 * 1.19
    assert op["mean_ms"] == pytest.approx((50 * 0.150 + 45 * 0.900 + 5 * 20.0) / 100, rel=1e-3)
    (c1,) = [c for c in report["caches"] if c["name"] == "c1"]
    assert (c1["kind"], c1["hits"], c1["misses"], c1["hit_rate"]) == ("exact", 4, 4, 0.5)


def test_stats_table_and_reset(redis_url: str, client: redis.Redis, app_run: str) -> None:
    done = run_cli("--url", redis_url, "--history-prefix", app_run + "chat")
    assert done.returncode == 0, done.stderr
    for text in (
        "cache.semantic.lookup",
        "store.search",
        "history.append",
        "p99 ms",
        "hit rate",
        "75.0%",
        app_run + "docs",
    ):
        assert text in done.stdout, text
    assert "chat sessions under" in done.stdout

    done = run_cli("--url", redis_url, "--reset")
    assert done.returncode == 0 and "deleted" in done.stdout
    assert list(client.scan_iter(match="rag:metrics:*")) == []
    report = json.loads(run_cli("--url", redis_url, "--json").stdout)
    assert report["operations"] == [] and report["metrics"]["last_flush"] is None


def test_stats_bad_input(redis_url: str) -> None:
    done = run_cli("--url", redis_url, "--hours", "0")
    assert done.returncode == 2 and "hours" in done.stdout


def test_stats_table_has_no_per_document_figure_for_a_small_index(redis_url: str, app_run: str) -> None:
    """589 KB "per document" for 3 documents was HNSW's first block of 1,024 vectors, not a cost per document."""
    done = run_cli("--url", redis_url, "--history-prefix", app_run + "chat")
    assert done.returncode == 0, done.stderr
    (row,) = [line for line in done.stdout.splitlines() if line.strip().startswith(app_run + "docs")]
    assert " KB" not in row and "per document from" in done.stdout


def test_model_loads_are_shown_apart_from_operations(redis_url: str, client: redis.Redis, unique_name: str) -> None:
    keys = MetricKeys(f"{unique_name}:m")
    load, embed = LatencyHistogram(), LatencyHistogram()
    load.record(12_000_000.0)  # a 12 s model load
    embed.record(9_000.0)
    write(client, keys, {"embed.load": load, "embed": embed}, {})
    try:
        report = json.loads(run_cli("--url", redis_url, "--json", "--prefix", keys.prefix).stdout)
        table = run_cli("--url", redis_url, "--prefix", keys.prefix).stdout
    finally:
        reset(client, keys)
    assert [o["name"] for o in report["operations"]] == ["embed"]
    assert [(m["name"], m["count"]) for m in report["model_loads"]] == [("embed.load", 1)]
    (ops_line,) = [line for line in table.splitlines() if line.lstrip().startswith("embed ")]
    assert "embed.load" not in table.split("operation")[1]  # not a row of the operations table
    assert "model load" in table and "embed.load" in table
    assert ops_line


def test_index_bytes_per_doc_shown_once_blocks_are_amortised(redis_url: str, unique_name: str) -> None:
    """From PER_DOC_MIN_DOCS documents on, the figure is the index memory over the count (block slack < 10%)."""
    import numpy as np

    from redis_rag_integrations.connection import get_client
    from redis_rag_integrations.usage_report import PER_DOC_MIN_DOCS, index_stats

    client = get_client(redis_url)  # the client the CLI uses (RESP2 replies)

    client.execute_command(
        "FT.CREATE", unique_name, "ON", "HASH", "PREFIX", 1, f"{unique_name}:", "SCHEMA", "text", "TEXT",
        "vector", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", 4, "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip
    vectors = np.random.default_rng(0).standard_normal((PER_DOC_MIN_DOCS, 4)).astype(np.float32)
    try:
        pipe = client.pipeline(transaction=False)
        for n, v in enumerate(vectors):
            pipe.hset(f"{unique_name}:{n}", mapping={"text": f"doc {n}", "vector": v.tobytes()})
            if n == 99:
                pipe.execute()
                small = index_stats(client, unique_name)
        pipe.execute()
        big = index_stats(client, unique_name)
    finally:
        client.execute_command("FT.DROPINDEX", unique_name, "DD")
    assert small.num_docs == 100 and small.index_bytes_per_doc is None
    assert big.num_docs == PER_DOC_MIN_DOCS
    assert big.index_bytes_per_doc == pytest.approx(big.index_bytes / PER_DOC_MIN_DOCS)


def test_no_url_reports_on_the_local_server_without_starting_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["REDIS_RAG_DATA_DIR"] = str(tmp_path / "data")
    for command in ("stats", "info"):
        done = run_cli(env=env, command=command)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "no local server running" in done.stdout and str(tmp_path / "data") in done.stdout
    assert not (tmp_path / "data" / local_server.STATE_FILE).exists()  # nothing was started to report on

    found = local_server.ensure(tmp_path / "data", idle_timeout=60)
    try:
        for command in ("stats", "info"):
            done = run_cli(env=env, command=command)
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"127.0.0.1:{found.port}" in done.stdout
            assert found.password not in done.stdout + done.stderr
    finally:
        local_server.stop(tmp_path / "data")


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[EmbeddedRedis]:
    """A fresh password-protected server: nothing on it yet, and a secret that must never be printed."""
    with EmbeddedRedis(password="s3cret-Pw-4711") as server:
        yield server


def test_passwords_never_printed(locked_redis: EmbeddedRedis) -> None:
    port = locked_redis.port
    good, wrong = locked_redis.url, f"redis://:wr0ng-Pw-0815@127.0.0.1:{port}/0"
    for command in ("stats", "info"):
        done = run_cli("--url", good, command=command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "s3cret-Pw-4711" not in done.stdout + done.stderr and f":***@127.0.0.1:{port}" in done.stdout
        done = run_cli("--url", wrong, command=command)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "wr0ng-Pw-0815" not in done.stdout + done.stderr and "Traceback" not in done.stderr
        assert ":***@" in done.stdout


def test_empty_sections_are_one_line_each(locked_redis: EmbeddedRedis) -> None:
    done = run_cli("--url", locked_redis.url)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("no search indexes yet", "no caches yet", "no chat sessions yet", "no operations recorded yet"):
        assert text in done.stdout, text
    for header in ("hit rate", "p99 ms", "vector MB", "counter"):
        assert header not in done.stdout, header


@pytest.mark.parametrize("command", ["stats", "info"])
def test_unreachable_server_hint_matches_where_the_url_came_from(command: str) -> None:
    dead = "redis://:pw-Never-Shown@127.0.0.1:1/0"
    done = run_cli("--url", dead, command=command)
    assert done.returncode == 2 and "pw-Never-Shown" not in done.stdout + done.stderr
    assert "--url" in done.stdout and "unset REDIS_URL" not in done.stdout
    done = run_cli(env={**os.environ, "REDIS_URL": dead}, command=command)
    assert done.returncode == 2 and "pw-Never-Shown" not in done.stdout + done.stderr
    assert "unset REDIS_URL" in done.stdout


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"id": "tag", "doc_id": "tag", "text": "text", "vector": "vector", "content_hash": "tag"}, "vector store"),
        ({"llm": "tag", "scope": "tag", "prompt_hash": "tag", "vector": "vector"}, "semantic cache"),
        ({"session": "tag", "role": "tag", "vector": "vector"}, "chat recall"),
        ({"id": "tag", "doc_id": "tag", "text": "text", "vector": "vector"}, "legacy llama-index"),
        ({"text": "text", "embedding": "vector"}, "legacy langchain-redis"),
        ({"title": "text"}, "other"),
    ],
)
def test_index_kinds(fields: dict[str, str], kind: str) -> None:
    assert classify(fields) == kind
