"""Versioned document writes against a real Redis: an older version never overwrites a newer one, in any order.

Direct calls of ``RedisVectorIndex.replace_document`` / ``delete_document`` / ``advance_document`` first, then the
worker races that broke the stream ingestion before: a reclaimed older event written after a newer one was applied.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from redis_rag_integrations import Settings, freshness
from redis_rag_integrations.ingest import Producer, Worker, chunk_id
from redis_rag_integrations.ingest.events import StreamKeys
from redis_rag_integrations.ingest.producer import GROUP
from redis_rag_integrations.store.executor import apply
from redis_rag_integrations.store.index import LayoutMismatchError, RedisVectorIndex
from redis_rag_integrations.store.layout import Record
from redis_rag_integrations.store.versioned import CrossSlotDocumentError, Target, record_key, write_steps

sys.path.insert(0, str(Path(__file__).parent))
from chaos import indexed_texts, split_paragraphs
from fakes import WordsEmbedder

DIMS = 32


@pytest.fixture
def index(redis_url: str, unique_name: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(unique_name, dims=DIMS, settings=Settings(redis_url=redis_url))
    yield idx
    idx.drop()
    for pattern in (f"ingest:{{{unique_name}}}:*", f"{idx.layout.key_prefix}~doc:*"):
        idx.client.delete(*idx.client.scan_iter(match=pattern), "-")


def chunks(doc_id: str, label: str, n: int) -> list[Record]:
    texts = [f"{doc_id} {label} chunk {i}" for i in range(n)]
    vectors = WordsEmbedder(DIMS).embed(texts)
    return [Record(chunk_id(doc_id, i), t, vectors[i], {"chunk": i}, doc_id=doc_id) for i, t in enumerate(texts)]


def texts_of(records: list[Record]) -> dict[str, str]:
    return {r.id: r.text for r in records}


def test_an_older_version_is_refused_after_a_newer_one(index: RedisVectorIndex) -> None:
    # "9-5" > "10-0" as strings: the versions must compare as two integers
    assert index.replace_document("d", chunks("d", "v10", 2), version="10-0").status == "applied"
    older = index.replace_document("d", chunks("d", "v9", 3), version="9-5")
    assert older.status == "stale" and older.previous == "10-0"
    assert indexed_texts(index) == texts_of(chunks("d", "v10", 2))
    assert index.document_states(["d", "nobody"])["d"].version == "10-0"


def test_a_delete_leaves_a_tombstone_that_refuses_an_older_upsert(index: RedisVectorIndex) -> None:
    index.replace_document("d", chunks("d", "v1", 3), version="1-0")
    assert index.delete_document("d", version="3-0", tombstone_ttl=600).removed == 3
    assert index.replace_document("d", chunks("d", "v2", 2), version="2-0").status == "stale"
    assert indexed_texts(index) == {}
    assert index.document_states(["d"])["d"].deleted
    assert 0 < index.client.ttl(record_key(index.layout, "d")) <= 600
    # a delete of a document never seen still leaves its tombstone
    assert index.delete_document("never", version="5-0").applied
    assert index.replace_document("never", chunks("never", "v4", 1), version="4-0").status == "stale"
    # a newer upsert revives the document, and its record loses the tombstone's TTL
    assert index.replace_document("d", chunks("d", "v4", 1), version="4-0").applied
    assert indexed_texts(index) == texts_of(chunks("d", "v4", 1))
    assert index.client.ttl(record_key(index.layout, "d")) == -1


def test_shrinking_removes_every_old_chunk_even_those_written_before_versioning(index: RedisVectorIndex) -> None:
    index.upsert(chunks("d", "plain", 5))  # no version record: found through the index
    result = index.replace_document("d", chunks("d", "v1", 2), version="1-0")
    assert result.removed == 3
    assert indexed_texts(index) == texts_of(chunks("d", "v1", 2))
    index.replace_document("d", chunks("d", "v2", 1), version="2-0")
    assert indexed_texts(index) == texts_of(chunks("d", "v2", 1))
    assert index.count() == 1


def test_a_replay_of_the_applied_version_is_reported_as_current(index: RedisVectorIndex) -> None:
    index.replace_document("d", chunks("d", "v1", 2), version="7-3")
    assert index.replace_document("d", chunks("d", "v1", 2), version="7-3").status == "current"
    assert index.delete_document("d", version="7-3").status == "current"
    assert indexed_texts(index) == texts_of(chunks("d", "v1", 2))


def test_unchanged_content_moves_the_version_on_without_writing(index: RedisVectorIndex) -> None:
    index.replace_document("d", chunks("d", "v1", 2), version="1-0", content_hash="h1")
    assert index.advance_document("d", "other", version="2-0").status == "changed"
    assert index.advance_document("d", "h1", version="3-0").status == "unchanged"
    assert index.delete_document("d", version="2-0").status == "stale"  # the advance protects it
    assert indexed_texts(index) == texts_of(chunks("d", "v1", 2))


def test_records_go_through_the_index_checks(index: RedisVectorIndex) -> None:
    twice = chunks("d", "v1", 1) * 2
    with pytest.raises(ValueError, match="appears twice"):
        index.replace_document("d", twice, version="1-0")
    with pytest.raises(ValueError, match="belongs to"):
        index.replace_document("other", chunks("d", "v1", 1), version="1-0")
    bad = Record("d#0", "text", np.zeros(DIMS + 1, dtype=np.float32), doc_id="d")
    with pytest.raises(ValueError, match="dimensions"):
        index.replace_document("d", [bad], version="1-0")
    with pytest.raises(ValueError, match="stream entry id"):
        index.delete_document("d", version="v1")
    index.upsert([Record("taken", "owned by e", np.ones(DIMS, dtype=np.float32), doc_id="e")])
    with pytest.raises(Exception, match="belongs to document"):
        index.replace_document("d", [Record("taken", "x", np.ones(DIMS, dtype=np.float32), doc_id="d")], version=1)
    assert index.document_states(["d", "other"]) == {}
    assert set(indexed_texts(index)) == {"taken"}


def test_a_legacy_index_is_read_only_for_versioned_writes(redis_url: str, unique_name: str) -> None:
    settings = Settings(redis_url=redis_url)
    raw = redis.Redis.from_url(redis_url)
    raw.execute_command(
        "FT.CREATE", unique_name, "ON", "HASH", "PREFIX", 1, f"{unique_name}:", "SCHEMA", "text", "TEXT",
        "embedding", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", DIMS, "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip
    try:
        legacy = RedisVectorIndex(unique_name, dims=DIMS, settings=settings)
        with pytest.raises(LayoutMismatchError, match="read-only"):
            legacy.replace_document("d", chunks("d", "v1", 1), version="1-0")
        with pytest.raises(LayoutMismatchError, match="read-only"):
            legacy.delete_document("d", version="1-0")
        assert raw.exists(record_key(legacy.layout, "d")) == 0
    finally:
        raw.execute_command("FT.DROPINDEX", unique_name)
        raw.close()


def test_changing_or_deleting_a_document_drops_cache_entries_built_from_it(index: RedisVectorIndex) -> None:
    entry = f"{index.name}:cache-entry"
    index.replace_document("d", chunks("d", "v1", 2), version="1-0")
    index.client.set(entry, "answer")
    freshness.record_dependencies(index.client, entry, ["d"])
    index.replace_document("d", chunks("d", "v0", 2), version="0-9")  # refused: the answer stays good
    assert index.client.exists(entry) == 1
    index.replace_document("d", chunks("d", "v2", 1), version="2-0")
    assert index.client.exists(entry) == 0
    index.client.set(entry, "answer")
    freshness.record_dependencies(index.client, entry, ["d#0"])
    index.delete_document("d", version="3-0")
    assert index.client.exists(entry) == 0


async def test_async_twins_apply_the_same_rules(index: RedisVectorIndex) -> None:
    assert (await index.areplace_document("d", chunks("d", "v2", 2), version="2-0")).applied
    assert (await index.areplace_document("d", chunks("d", "v1", 3), version="1-0")).status == "stale"
    assert (await index.aadvance_document("d", "nope", version="3-0")).status == "changed"
    assert (await index.adelete_document("d", version="4-0")).removed == 2
    assert (await index.adocument_states(["d"]))["d"].deleted
    assert indexed_texts(index) == {}
    await index.aclose()


def test_on_a_cluster_a_documents_keys_must_share_a_slot(redis_url: str, unique_name: str) -> None:
    """Cluster rules, run on the standalone server: the script only when every key of the document hashes to one
    slot (a hash-tagged prefix, which this search build needs anyway), else an error and nothing written; the cache
    invalidation is left to the caller (the ids come back)."""
    settings = Settings(redis_url=redis_url)
    tagged = RedisVectorIndex(f"{unique_name}t", dims=DIMS, prefix=f"{{{unique_name}}}:docs", settings=settings)
    plain = RedisVectorIndex(f"{unique_name}p", dims=DIMS, settings=settings)
    try:
        for idx in (tagged, plain):
            checked = [(idx.layout.key(r.id), idx.layout.check(r)) for r in chunks("d", "v1", 3)]
            steps = write_steps(Target(idx.layout, idx.name, True, True), "d", "upsert", "1-0", checked)
            if idx is plain:
                with pytest.raises(CrossSlotDocumentError, match="hash tag"):
                    apply(idx.client, steps)
                assert indexed_texts(idx) == {}
            else:
                result = apply(idx.client, steps)
                assert result.applied and set(result.invalidate) == {"d", "d#0", "d#1", "d#2"}
                assert indexed_texts(idx) == texts_of(chunks("d", "v1", 3))
    finally:
        for idx in (tagged, plain):
            idx.drop()
            idx.client.delete(record_key(idx.layout, "d"))


@pytest.mark.parametrize("seed", range(6))
def test_any_application_order_ends_at_the_newest_version(index: RedisVectorIndex, seed: int) -> None:
    """Random upserts (growing and shrinking), deletes and replays of a few documents, applied in a random order:
    the index holds exactly the newest version of each."""
    rng = random.Random(seed)
    docs = [f"doc{i}" for i in range(4)]
    ops: list[tuple[int, str, int | None]] = []  # (version, doc, chunk count or None for a delete)
    for version in range(1, 41):
        ops.append((version, rng.choice(docs), None if rng.random() < 0.25 else rng.randint(0, 6)))
    order = ops + rng.sample(ops, 10)  # replays of some events
    rng.shuffle(order)
    for version, doc, n in order:
        if n is None:
            index.delete_document(doc, version=version)
        else:
            index.replace_document(doc, chunks(doc, f"v{version}", n), version=version)
    newest = {doc: (version, n) for version, doc, n in sorted(ops)}  # the last op of each document wins
    want: dict[str, str] = {}
    for doc, (version, n) in newest.items():
        want |= texts_of(chunks(doc, f"v{version}", n)) if n is not None else {}
    assert indexed_texts(index) == want


# --------------------------------------------------------------------------------- worker races, made deterministic


class HookEmbedder(WordsEmbedder):
    """Runs ``hook`` (once) while embedding: between the worker's version check and its write."""

    def __init__(self, hook: Callable[[], object]) -> None:
        super().__init__(DIMS)
        self.hook: Callable[[], object] | None = hook

    def embed(self, texts):  # type: ignore[no-untyped-def]
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return super().embed(texts)


