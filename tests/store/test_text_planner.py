"""Text and hybrid search through our own planner (:mod:`redis_rag_integrations.store.text`, ``.hybrid``).

The previous implementation (redisvl ``TextQuery`` run through redis-py's ``ft().search``, hybrid as a KNN search
then a text search fused from fully decoded hits) is kept below as the reference: the new path must send the same
query and return the same hits, scores and records, with filters drawn by hypothesis. Then: a hybrid search is one
round trip to the server (counted by the server itself), and a filter through the text planner is exact.
"""

from __future__ import annotations

import asyncio
import re
import string
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redisvl.query import TextQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.store import Hit, Record, RedisVectorIndex
from redis_rag_integrations.store.filters import compile_filter
from redis_rag_integrations.store.layout import TEXT, Layout
from redis_rag_integrations.store.ranking import relative_score_fuse, rrf_fuse
from redis_rag_integrations.store.stopwords import QUESTION_STOPWORDS, REDIS_STOPWORDS, UNPARSEABLE
from redis_rag_integrations.store.text import TextPlanner, query_words

FIELDS = {"tag": "tag", "num": "numeric", "body": "text"}
WORDS = ["redis", "keeps", "data", "memory", "disk", "python", "list", "sort", "copy", "file", "the", "how"]
TAGS = ["faq", "guide", "a b", "~x", "a,b", "日本", "", "@a:{b}"]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def old_text_query(layout: Layout, text: str, k: int, flt: Any) -> TextQuery:
    """The previous ``store.query.text_query``, verbatim in behaviour but for one fix: a lone ``_`` (a syntax error
    in the engine's parser) is dropped: the reference of the new planner."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text search needs a non-empty query string")
    words = [w for w in re.findall(r"\w+", text) if w.lower() not in REDIS_STOPWORDS and w not in UNPARSEABLE]
    if not words:
        raise ValueError(f"text search query {text!r} has no words")
    words = [w for w in words if w.lower() not in QUESTION_STOPWORDS] or words
    return TextQuery(
        " ".join(words),
        TEXT,
        filter_expression=compile_filter(layout, flt),
        return_fields=layout.returned_fields,
        num_results=k,
        stopwords=None,
    )


def old_text_search(index: RedisVectorIndex, text: str, k: int, flt: Any) -> list[Hit]:
    query = old_text_query(index.layout, text, k, flt)
    result = index.client.ft(index.name).search(query, query_params=query.params)
    return [_old_hit(index.layout, doc.__dict__) for doc in result.docs]


def _old_hit(layout: Layout, row: dict[str, Any]) -> Hit:
    """A redis-py ``Document`` row as the removed ``store.query.hits_from_results`` read it (BM25 ``score``)."""
    fields = {k: v for k, v in row.items() if k not in ("id", "payload")}
    score = float(row.get("score", 0.0))
    return Hit(record=layout.read(str(row["id"]), fields), distance=-score, score=score)


def old_hybrid_search(
    index: RedisVectorIndex, text: str, vector: np.ndarray, k: int, flt: Any, alpha: float, fusion: str
) -> list[Hit]:
    n = max(2 * k, 20)  # the default fetch_k (store.hybrid.default_fetch_k)
    rankings = [index.search(vector, n, flt), old_text_search(index, text, n, flt)]
    fuse = rrf_fuse if fusion == "rrf" else relative_score_fuse
    return fuse(rankings, k, [alpha, 1 - alpha])


def _vector(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    v = rng.normal(size=8).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def corpus(redis_url: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(
        f"t{uuid.uuid4().hex[:12]}", dims=8, metadata_fields=FIELDS, settings=Settings(redis_url=redis_url)
    )
    rng = np.random.default_rng(7)
    records = []
    for i in range(60):
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12))))
        meta = {"tag": TAGS[i % len(TAGS)], "num": int(i % 10), "body": f"w{i % 3}", "n": i}
        extra = {"k": i} if i % 4 == 0 else None
        records.append(Record(f"r{i}", f"{words}.", _vector(i), meta, f"doc{i % 5}" if i % 2 else None, extra))
    idx.upsert(records)
    yield idx
    idx.drop()
    idx.close()


filters = st.one_of(
    st.none(),
    st.builds(lambda t: {"tag": t}, st.sampled_from(TAGS)),
    st.builds(lambda lo, hi: {"num": {"$gte": lo, "$lt": hi}}, st.integers(0, 9), st.integers(0, 10)),
    st.builds(lambda t, n: {"$or": [{"tag": t}, {"num": {"$ne": n}}]}, st.sampled_from(TAGS), st.integers(0, 9)),
    st.builds(lambda w: {"body": {"$match": w}}, st.sampled_from(["w0", "w1", "w2"])),
)
questions = st.lists(st.sampled_from([*WORDS, "Redis?", "DATA,", "is", "what"]), min_size=1, max_size=5).map(" ".join)


def _same(new: list[Hit], old: list[Hit]) -> None:
    assert [(h.record.id, h.score, h.distance) for h in new] == [(h.record.id, h.score, h.distance) for h in old]
    for a, b in zip(new, old, strict=True):
        assert (a.record.text, a.record.metadata, a.record.doc_id, a.record.extra) == (
            b.record.text,
            b.record.metadata,
            b.record.doc_id,
            b.record.extra,
        )


@given(text=st.text(max_size=30), flt=filters, k=st.integers(1, 50))
@settings(max_examples=300, deadline=None)
def test_the_query_is_the_one_text_query_sent(text: str, flt: Any, k: int) -> None:
    """Same query string as redisvl's TextQuery (its lowercasing and escaping included), same options."""
    layout = Layout("ix", dims=8, metadata_fields=FIELDS)
    try:
        old = old_text_query(layout, text, k, flt)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            TextPlanner(layout).command(text, flt, k)
        return
    cmd = TextPlanner(layout).command(text, flt, k)
    assert cmd[:3] == ("FT.SEARCH", "ix", old.query_string())
    args = old.get_args()
    assert cmd[3:] == ("SCORER", "BM25STD", "WITHSCORES", *args[args.index("RETURN") : args.index("DIALECT")],
                       "LIMIT", 0, k, "DIALECT", 2)  # fmt: skip
    assert args[args.index("SCORER") + 1] == "BM25STD" and args[-3:] == ["LIMIT", 0, k]


