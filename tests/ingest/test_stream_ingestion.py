"""Streaming ingestion against a real Redis: delivery, dedup, atomic replacement, poison events, backpressure."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redis_rag_integrations import Settings, freshness
from redis_rag_integrations.ingest import BackpressureError, Producer, Worker, chunk_id, make_splitter
from redis_rag_integrations.ingest.events import StreamKeys
from redis_rag_integrations.store.index import RedisVectorIndex

sys.path.insert(0, str(Path(__file__).parent))
from fakes import WordsEmbedder

SPLIT = make_splitter(chunk_size=200, chunk_overlap=0)


def paragraphs(doc: str, n: int) -> str:
    """A document whose splitter output is exactly ``n`` chunks (each paragraph < chunk_size, joined > it)."""
    return "\n\n".join(f"{doc} paragraph {i} " + "lorem ipsum dolor sit amet " * 5 for i in range(n))


@pytest.fixture
def index(redis_url: str, unique_name: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(unique_name, dims=32, settings=Settings(redis_url=redis_url))
    yield idx
    idx.drop()
    idx.client.delete(*[k for k in idx.client.scan_iter(match=f"ingest:{{{unique_name}}}:*")] or ["-"])


def make_worker(index: RedisVectorIndex, **kw: object) -> Worker:
    kw.setdefault("embedder", WordsEmbedder())
    kw.setdefault("claim_idle_ms", 200)
    return Worker(index, splitter=SPLIT, batch_size=4, **kw)  # type: ignore[arg-type]


def indexed(index: RedisVectorIndex) -> dict[str, str]:
    """Every record of the index, read key by key (SCAN), not through the search index under test."""
    prefix = f"{index.layout.key_prefix}:"
    ids = [k.decode()[len(prefix) :] for k in index.client.scan_iter(match=f"{prefix}*", count=1000)]
    return {r.id: r.text for r in index.get(ids)}


def expected_chunks(source: dict[str, str]) -> dict[str, str]:
    return {chunk_id(doc, n): chunk for doc, text in source.items() for n, chunk in enumerate(SPLIT(text))}


def test_published_documents_become_searchable_chunks(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    source = {f"doc-{i}": paragraphs(f"doc-{i}", 1 + i % 3) for i in range(10)}
    for doc_id, text in source.items():
        producer.upsert(doc_id, text, {"team": "docs"})
    stats = make_worker(index).run(until_idle=True)
    assert stats.indexed == 10
    assert indexed(index) == expected_chunks(source)
    hit = index.search(WordsEmbedder().embed([source["doc-4"].split("\n\n")[0]])[0], k=1)[0]
    assert hit.record.id == "doc-4#0" and hit.record.doc_id == "doc-4"
    assert hit.record.metadata == {"team": "docs", "chunk": 0}
    assert producer.backlog() == 0


def test_unchanged_document_is_skipped_and_changed_one_leaves_no_leftovers(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("guide", paragraphs("v1", 5))
    embedder = WordsEmbedder()
    make_worker(index, embedder=embedder).run(until_idle=True)
    assert len(indexed(index)) == 5
    calls = embedder.calls

    producer.upsert("guide", paragraphs("v1", 5))  # same content: no embedding, no write
    stats = make_worker(index, embedder=embedder).run(until_idle=True)
    assert stats.skipped_unchanged == 1 and embedder.calls == calls

    producer.upsert("guide", paragraphs("v2", 2))  # fewer chunks: the three extra ones must go
    make_worker(index, embedder=embedder).run(until_idle=True)
    assert indexed(index) == expected_chunks({"guide": paragraphs("v2", 2)})


def test_delete_removes_chunks_and_dependent_cache_entries(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("a", paragraphs("a", 2))
    producer.upsert("b", paragraphs("b", 1))
    make_worker(index).run(until_idle=True)
    cache_key = f"{index.name}:cache-entry"
    index.client.set(cache_key, "an answer built from document a")
    freshness.record_dependencies(index.client, cache_key, ["a"])

    producer.delete("a")
    make_worker(index).run(until_idle=True)
    assert set(indexed(index)) == {"b#0"}
    assert index.client.exists(cache_key) == 0


def test_later_event_wins_within_and_across_batches(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    for version in range(6):
        producer.upsert("doc", paragraphs(f"version{version}", 1))
    producer.delete("gone")
    producer.upsert("gone", paragraphs("gone", 1))
    make_worker(index).run(until_idle=True)
    assert indexed(index) == expected_chunks({"doc": paragraphs("version5", 1), "gone": paragraphs("gone", 1)})


def test_poison_events_are_dead_lettered_and_the_stream_keeps_flowing(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    keys = StreamKeys(index.name)
    index.client.xadd(keys.events, {"op": "upsert", "body": "{not json"})
    index.client.xadd(keys.events, {"unexpected": "shape"})
    producer.upsert("bad", "this text contains POISON and cannot be embedded")
    producer.upsert("good", paragraphs("good", 2))
    worker = make_worker(index, embedder=WordsEmbedder(poison="POISON"), max_retries=3)
    stats = worker.run(until_idle=True)

    assert set(indexed(index)) == {"good#0", "good#1"}
    letters = index.client.xrange(keys.dead_letters)
    assert len(letters) == 3 and stats.dead_lettered == 3
    errors = sorted(fields[b"error"].decode() for _, fields in letters)
    assert any("undecodable" in e for e in errors)
    bad = [f for _, f in letters if b"POISON" in f.get(b"body", b"")]
    assert bad and b"embedding failed" in bad[0][b"error"] and bad[0][b"attempts"] == b"3"
    assert producer.backlog() == 0


def test_backpressure_raises_instead_of_trimming(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client, max_backlog=5, on_backlog="raise")
    for i in range(5):
        producer.upsert(f"d{i}", "text")
    with pytest.raises(BackpressureError, match="5 events behind"):
        producer.upsert("d5", "text")
    assert index.client.xlen(StreamKeys(index.name).events) == 5  # nothing unprocessed was dropped
    make_worker(index).run(until_idle=True)
    producer.upsert("d5", "text")  # workers caught up: publishing flows again
    assert producer.backlog() == 1


def test_waiting_producer_resumes_when_a_worker_catches_up(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client, max_backlog=4, on_backlog="wait", wait_timeout=30)
    worker = make_worker(index)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for i in range(20):
            producer.upsert(f"d{i}", paragraphs(f"d{i}", 1))
    finally:
        while producer.backlog():
            threading.Event().wait(0.05)
        worker.stop()
        thread.join()
    assert len(indexed(index)) == 20


def test_queries_while_ingesting_never_fail(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    source = {f"doc-{i}": paragraphs(f"doc-{i}", 3) for i in range(40)}
    for doc_id, text in source.items():
        producer.upsert(doc_id, text)
    errors: list[BaseException] = []
    done = threading.Event()
    query = WordsEmbedder().embed(["doc-3 paragraph 1 lorem"])[0]

    def reader() -> None:
        while not done.is_set():
            try:
                for hit in index.search(query, k=5):
                    assert hit.record.text
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    make_worker(index).run(until_idle=True)
    for doc_id in list(source)[:10]:  # updates with fewer chunks while readers run
        source[doc_id] = paragraphs(f"{doc_id}-v2", 1)
        producer.upsert(doc_id, source[doc_id])
    make_worker(index).run(until_idle=True)
    done.set()
    for t in threads:
        t.join()
    assert not errors
    assert indexed(index) == expected_chunks(source)


def test_killed_worker_loses_nothing_and_duplicates_nothing(index: RedisVectorIndex, redis_url: str) -> None:
    producer = Producer(index.name, client=index.client)
    source = {f"doc-{i:02d}": paragraphs(f"doc-{i}", 1 + i % 4) for i in range(24)}
    for doc_id, text in source.items():
        producer.upsert(doc_id, text, {"n": doc_id})
    script = Path(__file__).parent / "worker_process.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), redis_url, index.name, "doomed", "0.5"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    batches = 0
    while batches < 3:  # let it write a batch or two, then kill it while it holds a batch in hand
        assert proc.stdout.readline().strip() == "BATCH"
        batches += 1
    proc.kill()
    proc.wait()
    pending = index.client.xpending(StreamKeys(index.name).events, "indexers")
    assert pending["pending"] > 0, "the killed worker should have left events pending"

    survivor = make_worker(index, claim_idle_ms=100)
    survivor.run(until_idle=True)
    assert indexed(index) == expected_chunks(source)
    assert index.count() == len(expected_chunks(source))
    assert index.client.xpending(StreamKeys(index.name).events, "indexers")["pending"] == 0


def test_bad_input_fails_at_the_producer(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    with pytest.raises(ValueError, match="doc_id"):
        producer.upsert("", "text")
    with pytest.raises(TypeError, match="must be a str"):
        producer.upsert("x", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not JSON-serializable"):
        producer.upsert("x", "text", {"when": object()})
    assert index.client.xlen(StreamKeys(index.name).events) == 0
    with pytest.raises(ValueError, match="chunk_overlap"):
        make_splitter(chunk_size=100, chunk_overlap=100)


def test_unreachable_redis_fails_clearly() -> None:
    from redis_rag_integrations.errors import RedisConnectionFailed
    from redis_rag_integrations.server import free_port

    with pytest.raises((RedisConnectionFailed, redis.ConnectionError)):
        Producer("x", redis_url=f"redis://127.0.0.1:{free_port()}/0")


def test_langchain_and_llamaindex_documents_flow_into_one_index(index: RedisVectorIndex) -> None:
    from langchain_core.documents import Document as LCDocument
    from llama_index.core import Document as LIDocument

    from redis_rag_integrations.langchain import publish_documents as publish_lc
    from redis_rag_integrations.llama_index import publish_documents as publish_li

    producer = Producer(index.name, client=index.client)
    publish_lc(producer, [LCDocument(page_content=paragraphs("lc", 2), metadata={"source": "a.md", "year": 2024})])
    publish_li(producer, [LIDocument(text=paragraphs("li", 1), id_="b-doc", metadata={"author": "x"})])
    with pytest.raises(ValueError, match="no id"):
        publish_lc(producer, [LCDocument(page_content="orphan")])
    make_worker(index).run(until_idle=True)
    records = {r.id: r for r in index.get(["a.md#0", "a.md#1", "b-doc#0"])}
    assert set(records) == {"a.md#0", "a.md#1", "b-doc#0"}
    assert records["a.md#1"].metadata == {"source": "a.md", "year": 2024, "chunk": 1}
    assert records["b-doc#0"].doc_id == "b-doc"


def test_cli_ingests_a_folder_inline(unique_name: str, tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_text("# Title\n\nSome markdown text about streams.")
    (tmp_path / "sub" / "b.html").write_text("<html><head><title>t</title><script>x()</script></head>"
                                              "<body><p>Hello <b>HTML</b> world</p></body></html>")  # fmt: skip
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    env = {**__import__("os").environ, "REDIS_URL": redis_url}
    result = subprocess.run(
        [sys.executable, "-m", "redis_rag_integrations", "ingest", str(tmp_path), "--index", unique_name, "--inline"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "published 2 documents" in result.stdout
    index = RedisVectorIndex(unique_name, settings=Settings(redis_url=redis_url))  # dims from the index: 384
    texts = {r.id: r.text for r in index.get(["a.md#0", "sub/b.html#0"])}
    index.drop()
    assert texts["sub/b.html#0"] == "Hello HTML world"
    assert "streams" in texts["a.md#0"]
    bad = subprocess.run([sys.executable, "-m", "redis_rag_integrations", "ingest", str(tmp_path / "nope")],
                         capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert bad.returncode != 0 and "no such file" in (bad.stdout + bad.stderr)
