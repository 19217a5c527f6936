"""Soak: mixed traffic with TTLs for N minutes; Redis memory must stay flat.

Why: several structures used to grow without bound under steady traffic (the cache's eviction sorted set, the
freshness link sets, metric names, version tombstones). Unit tests check each fix in isolation; only a long run of
the real mix shows that *nothing* accumulates. The traffic, paced to a fixed rate so the steady state is defined:

- semantic cache: ``store`` (ttl, ``max_entries``, linked to source documents, under a watch token) and ``check``
  over an unbounded stream of prompts and 50 user scopes;
- chat history: ``append`` + ``read`` on sessions that keep being replaced by new ones (history ttl);
- vector store: ``replace_document`` / ``delete_document`` (short tombstone ttl) over a bounded space of document
  ids, and filtered ``search`` -- every change invalidates the linked cache entries;
- metrics enabled, flushed to the same Redis.

Every ``--interval`` seconds ``INFO memory`` ``used_memory`` and ``DBSIZE`` are sampled. Target: the least-squares
slope of used_memory over the second half is within noise, ``< 1 %`` of used_memory per 10 minutes. Run:
``python -m benchmarks.soak --minutes 20 [--out benchmarks/results/soak.md]`` (its own embedded Redis unless
``--redis-url``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fake_embed import FakeEmbedder
from redis_rag_integrations import EmbeddedRedis, Settings, metrics
from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.cache.entry import SourceRef
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.store.layout import Record

TTL = 60  # cache entries, history sessions, tombstones: short, so the steady state arrives within the first half
DOCS = 200  # bounded document id space of the store
SCOPES = 50
TARGET_PCT_PER_10MIN = 1.0


class _Traffic:
    """The shared objects and the operation mix; one instance serves every worker thread."""

    def __init__(self, url: str, tag: str) -> None:
        self.embedder = FakeEmbedder()
        settings = Settings(redis_url=url)
        self.store = RedisVectorIndex(
            f"soak-{tag}", dims=self.embedder.dims, metadata_fields={"label": "tag"}, url=url, settings=settings
        )
        self.cache = SemanticCache(self.embedder, name=f"soak-cache-{tag}", redis_url=url, ttl=TTL, max_entries=2000)
        self.history = ChatHistoryStore(url, prefix=f"soak-chat-{tag}", ttl=TTL, settings=settings)
        self.versions = itertools.count(time.time_ns() // 1000)  # newer than anything a previous run left
        self.ops = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _doc(self, doc: str, rng: np.random.Generator) -> None:
        if rng.random() < 0.2:
            self.store.delete_document(doc, version=next(self.versions), tombstone_ttl=TTL)
            return
        label = f"t{int(doc[1:]) % 8}"
        records = [
            Record(id=f"{doc}-{i}", text=f"{doc} part {i}", vector=self.embedder.embed([f"{doc}-{i}"])[0],
                   metadata={"label": label}, doc_id=doc)
            for i in range(2)
        ]  # fmt: skip
        self.store.replace_document(doc, records, version=next(self.versions))

    def step(self, worker: int, n: int, rng: np.random.Generator) -> None:
        """One round of the mix for ``worker``; its ``n``-th."""
        doc = f"d{rng.integers(DOCS)}"
        scope = f"user{rng.integers(SCOPES)}"
        prompt = f"question {worker}-{n} about {doc}"  # never repeats: entries only leave by ttl / eviction
        token = self.cache.watch()
        if self.cache.store(prompt, f"answer {n}", scope=scope, sources=[SourceRef(doc)], since=token) is None:
            self.cache.unwatch(token)
        self.cache.check(f"question {worker}-{max(0, n - 3)} about {doc}", scope=scope)
        session = f"w{worker}-s{n // 20}"  # a new session every 20 turns; old ones expire
        self.history.append(session, [StoredMessage(role="user", content=f"w{worker} turn {n}")])
        self.history.read(session, last=10)
        self._doc(doc, rng)
        self.store.search(self.embedder.embed([prompt])[0], k=4, filter={"label": f"t{n % 8}"})

    def worker(self, worker: int, deadline: float, period: float) -> None:
        rng = np.random.default_rng(worker)
        n, next_at = 0, time.monotonic()
        while (now := time.monotonic()) < deadline:
            if now < next_at:
                time.sleep(next_at - now)
            next_at += period
            try:
                self.step(worker, n, rng)
            except Exception as exc:  # every failure is a finding, counted and reported
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            n += 1
            with self._lock:
                self.ops += 1

    def close(self) -> None:
        self.store.drop()
        self.cache.delete_index()


def _key_bytes(client: Any) -> int:
    """Sum of ``MEMORY USAGE`` over every key: what our data structures hold, apart from the search module's own
    memory (which ``used_memory`` includes and no key shows). Separates a leak of ours from the engine's."""
    return sum(client.memory_usage(k, samples=0) or 0 for k in client.scan_iter(count=1000))


def _slope_per_min(samples: list[dict[str, float]], field: str = "used_memory") -> float:
    t = np.array([s["t"] for s in samples]) / 60.0
    y = np.array([s[field] for s in samples], dtype=np.float64)
    return float(np.polyfit(t, y, 1)[0]) if len(samples) >= 2 else 0.0


