"""The exact query-vector cache in Redis and the async batcher of the default embedder.

Model calls are counted at the embedder (a counting wrapper around the real model or the plumbing fakes); Redis is
the test server. No timing is asserted: batching is checked by counting model calls and comparing vectors.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest
from fakes import HashEmbedder, WordsEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.batching import Batcher
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.query_embedder import QueryEmbedder
from redis_rag_integrations.query_vector_cache import QueryVectorCache


class Counting:
    """Counts model calls (sync and async) of the wrapped embedder; ``texts`` records each call's batch size."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.model_name = inner.model_name  # type: ignore[attr-defined]
        self.calls = 0
        self.sizes: list[int] = []

    @property
    def dims(self) -> int:
        return self.inner.dims  # type: ignore[attr-defined]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.sizes.append(len(texts))
        return self.inner.embed(texts)  # type: ignore[attr-defined]

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.sizes.append(len(texts))
        return await self.inner.aembed(texts)  # type: ignore[attr-defined]


QUESTIONS = [f"How do I use feature number {i} of the standard library?" for i in range(32)]


# --- the Redis cache ------------------------------------------------------------------------------------------------


@pytest.fixture
def qcache(redis_url: str, unique_name: str):
    cache = QueryVectorCache(redis_url=redis_url, namespace=unique_name, ttl=300, max_entries=3)
    yield cache
    cache.clear()


def test_bounded_with_ttl_and_oldest_evicted_first(qcache: QueryVectorCache, client) -> None:
    embedder = HashEmbedder()
    for i in range(5):
        qcache.put("m", 16, f"q{i}", embedder.embed([f"q{i}"])[0])
    kept = [i for i in range(5) if qcache.get("m", 16, f"q{i}") is not None]
    assert kept == [2, 3, 4]
    assert client.zcard(qcache.order_key) == 3
    assert 0 < client.ttl(qcache.key("m", 16, "q4")) <= 300


def test_a_value_of_the_wrong_size_is_never_served(qcache: QueryVectorCache, client) -> None:
    counting = Counting(HashEmbedder())
    embedder = QueryEmbedder(counting, cache=qcache)
    client.set(qcache.key(counting.model_name, 16, "q"), b"\x01" * 7)  # not 16 float32s
    assert np.array_equal(embedder.embed(["q"])[0], HashEmbedder().embed(["q"])[0])
    assert counting.calls == 1  # recomputed, and stored right
    assert np.array_equal(qcache.get(counting.model_name, 16, "q"), HashEmbedder().embed(["q"])[0])
    assert np.array_equal(embedder.embed(["q"])[0], HashEmbedder().embed(["q"])[0]) and counting.calls == 1


def test_redis_down_means_the_model_answers(unique_name: str) -> None:
    counting = Counting(HashEmbedder())
    cache = QueryVectorCache(redis_url="redis://127.0.0.1:1/0", namespace=unique_name)
    embedder = QueryEmbedder(counting, cache=cache)
    assert np.array_equal(embedder.embed(["q"])[0], HashEmbedder().embed(["q"])[0]) and counting.calls == 1
    assert asyncio.run(embedder.aembed(["q"])).shape == (1, 16) and counting.calls == 2


def test_bad_options_are_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        QueryVectorCache(redis_url=redis_url, namespace="a b")
    with pytest.raises(ValueError, match="ttl"):
        QueryVectorCache(redis_url=redis_url, ttl=0)
    with pytest.raises(ValueError, match="max_entries"):
        QueryVectorCache(redis_url=redis_url, max_entries=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(["m", "m:", ":m", "m2"]), st.text(min_size=0, max_size=40)), min_size=1, max_size=6
    )
)
def test_every_model_and_text_gets_exactly_its_own_vector(redis_url: str, unique_name: str, pairs) -> None:
    """Arbitrary texts (any unicode, separators, empty) and model names that differ by a colon: each pair reads
    back exactly the vector stored for it, never another pair's."""
    cache = QueryVectorCache(redis_url=redis_url, namespace=f"{unique_name}h", max_entries=None)
    try:
        expected = {}
        for i, (model, text) in enumerate(pairs):
            vec = np.full(4, float(i), dtype=np.float32)
            cache.put(model, 4, text, vec)
            expected[(model, text)] = vec
        for (model, text), vec in expected.items():
            assert np.array_equal(cache.get(model, 4, text), vec)
        assert cache.get("other", 4, pairs[0][1]) is None and cache.get(pairs[0][0], 5, pairs[0][1]) is None
    finally:
        cache.clear()