def test_query_words_keep_todays_stopword_rules() -> None:
    assert query_words("How do I copy a file?") == ["copy", "file"]
    assert query_words("what is it about") == ["what", "about"]  # only question words left: kept
    with pytest.raises(ValueError, match="has no words"):
        query_words("on the")
    with pytest.raises(ValueError, match="non-empty"):
        query_words("  ")


@given(text=questions, flt=filters, k=st.integers(1, 30))
@FAST
def test_text_search_returns_what_the_redisvl_query_returned(
    corpus: RedisVectorIndex, text: str, flt: Any, k: int
) -> None:
    try:
        old = old_text_search(corpus, text, k, flt)
    except ValueError:
        with pytest.raises(ValueError):
            corpus.text_search(text, k, flt)
        return
    _same(corpus.text_search(text, k, flt), old)
    _same(asyncio.run(corpus.atext_search(text, k, flt)), old)


@given(
    text=questions,
    flt=filters,
    k=st.integers(1, 8),
    seed=st.integers(0, 1000),
    alpha=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    fusion=st.sampled_from(["relative_score", "rrf"]),
)
@FAST
def test_hybrid_search_returns_what_two_searches_and_fusion_returned(
    corpus: RedisVectorIndex, text: str, flt: Any, k: int, seed: int, alpha: float, fusion: Any
) -> None:
    vector = _vector(10_000 + seed)
    try:
        old = old_hybrid_search(corpus, text, vector, k, flt, alpha, fusion)
    except ValueError:
        with pytest.raises(ValueError):
            corpus.hybrid_search(text, vector, k, flt, alpha=alpha, fusion=fusion)
        return
    _same(corpus.hybrid_search(text, vector, k, flt, alpha=alpha, fusion=fusion), old)
    _same(asyncio.run(corpus.ahybrid_search(text, vector, k, flt, alpha=alpha, fusion=fusion)), old)


def _io(client: redis.Redis) -> tuple[int, int, int]:
    """Reads and writes the server has processed (every client), and FT.SEARCH calls so far."""
    stats = client.info("stats")
    calls = client.info("commandstats").get("cmdstat_FT.SEARCH", {}).get("calls", 0)
    return stats["total_reads_processed"], stats["total_writes_processed"], calls


def _delta(client: redis.Redis, action: Any) -> tuple[int, int, int]:
    """The fewest reads / writes (and the FT.SEARCH calls) one run of ``action`` cost the server, over 5 runs:
    another client of the shared server can only add, so the minimum is the action's own cost (plus the INFO
    calls, the same for every action)."""
    best = None
    for _ in range(5):
        before = _io(client)
        action()
        after = _io(client)
        delta = [a - b for a, b in zip(after, before, strict=True)]
        best = delta if best is None else [min(x, y) for x, y in zip(best, delta, strict=True)]
    assert best is not None
    return best[0], best[1], best[2]