def worker(index: RedisVectorIndex, consumer: str, embedder: WordsEmbedder | None = None) -> Worker:
    return Worker(index, embedder or WordsEmbedder(DIMS), splitter=split_paragraphs, consumer=consumer,
                  batch_size=4, claim_idle_ms=100)  # fmt: skip


def doc(label: str, n: int) -> str:
    return "\n\n".join(f"{label} paragraph {i}" for i in range(n))


def expected(source: dict[str, str]) -> dict[str, str]:
    return {chunk_id(d, n): c for d, text in source.items() for n, c in enumerate(split_paragraphs(text))}


def reclaim_after_newer(index: RedisVectorIndex, taken: int) -> None:
    """The first ``taken`` events were read by a consumer that died; a slow worker reclaims them, and while it
    embeds, a fast worker applies the newer events; then the slow one writes."""
    fast = worker(index, "fast")
    slow = worker(index, "slow", HookEmbedder(fast.process_once))
    time.sleep(0.15)  # past claim_idle_ms
    assert slow.process_once() == taken
    fast.process_once()
    assert index.client.xpending(StreamKeys(index.name).events, GROUP)["pending"] == 0


def take(index: RedisVectorIndex, count: int) -> None:
    index.client.xreadgroup(GROUP, "dead", {StreamKeys(index.name).events: ">"}, count=count)