# --- batching -------------------------------------------------------------------------------------------------------


async def test_32_concurrent_questions_share_model_calls_and_get_their_own_vectors(
    local_embedder: LocalEmbedder,
) -> None:
    counting = Counting(local_embedder)
    embedder = QueryEmbedder(counting, batch_window=0.01, max_batch=32)
    await embedder.aembed(["warm up"])
    counting.calls = 0
    results = await asyncio.gather(*(embedder.aembed([q]) for q in QUESTIONS))
    assert counting.calls <= 4, counting.sizes  # one model call per batch, not one per question
    alone = np.stack([local_embedder.embed([q])[0] for q in QUESTIONS])
    got = np.stack([r[0] for r in results])
    assert got.shape == (32, 384) and np.allclose(got, alone, atol=2e-5)
    assert (np.argmax(got @ alone.T, axis=1) == np.arange(32)).all()  # each caller got its own question's vector


def test_the_sync_path_is_one_call_per_call() -> None:
    counting = Counting(HashEmbedder())
    embedder = QueryEmbedder(counting)
    for q in QUESTIONS[:5]:
        embedder.embed([q])
    assert counting.calls == 5 and counting.sizes == [1] * 5


async def test_an_error_reaches_every_waiter_of_its_batch_and_no_one_else() -> None:
    batcher = Batcher(WordsEmbedder(poison="boom"), window=0.05, max_batch=8)
    outcomes = await asyncio.gather(
        batcher.embed(["fine one"]), batcher.embed(["boom here"]), batcher.embed(["fine two"]), return_exceptions=True
    )
    assert all(isinstance(o, RuntimeError) and "boom" in str(o) for o in outcomes)
    after = await asyncio.gather(batcher.embed(["fine one"]), batcher.embed(["fine two"]))
    assert np.array_equal(after[0][0], WordsEmbedder().embed(["fine one"])[0]) and batcher.calls == 2


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    batcher = Batcher(WordsEmbedder(delay=0.05), window=0.02, max_batch=8)
    gone = asyncio.ensure_future(batcher.embed(["leaves early"]))
    stays = asyncio.ensure_future(batcher.embed(["stays"]))
    await asyncio.sleep(0)
    gone.cancel()
    assert np.array_equal((await stays)[0], WordsEmbedder().embed(["stays"])[0])
    assert gone.cancelled()


async def test_batches_never_exceed_max_batch() -> None:
    counting = Counting(WordsEmbedder(delay=0.02))
    batcher = Batcher(counting, window=0.005, max_batch=5)
    texts = [f"text {i}" for i in range(23)]
    results = await asyncio.gather(*(batcher.embed([t]) for t in texts))
    assert max(counting.sizes) <= 5 and sum(counting.sizes) == 23
    assert all(np.array_equal(r[0], WordsEmbedder().embed([t])[0]) for r, t in zip(results, texts, strict=True))


