"""Streaming ingestion into a vector-set index: the worker drives ``backend="vectorset"`` unchanged."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_rag_integrations import Settings, freshness
from redis_rag_integrations.ingest import Producer, Worker, chunk_id, make_splitter
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.store.vectorset import VectorSetIndex

sys.path.insert(0, str(Path(__file__).parent))
from fakes import WordsEmbedder

SPLIT = make_splitter(chunk_size=200, chunk_overlap=0)


def paragraphs(doc: str, n: int) -> str:
    return "\n\n".join(f"{doc} paragraph {i} " + "lorem ipsum dolor sit amet " * 5 for i in range(n))


@pytest.fixture
def index(redis_url: str, unique_name: str) -> Iterator[VectorSetIndex]:
    idx = RedisVectorIndex(unique_name, dims=32, settings=Settings(redis_url=redis_url), backend="vectorset")
    assert isinstance(idx, VectorSetIndex)
    yield idx
    idx.drop()
    idx.client.delete(*[k for k in idx.client.scan_iter(match=f"ingest:{{{unique_name}}}:*")] or ["-"])


def run_worker(index: VectorSetIndex, **kw: object) -> object:
    kw.setdefault("embedder", WordsEmbedder())
    return Worker(index, splitter=SPLIT, batch_size=4, claim_idle_ms=200, **kw).run(until_idle=True)  # type: ignore[arg-type]


def indexed(index: VectorSetIndex) -> dict[str, str]:
    """Every element of the set (VRANDMEMBER with a count above the size returns each once), read back whole."""
    ids = [e.decode() for e in index.client.execute_command("VRANDMEMBER", index.keys.vset, 100_000) or []]
    return {r.id: r.text for r in index.get(ids)}


def expected(source: dict[str, str]) -> dict[str, str]:
    return {chunk_id(doc, n): chunk for doc, text in source.items() for n, chunk in enumerate(SPLIT(text))}


def test_documents_become_searchable_chunks_and_replays_are_skipped(index: VectorSetIndex) -> None:
    producer = Producer(index.name, client=index.client)
    source = {f"doc-{i}": paragraphs(f"doc-{i}", 1 + i % 3) for i in range(6)}
    for doc_id, text in source.items():
        producer.upsert(doc_id, text, {"team": "docs"})
    embedder = WordsEmbedder()
    stats = run_worker(index, embedder=embedder)
    assert stats.indexed == 6 and indexed(index) == expected(source)  # type: ignore[attr-defined]
    hit = index.search(WordsEmbedder().embed([source["doc-4"].split("\n\n")[0]])[0], k=1)[0]
    assert (hit.record.id, hit.record.doc_id, hit.record.metadata) == ("doc-4#0", "doc-4", {"team": "docs", "chunk": 0})
    calls = embedder.calls
    producer.upsert("doc-1", source["doc-1"], {"team": "docs"})  # same content: advanced, not embedded
    assert run_worker(index, embedder=embedder).skipped_unchanged == 1 and embedder.calls == calls  # type: ignore[attr-defined]


def test_a_shorter_version_leaves_no_leftovers_and_the_later_event_wins(index: VectorSetIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("guide", paragraphs("v1", 5))
    run_worker(index)
    for version in range(2, 5):
        producer.upsert("guide", paragraphs(f"v{version}", 2))
    run_worker(index)
    assert indexed(index) == expected({"guide": paragraphs("v4", 2)})


def test_delete_removes_chunks_and_dependent_cache_entries(index: VectorSetIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("a", paragraphs("a", 2))
    producer.upsert("b", paragraphs("b", 1))
    run_worker(index)
    cache_key = f"{index.name}:cache-entry"
    index.client.set(cache_key, "an answer built from document a")
    freshness.record_dependencies(index.client, cache_key, ["a"])
    producer.delete("a")
    run_worker(index)
    assert set(indexed(index)) == {"b#0"}
    assert index.client.exists(cache_key) == 0