def test_a_reclaimed_older_upsert_written_after_a_newer_one_is_refused(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("d", doc("old", 3))
    take(index, 1)
    producer.upsert("d", doc("new", 1))
    reclaim_after_newer(index, 1)
    assert indexed_texts(index) == expected({"d": doc("new", 1)})


def test_a_reclaimed_delete_written_after_a_newer_upsert_is_refused(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("d", doc("first", 2))
    worker(index, "first").process_once()
    producer.delete("d")
    producer.upsert("e", doc("e", 1))
    take(index, 2)
    producer.upsert("d", doc("new", 1))
    reclaim_after_newer(index, 2)
    assert indexed_texts(index) == expected({"d": doc("new", 1), "e": doc("e", 1)})


def test_a_reclaimed_older_upsert_written_after_a_newer_delete_is_refused(index: RedisVectorIndex) -> None:
    producer = Producer(index.name, client=index.client)
    producer.upsert("d", doc("old", 2))
    take(index, 1)
    producer.delete("d")
    reclaim_after_newer(index, 1)
    assert indexed_texts(index) == {}


async def test_clear_and_drop_forget_the_documents_versions(index: RedisVectorIndex) -> None:
    """A cleared or re-created index takes versions from the start again (left-over records refused them)."""
    assert index.replace_document("d*[1]", chunks("d*[1]", "v5", 2), version="5-0").applied
    index.clear()
    assert index.replace_document("d*[1]", chunks("d*[1]", "v1", 1), version="1-0").applied
    await index.aclear()
    assert (await index.areplace_document("d*[1]", chunks("d*[1]", "v1", 1), version="1-0")).applied
    index.drop()
    again = RedisVectorIndex(index.name, dims=DIMS, settings=index.settings)
    assert again.replace_document("d*[1]", chunks("d*[1]", "v1", 1), version="1-0").applied
