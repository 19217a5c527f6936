"""Chat history latency: append one message and read the last 20, side by side with raw redis-py, plus relevant
recall (vector search over the session) against the query embedding.

Raw baselines: ``RPUSH`` of the same encoded bytes and ``LRANGE key -20 -1`` (no decoding), interleaved call by
call with ours, so the ratio shows what our codec, MULTI and TTL handling cost. Targets (issue: chat history):
append and read-last-20 p50 <= 1 ms; relevant recall at most 2 ms over the query embedding (the query vector
computed once, so the embedding's noise does not drown the Redis side). Standalone:
``python -m benchmarks.bench_history [--full]``.
"""

from __future__ import annotations

import uuid

import numpy as np

from benchmarks.corpus import embedder
from benchmarks.profiles import Profile, resolve
from benchmarks.report import Figure, SectionResult, figure, section
from benchmarks.timing import interleaved, percentiles, timed
from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore, RelevantRecall, StoredMessage
from redis_rag_integrations.history.message import encode

TOPICS = ["travel to Japan", "my dog's health", "peanut allergy recipes", "learning the cello", "tax deadlines"]
LIMIT_MS = 1.0
RECALL_OVER_EMBED_MS = 2.0
QUERY = "What should I cook for someone with a nut allergy?"


class _FixedQuery:
    """The real embedder's vector for one query, computed once: isolates recall's own cost (sync + search)."""

    def __init__(self, vector: np.ndarray, model_name: str, dims: int) -> None:
        self.model_name, self.dims, self._vector = model_name, dims, vector

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.repeat(self._vector, len(texts), axis=0) if len(texts) != 1 else self._vector

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


def _budget(name: str, ours: list[float], raw: list[float]) -> Figure:
    p50 = percentiles(ours)["p50"]
    ratio = p50 / percentiles(raw)["p50"]
    return figure(f"{name} p50", p50, "ms", ratio=ratio, target=f"<= {LIMIT_MS:g} ms p50", passed=p50 <= LIMIT_MS)


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    settings = Settings(redis_url=redis_url)
    prefix = f"bench-chat-{uuid.uuid4().hex[:8]}"
    store = ChatHistoryStore(redis_url, prefix=prefix, settings=settings)
    session = "s"
    raw_key = f"{prefix}:raw"
    # one new message per call, as an application appends them (each with its own id; encoded up front for raw)
    fresh = [
        StoredMessage(role="user", content=f"A new question about the itinerary, take {i}?")
        for i in range(p.history_rounds + 20)
    ]
    blobs = [encode(m) for m in fresh]
    history = [
        StoredMessage(role="user" if i % 2 == 0 else "assistant", content=f"Turn {i} about {TOPICS[i % 5]}.")
        for i in range(p.history_messages)
    ]
    client = store.client
    recall = None
    try:
        store.append(session, history)
        client.rpush(raw_key, *store.encode_all(history))
        reads = interleaved(
            {"ours": lambda _: store.read(session, last=20), "raw": lambda _: client.lrange(raw_key, -20, -1)},
            list(range(p.history_rounds)),
            1,
        )
        model = embedder()
        qvec = model.embed([QUERY])
        recall = RelevantRecall(store, _FixedQuery(qvec, model.model_name, model.dims))
        recall.get_relevant(session, "warm up", k=4)  # indexes the session's messages once (lazy, at first recall)
        rounds = max(10, p.history_rounds // 5)
        embed_ms = timed(lambda: model.embed([QUERY]), rounds)
        recall_ms = timed(lambda: recall.get_relevant(session, QUERY, k=4), rounds)
        appends = interleaved(  # last: it grows the session (recall above ran on exactly history_messages)
            {
                "ours": lambda i: store.append(session, [fresh[i]]),
                "raw": lambda i: client.rpush(raw_key, blobs[i]),
            },
            list(range(len(fresh))),
            1,
        )
    finally:
        store.delete(session)
        client.delete(raw_key)
        if recall is not None and recall._index is not None:
            recall._index.delete(drop=True)
    embed_p50, recall_p50 = percentiles(embed_ms)["p50"], percentiles(recall_ms)["p50"]
    figures = [
        _budget("append 1 message", appends["ours"], appends["raw"]),
        _budget("read last 20", reads["ours"], reads["raw"]),
        figure("raw RPUSH p50", percentiles(appends["raw"])["p50"], "ms"),
        figure("raw LRANGE -20 -1 p50", percentiles(reads["raw"])["p50"], "ms"),
        figure("query embedding p50", embed_p50, "ms"),
        figure(
            "relevant recall (k=4, vector given) p50",
            recall_p50,
            "ms",
            ratio=recall_p50 / embed_p50,
            target=f"<= {RECALL_OVER_EMBED_MS:g} ms over the query embedding",
            passed=recall_p50 <= RECALL_OVER_EMBED_MS,
        ),
    ]
    notes = [
        f"A session of {p.history_messages} messages; {p.history_rounds} calls per operation, ours and raw "
        "interleaved; ratios are to the raw redis-py command (RPUSH / LRANGE without decoding). Relevant recall: "
        f"ratio to one query embedding (all-MiniLM-L6-v2), {rounds} calls each.",
    ]
    series = {
        "latency_ms:append (ours)": appends["ours"],
        "latency_ms:RPUSH (raw)": appends["raw"],
        "latency_ms:read last 20 (ours)": reads["ours"],
        "latency_ms:LRANGE (raw)": reads["raw"],
    }
    return section("Chat history", figures, series, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