def test_one_embedder_on_many_event_loops_and_threads() -> None:
    """A batcher per loop: sequential asyncio.run calls and loops in threads all work with one embedder."""
    counting = Counting(HashEmbedder())
    embedder = QueryEmbedder(counting, batch_window=0.005)

    async def ask(n: int) -> list[np.ndarray]:
        return [r[0] for r in await asyncio.gather(*(embedder.aembed([f"q{n}-{i}"]) for i in range(4)))]

    first = asyncio.run(ask(0))
    second = asyncio.run(ask(0))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    out: dict[int, list[np.ndarray]] = {}
    threads = [threading.Thread(target=lambda n=n: out.__setitem__(n, asyncio.run(ask(n)))) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(3):
        assert all(np.array_equal(v, HashEmbedder().embed([f"q{n}-{i}"])[0]) for i, v in enumerate(out[n]))


# --- the default routing ----------------------------------------------------------------------------------------------


def test_default_questions_go_to_int8_and_documents_to_float32(local_embedder: LocalEmbedder) -> None:
    """query_embedding_model='auto' (the default): with the int8 extra installed, one short text is a question for
    the int8 model; batches and long texts stay with the float32 model. 'same' keeps every text on float32."""
    from redis_rag_integrations import Settings
    from redis_rag_integrations.embeddings import default_embedder
    from redis_rag_integrations.onnx_embedder import OnnxEmbedder

    settings = Settings(query_vector_cache=False)
    routed = default_embedder(settings)
    assert isinstance(routed, QueryEmbedder) and isinstance(routed.queries, OnnxEmbedder)
    assert isinstance(routed.documents, LocalEmbedder)
    question = "How do I open a file?"
    fast = routed.embed([question])[0]
    exact = local_embedder.embed([question])[0]
    assert not np.array_equal(fast, exact) and float(fast @ exact) > 0.999
    docs = ["Use open() with a mode.", "Files close at the end of a with block."]
    assert np.allclose(routed.embed(docs), local_embedder.embed(docs), atol=1e-5)
    same = default_embedder(settings.model_copy(update={"query_embedding_model": "same"}))
    assert same.queries is same.documents


async def test_with_no_window_callers_of_one_loop_turn_and_those_waiting_share_calls() -> None:
    """The default (window 0): an idle model starts on the next loop turn, with every caller of this turn; callers
    that come while it runs share the following call."""
    counting = Counting(WordsEmbedder(delay=0.05))
    embedder = QueryEmbedder(counting, max_batch=64)
    first = [asyncio.ensure_future(embedder.aembed([f"q {i}"])) for i in range(10)]
    await asyncio.sleep(0.01)  # the first call runs now
    later = [asyncio.ensure_future(embedder.aembed([f"r {i}"])) for i in range(10)]
    results = await asyncio.gather(*first, *later)
    assert counting.sizes == [10, 10]
    texts = [f"q {i}" for i in range(10)] + [f"r {i}" for i in range(10)]
    assert all(np.array_equal(r[0], WordsEmbedder().embed([t])[0]) for r, t in zip(results, texts, strict=True))


def test_with_no_url_the_cache_waits_for_a_local_server_and_never_starts_one(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No REDIS_URL: off while no local server runs (none is started for it), on once one runs (an application's
    vector store starts it after the first embedding, the dimension probe)."""
    from redis_rag_integrations import Settings, local_server, query_vector_cache

    monkeypatch.setattr(query_vector_cache, "_RECHECK", 0.0)
    settings = Settings(redis_url=None, data_dir=tmp_path / "data")
    counting = Counting(HashEmbedder())
    embedder = QueryEmbedder(counting, cache=QueryVectorCache(settings=settings, namespace="qv-local"))
    embedder.embed(["q"])
    embedder.embed(["q"])
    assert counting.calls == 2 and local_server.status(tmp_path / "data") is None  # off, nothing started
    local_server.ensure(tmp_path / "data", idle_timeout=60)
    try:
        embedder.embed(["q"])
        embedder.embed(["q"])
        assert counting.calls == 3  # stored once the server was there, then served from it
    finally:
        local_server.stop(tmp_path / "data")


# --- documents never take the question path -------------------------------------------------------------------------


def _split_embedder(qcache: QueryVectorCache) -> tuple[QueryEmbedder, Counting, Counting]:
    documents, queries = Counting(HashEmbedder()), Counting(HashEmbedder())
    queries.model_name = "query-model"
    return QueryEmbedder(documents, queries, cache=qcache), documents, queries


async def test_a_one_chunk_document_is_embedded_by_the_document_model(qcache: QueryVectorCache, client) -> None:
    """A short single document looks like a question to ``embed``; every document path must still use the document
    model and leave the query-vector cache alone (an index holds one model's vectors)."""
    from redis_rag_integrations.langchain.embeddings import RagEmbeddings
    from redis_rag_integrations.llama_index.embeddings import RagEmbedding

    embedder, documents, queries = _split_embedder(qcache)
    RagEmbeddings(embedder).embed_documents(["short doc"])
    await RagEmbeddings(embedder).aembed_documents(["short doc"])
    llama = RagEmbedding(embedder=embedder)
    llama.get_text_embedding("short doc")
    await llama.aget_text_embedding_batch(["short doc"])
    assert (documents.calls, queries.calls) == (4, 0)
    assert client.zcard(qcache.order_key) == 0  # nothing cached as a question
    RagEmbeddings(embedder).embed_query("short doc")  # the question path is unchanged
    assert (documents.calls, queries.calls) == (4, 1)
