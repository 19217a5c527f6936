"""Load: 64 threads, then 512 coroutines, on ONE vector store, semantic cache and chat history, reads and writes mixed.

Why: the adapters are used from thread pools (sync objects shared by request threads) and from asyncio servers
(one object, many concurrent coroutines). Unit tests exercise each method alone; a shared client pool, a per-loop
async client table or a lazily created index can only go wrong under real concurrency. So every worker rotates
through six operations on the shared objects -- store ``upsert`` + tag-filtered ``search`` (16 tenant-like
labels), cache ``store`` + ``check`` (one scope per worker, prompts shared by all workers, so only the scope keeps
answers apart), history ``append`` + ``read`` (one session per worker) -- and every payload carries its worker id,
checked on every read: a record of another label, an answer of another scope, a message of another session is
*cross-talk*. Targets: zero errors and zero cross-talk; throughput and p50/p99 per operation are informative (2
shared cores: absolute times move with the neighbours). A deterministic numpy embedder (:mod:`.fake_embed`) keeps
a model out of the measurement.

Durations per phase: smoke 2 s, quick 20 s (the section takes under a minute, so it is a harness section), full
120 s. Standalone: ``python -m benchmarks.load [--full|--smoke]``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.fake_embed import FakeEmbedder
from benchmarks.profiles import Profile, resolve
from benchmarks.report import Figure, SectionResult, figure, section
from benchmarks.timing import percentiles
from redis_rag_integrations import Settings
from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.store.layout import Hit, Record

OPS = ("store.upsert", "store.search", "cache.store", "cache.check", "history.append", "history.read")
THREADS, COROUTINES = 64, 512
LABELS = 16
IDS_PER_WORKER = 10  # bounded: the index stays small, so the run measures concurrency, not growth
PROMPTS = 25
SECONDS = {"smoke": 2.0, "quick": 20.0, "full": 120.0}
SERIES_SAMPLES = 1000  # latencies kept per operation for the plots (the JSON stays small)


@dataclass
class Shared:
    """The one store, cache and history every worker of a phase uses."""

    store: RedisVectorIndex
    cache: SemanticCache
    history: ChatHistoryStore
    embedder: FakeEmbedder


@dataclass
class Tally:
    """What one phase measured; workers append to their own lists (list.append is atomic under the GIL)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: list[str] = field(default_factory=list)
    crosstalk: int = 0
    checked: int = 0  # items read back and checked for their owner
    cache_hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def foreign(self, bad: int, seen: int) -> None:
        with self.lock:
            self.crosstalk += bad
            self.checked += seen


def _label(w: int) -> str:
    return f"t{w % LABELS:02d}"


def _record(s: Shared, me: str, w: int, n: int) -> Record:
    text = f"{_label(w)}|{me}|{n}"
    return Record(id=f"{me}-{n % IDS_PER_WORKER}", text=text, vector=s.embedder.embed([text])[0],
                  metadata={"label": _label(w)})  # fmt: skip


def _check_hits(t: Tally, hits: list[Hit], w: int) -> None:
    """A hit is foreign unless its label, its text's label and its writer's label are all this worker's."""
    label = _label(w)
    bad = 0
    for h in hits:
        text_label, writer, _ = h.record.text.split("|")
        if h.record.metadata.get("label") != label or text_label != label or _label(int(writer[1:])) != label:
            bad += 1
    t.foreign(bad, len(hits))


def _check_messages(t: Tally, messages: list[StoredMessage], me: str) -> None:
    t.foreign(sum(not str(m.content).startswith(f"{me}|") for m in messages), len(messages))


def _check_answer(t: Tally, hit: Any, me: str) -> None:
    if hit is not None:
        t.foreign(int(not hit.response.startswith(f"{me}|")), 1)
        with t.lock:
            t.cache_hits += 1


def _prompt(n: int) -> str:
    return f"What should I know about topic {n % PROMPTS}?"