def run_soak(url: str, seconds: float, *, interval: float = 10.0, threads: int = 4, rate: float = 25.0) -> dict:
    """Run the mix for ``seconds`` (``threads`` workers, ``rate`` rounds/s each) and return the report dict."""
    traffic = _Traffic(url, uuid.uuid4().hex[:8])
    metrics.enable(url, interval=5)
    client = traffic.store.client
    samples: list[dict[str, float]] = []
    start = time.monotonic()
    deadline = start + seconds
    workers = [
        threading.Thread(target=traffic.worker, args=(w, deadline, 1.0 / rate), daemon=True) for w in range(threads)
    ]
    for w in workers:
        w.start()
    try:
        while True:
            now = time.monotonic()
            info = client.info("memory")
            samples.append(
                {
                    "t": round(now - start, 1),
                    "used_memory": int(info["used_memory"]),
                    "key_bytes": _key_bytes(client),
                    "keys": int(client.dbsize()),
                    "ops": traffic.ops,
                    "load1": os.getloadavg()[0],
                }
            )
            if now >= deadline:
                break
            time.sleep(min(interval, max(0.0, deadline - now)) or interval)
        for w in workers:
            w.join()
    finally:
        metrics.disable()
        traffic.close()
    return _report(samples, traffic, seconds, threads, rate)


def _report(samples: list[dict[str, float]], traffic: _Traffic, seconds: float, threads: int, rate: float) -> dict:
    half = samples[len(samples) // 2 :]
    slope = _slope_per_min(half)
    mean_half = float(np.mean([s["used_memory"] for s in half]))
    pct = abs(slope) * 10 / mean_half * 100 if mean_half else 0.0
    mem = [s["used_memory"] for s in samples]
    key_slope = _slope_per_min(half, "key_bytes")
    key_mean = float(np.mean([s["key_bytes"] for s in half]))
    return {
        "seconds": seconds,
        "threads": threads,
        "rate_per_thread": rate,
        "ops": traffic.ops,
        "ops_per_s": traffic.ops / seconds if seconds else 0.0,
        "errors": len(traffic.errors) + traffic.cache.stats.errors + traffic.cache.stats.skipped,
        "error_examples": traffic.errors[:5],
        "used_memory_start": mem[0],
        "used_memory_end": mem[-1],
        "used_memory_max": max(mem),
        "slope_second_half_bytes_per_min": slope,
        "slope_pct_per_10min": pct,
        "target": f"|second-half slope| < {TARGET_PCT_PER_10MIN:g}% of used_memory per 10 min",
        "flat": pct < TARGET_PCT_PER_10MIN,
        "key_bytes_start": samples[0]["key_bytes"],
        "key_bytes_end": samples[-1]["key_bytes"],
        "key_bytes_slope_bytes_per_min": key_slope,
        "key_bytes_slope_pct_per_10min": abs(key_slope) * 10 / key_mean * 100 if key_mean else 0.0,
        "keys_start": samples[0]["keys"],
        "keys_end": samples[-1]["keys"],
        "keys_max": max(s["keys"] for s in samples),
        "load1_mean": float(np.mean([s["load1"] for s in samples])),
        "load1_max": max(s["load1"] for s in samples),
        "samples": samples,
    }


def markdown(r: dict) -> str:
    mb = 1024 * 1024
    lines = [
        "# Soak: mixed traffic with TTLs, memory over time",
        "",
        f"{r['seconds'] / 60:.1f} min, {r['threads']} threads x {r['rate_per_thread']:g} rounds/s (each round: cache "
        "watch+store+check, history append+read, store replace/delete of a document, filtered search); "
        f"{r['ops']} rounds ({r['ops_per_s']:.1f}/s), errors {r['errors']}. Load average (1 min) during the run: mean "
        f"{r['load1_mean']:.2f}, max {r['load1_max']:.2f} on 2 cores shared with other work.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| used_memory start / end / max | {r['used_memory_start'] / mb:.2f} / {r['used_memory_end'] / mb:.2f} / "
        f"{r['used_memory_max'] / mb:.2f} MiB |",
        f"| second-half slope | {r['slope_second_half_bytes_per_min']:+.0f} bytes/min "
        f"({r['slope_pct_per_10min']:.2f}% of used_memory per 10 min) |",
        f"| memory of all keys (MEMORY USAGE) start / end | {r['key_bytes_start'] / mb:.2f} / "
        f"{r['key_bytes_end'] / mb:.2f} MiB; second-half slope {r['key_bytes_slope_bytes_per_min']:+.0f} bytes/min "
        f"({r['key_bytes_slope_pct_per_10min']:.2f}% per 10 min) |",
        f"| keys start / end / max | {r['keys_start']} / {r['keys_end']} / {r['keys_max']} |",
        f"| target | {r['target']} |",
        f"| verdict | {'flat (met)' if r['flat'] else 'GROWING (missed)'} |",
        "",
        "| t (s) | used_memory (MiB) | all keys (MiB) | keys | rounds | load1 |",
        "|---|---|---|---|---|---|",
    ]
    step = max(1, len(r["samples"]) // 40)
    for s in r["samples"][::step]:
        lines.append(
            f"| {s['t']:.0f} | {s['used_memory'] / mb:.2f} | {s['key_bytes'] / mb:.2f} | {s['keys']} | {s['ops']} | "
            f"{s['load1']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between memory samples")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25.0, help="rounds per second per thread")
    parser.add_argument("--redis-url", help="default: a private embedded Redis")
    parser.add_argument("--out", type=Path, help="write the markdown here (and the samples next to it as .json)")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    if args.redis_url:
        report = run_soak(args.redis_url, seconds, interval=args.interval, threads=args.threads, rate=args.rate)
    else:
        with EmbeddedRedis() as server:
            report = run_soak(server.url, seconds, interval=args.interval, threads=args.threads, rate=args.rate)
    text = markdown(report)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if report["errors"] == 0 and report["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