def test_hybrid_search_is_one_round_trip(corpus: RedisVectorIndex, client: redis.Redis) -> None:
    vector = _vector(3)
    corpus.hybrid_search("redis data", vector, k=3)  # connections made
    asyncio.run(corpus.ahybrid_search("redis data", vector, k=3))
    ping = _delta(client, corpus.client.ping)
    hybrid = _delta(client, lambda: corpus.hybrid_search("redis data", vector, k=3, filter={"tag": "faq"}))
    two = _delta(client, lambda: (corpus.search(vector, 3), corpus.text_search("redis data", 3)))
    # a PING is one read and one write; so is the hybrid search, which runs both searches
    assert hybrid[:2] == ping[:2] and hybrid[2] - ping[2] == 2
    assert two[:2] == (ping[0] + 1, ping[1] + 1)  # the counter sees a second round trip

    # async: the pipeline is awaited on the loop, the server counts from a second client
    counts: list[tuple[int, int, int]] = []

    async def measure() -> None:
        for _ in range(5):
            before = _io(client)
            await corpus.ahybrid_search("redis data", vector, k=3)
            counts.append(tuple(a - b for a, b in zip(_io(client), before, strict=True)))  # type: ignore[arg-type]

    asyncio.run(measure())
    assert tuple(min(c[i] for c in counts) for i in range(3)) == (ping[0], ping[1], ping[2] + 2)


@given(value=st.one_of(st.sampled_from(TAGS), st.text(alphabet=string.printable, max_size=5), st.text(max_size=4)))
@FAST
def test_text_planner_filters_are_exact(corpus: RedisVectorIndex, value: str) -> None:
    """A tag filter through the BM25 planner finds exactly the records holding that value, for any string."""
    want = sorted(f"r{i}" for i in range(60) if TAGS[i % len(TAGS)] == value)
    query = " ".join(WORDS)
    got = sorted(h.record.id for h in corpus.text_search(query, k=100, filter={"tag": value}))
    assert got == [i for i in want if i in {h.record.id for h in corpus.text_search(query, k=100)}]
    fused = corpus.hybrid_search(query, _vector(1), k=100, filter={"tag": value}, fetch_k=100)
    assert sorted(h.record.id for h in fused) == want


def test_text_planner_follows_a_field_added_later(make_index: Any) -> None:
    """A field declared by a later write (``metadata_fields="auto"``) is filterable by text and hybrid search at
    once: the planner is made again for the new layout, not kept from the first search."""
    index = make_index(dims=8, metadata_fields="auto")
    index.upsert([Record("a", "redis keeps data", _vector(1), {"x": 0})])
    assert [h.record.id for h in index.text_search("redis", 2)] == ["a"]  # a planner on the first layout
    index.upsert([Record("b", "redis data", _vector(2), {"cat": "news"})])
    assert [h.record.id for h in index.text_search("redis", 2, filter={"cat": "news"})] == ["b"]
    assert [h.record.id for h in index.hybrid_search("redis", _vector(2), 2, filter={"cat": "news"})] == ["b"]


@pytest.mark.parametrize("options", [{"protocol": 3}, {"decode_responses": True}], ids=["resp3", "str-replies"])
def test_replies_of_any_client_read_alike(corpus: RedisVectorIndex, redis_url: str, options: dict[str, Any]) -> None:
    """A caller's own client (RESP3 maps, or str instead of bytes) gets the same hits as ours (RESP2, bytes)."""
    own = redis.Redis.from_url(redis_url, **options)
    other = RedisVectorIndex(
        corpus.name, dims=8, metadata_fields=FIELDS, client=own, settings=Settings(redis_url=redis_url)
    )
    try:
        for flt in (None, {"tag": "faq"}):
            _same(other.text_search("redis data memory", 10, flt), corpus.text_search("redis data memory", 10, flt))
            vector = _vector(5)
            for fusion in ("relative_score", "rrf"):
                got = other.hybrid_search("redis disk", vector, 5, flt, fusion=fusion)  # type: ignore[arg-type]
                _same(got, corpus.hybrid_search("redis disk", vector, 5, flt, fusion=fusion))  # type: ignore[arg-type]
    finally:
        own.close()