def sync_op(s: Shared, t: Tally, op: str, me: str, w: int, n: int) -> None:
    """One operation of worker ``me`` (number ``w``), its ``n``-th, checked for cross-talk when it reads."""
    if op == "store.upsert":
        s.store.upsert([_record(s, me, w, n)])
    elif op == "store.search":
        _check_hits(t, s.store.search(s.embedder.embed([f"q{n}"])[0], k=5, filter={"label": _label(w)}), w)
    elif op == "cache.store":
        if s.cache.store(_prompt(n), f"{me}|{n}", scope=me) is None:
            raise RuntimeError("cache.store returned None (Redis fault turned into a skip)")
    elif op == "cache.check":
        _check_answer(t, s.cache.check(_prompt(n - 1), scope=me), me)
    elif op == "history.append":
        s.history.append(f"s-{me}", [StoredMessage(role="user", content=f"{me}|{n}")])
    else:
        _check_messages(t, s.history.read(f"s-{me}", last=20), me)


async def async_op(s: Shared, t: Tally, op: str, me: str, w: int, n: int) -> None:
    """:func:`sync_op` through the async methods of the same shared objects."""
    if op == "store.upsert":
        await s.store.aupsert([_record(s, me, w, n)])
    elif op == "store.search":
        _check_hits(t, await s.store.asearch(s.embedder.embed([f"q{n}"])[0], k=5, filter={"label": _label(w)}), w)
    elif op == "cache.store":
        if await s.cache.astore(_prompt(n), f"{me}|{n}", scope=me) is None:
            raise RuntimeError("cache.astore returned None (Redis fault turned into a skip)")
    elif op == "cache.check":
        _check_answer(t, await s.cache.acheck(_prompt(n - 1), scope=me), me)
    elif op == "history.append":
        await s.history.aappend(f"s-{me}", [StoredMessage(role="user", content=f"{me}|{n}")])
    else:
        _check_messages(t, await s.history.aread(f"s-{me}", last=20), me)


def _failed(t: Tally, op: str, exc: BaseException) -> None:
    with t.lock:
        t.errors.append(f"{op}: {type(exc).__name__}: {exc}"[:300])


def run_threads(s: Shared, seconds: float, workers: int = THREADS) -> tuple[Tally, float]:
    """``workers`` threads sharing ``s`` for ``seconds``; the tally and the wall time."""
    t = Tally()
    start_gate = threading.Barrier(workers + 1)

    def work(w: int) -> None:
        me, n = f"T{w}", 0
        start_gate.wait()
        deadline = time.perf_counter() + seconds
        while (t0 := time.perf_counter()) < deadline:
            op = OPS[(n + w) % len(OPS)]  # workers start at different operations: reads and writes overlap
            try:
                sync_op(s, t, op, me, w, n)
                t.latencies[op].append((time.perf_counter() - t0) * 1000.0)
            except Exception as exc:  # counted, never fatal: the report says how many and which
                _failed(t, op, exc)
            n += 1

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(workers)]
    for th in threads:
        th.start()
    start_gate.wait()
    began = time.perf_counter()
    for th in threads:
        th.join()
    return t, time.perf_counter() - began


async def _run_coroutines(s: Shared, seconds: float, workers: int) -> tuple[Tally, float]:
    t = Tally()
    deadline = time.perf_counter() + seconds

    async def work(w: int) -> None:
        me, n = f"A{w}", 0
        while (t0 := time.perf_counter()) < deadline:
            op = OPS[(n + w) % len(OPS)]
            try:
                await async_op(s, t, op, me, w, n)
                t.latencies[op].append((time.perf_counter() - t0) * 1000.0)
            except Exception as exc:
                _failed(t, op, exc)
            n += 1

    began = time.perf_counter()
    await asyncio.gather(*(work(w) for w in range(workers)))
    return t, time.perf_counter() - began


def run_coroutines(s: Shared, seconds: float, workers: int = COROUTINES) -> tuple[Tally, float]:
    """``workers`` coroutines on one event loop sharing ``s`` for ``seconds``."""
    return asyncio.run(_run_coroutines(s, seconds, workers))


def open_shared(redis_url: str, tag: str) -> Shared:
    embedder = FakeEmbedder()
    settings = Settings(redis_url=redis_url)
    return Shared(
        store=RedisVectorIndex(
            f"load-{tag}", dims=embedder.dims, metadata_fields={"label": "tag"}, url=redis_url, settings=settings
        ),
        cache=SemanticCache(embedder, name=f"load-cache-{tag}", redis_url=redis_url, ttl=600, max_entries=None),
        history=ChatHistoryStore(redis_url, prefix=f"load-chat-{tag}", ttl=600, settings=settings),
        embedder=embedder,
    )


def close_shared(s: Shared) -> None:
    s.store.drop()
    s.cache.delete_index()
    for session in s.history.sessions():
        s.history.delete(session)


def phase_figures(name: str, t: Tally, wall: float, cache_faults: int) -> list[Figure]:
    ops = sum(len(v) for v in t.latencies.values())
    errors = len(t.errors) + cache_faults
    out = [
        figure(f"{name}: throughput (all operations)", ops / wall, "ops/s", summary=True),
        figure(f"{name}: errors", errors, "count", target="== 0", passed=errors == 0),
        figure(f"{name}: cross-talk (foreign items read)", t.crosstalk, "count", target="== 0",
               passed=t.crosstalk == 0),
        figure(f"{name}: items read back and checked", t.checked, "count"),
    ]  # fmt: skip
    for op in OPS:
        if t.latencies[op]:
            p = percentiles(t.latencies[op])
            out.append(figure(f"{name}: {op} p50", p["p50"], "ms"))
            out.append(figure(f"{name}: {op} p99", p["p99"], "ms"))
    return out


def _series(name: str, t: Tally) -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    out = {}
    for op in ("store.search", "cache.check", "history.read"):
        xs = t.latencies[op]
        if xs:
            keep = rng.choice(len(xs), size=min(SERIES_SAMPLES, len(xs)), replace=False)
            out[f"latency_ms:{name} {op}"] = [xs[i] for i in sorted(keep)]
    return out


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    seconds = SECONDS.get(p.name, SECONDS["quick"])
    s = open_shared(redis_url, uuid.uuid4().hex[:8])
    figures: list[Figure] = []
    series: dict[str, list[float]] = {}
    notes = []
    try:
        for name, workers, runner in (
            (f"{THREADS} threads", THREADS, run_threads),
            (f"{COROUTINES} coroutines", COROUTINES, run_coroutines),
        ):
            errors_before, skips_before = s.cache.stats.errors, s.cache.stats.skipped
            faults_before = errors_before + skips_before
            t, wall = runner(s, seconds, workers)
            figures += phase_figures(name, t, wall, s.cache.stats.errors + s.cache.stats.skipped - faults_before)
            series.update(_series(name, t))
            ops = sum(len(v) for v in t.latencies.values())
            kinds = Counter(e.split(": ", 1)[1][:90] for e in t.errors)  # by cause, not by operation
            notes.append(
                f"{name}: {wall:.1f} s, {ops} operations, {t.checked} items read back and checked, "
                f"{t.cache_hits} cache hits; errors by cause: {dict(kinds.most_common(4)) or 'none'}; cache faults "
                f"(Redis errors the cache turned into misses / skips): {s.cache.stats.errors - errors_before} / "
                f"{s.cache.stats.skipped - skips_before}."
            )
    finally:
        close_shared(s)
    notes.append(
        "One RedisVectorIndex (32-dim FLAT/HNSW per settings, tag field 'label'), one SemanticCache, one "
        "ChatHistoryStore shared by every worker of a phase; operations rotate upsert, filtered search, cache store, "
        "cache check, history append, history read. Latency of a coroutine includes its wait for the event loop."
    )
    return section("Load: shared objects under concurrency", figures, series, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
