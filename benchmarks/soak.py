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

Every ``--interval`` seconds ``INFO memory`` ``used_memory``, ``DBSIZE``, the memory of all keys and, per search
index, ``FT.INFO`` ``max_doc_id`` are sampled. Target: the least-squares slope of used_memory over the second half is
within noise, ``< 1 %`` of used_memory per 10 minutes.

Why ``max_doc_id``: the search module gives every (re)indexed hash a new doc id, and its doc table keeps a bucket
array (16 bytes a slot) as long as the largest doc id, up to ``MAXDOCTABLESIZE`` slots (1,000,000 by default, a
load-time argument), then reuses slots (``id % size``). So under churn used_memory grows ~16 B per new doc id until
each index's table reaches 16 MB, then stops: growth of the engine's, bounded, in no key
(``benchmarks/results/load-soak.md`` measures it). ``--max-doc-table N`` starts the embedded server with a cap of
N slots, reached within minutes, to show the flat steady state in a short run. Run:
``python -m benchmarks.soak --minutes 20 [--max-doc-table 20000] [--out benchmarks/results/soak.md]`` (its own
embedded Redis unless ``--redis-url``).
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


DOC_TABLE_SLOT = 16  # bytes per doc-table bucket (a two-pointer list head)
DEFAULT_DOC_TABLE = 1_000_000  # the search module's MAXDOCTABLESIZE default


def _doc_ids(client: Any) -> dict[str, int]:
    """``{index: max_doc_id}`` for every search index: how many doc ids each has handed out."""
    found: dict[str, int] = {}
    for name in client.execute_command("FT._LIST"):
        name = name.decode() if isinstance(name, bytes) else str(name)
        info = client.execute_command("FT.INFO", name)
        if isinstance(info, list):
            info = dict(zip(info[::2], info[1::2], strict=False))
        found[name] = int(info.get(b"max_doc_id", info.get("max_doc_id", 0)))
    return found


def _slope_per_min(samples: list[dict[str, float]], field: str = "used_memory") -> float:
    t = np.array([s["t"] for s in samples]) / 60.0
    y = np.array([s[field] for s in samples], dtype=np.float64)
    return float(np.polyfit(t, y, 1)[0]) if len(samples) >= 2 else 0.0


def run_soak(
    url: str,
    seconds: float,
    *,
    interval: float = 10.0,
    threads: int = 4,
    rate: float = 25.0,
    doc_table: int = DEFAULT_DOC_TABLE,
) -> dict:
    """Run the mix for ``seconds`` (``threads`` workers, ``rate`` rounds/s each) and return the report dict.
    ``doc_table``: the server's MAXDOCTABLESIZE (for the doc-table estimate only)."""
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
            doc_ids = _doc_ids(client)
            samples.append(
                {
                    "t": round(now - start, 1),
                    "used_memory": int(info["used_memory"]),
                    "key_bytes": _key_bytes(client),
                    "keys": int(client.dbsize()),
                    "doc_ids": sum(doc_ids.values()),
                    "doc_table_bytes": DOC_TABLE_SLOT * sum(min(v, doc_table) for v in doc_ids.values()),
                    "indexes": len(doc_ids),
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
    return {**_report(samples, traffic, seconds, threads, rate), "doc_table": doc_table}


def _minute_minima(samples: list[dict[str, float]]) -> list[dict[str, float]]:
    """used_memory's lowest sample of each whole minute: the level right after a fork-GC pass of the search module
    (every 30 s), without the garbage it collects. Its slope shows a trend the GC sawtooth (~0.5 MiB) hides."""
    by_minute: dict[int, float] = {}
    for s in samples:
        minute = int(s["t"] // 60)
        by_minute[minute] = min(by_minute.get(minute, s["used_memory"]), s["used_memory"])
    return [{"t": 60.0 * m, "used_memory": v} for m, v in sorted(by_minute.items())]


def _report(samples: list[dict[str, float]], traffic: _Traffic, seconds: float, threads: int, rate: float) -> dict:
    return {
        "ops": traffic.ops,
        "ops_per_s": traffic.ops / seconds if seconds else 0.0,
        "threads": threads,
        "rate_per_thread": rate,
        "errors": len(traffic.errors) + traffic.cache.stats.errors + traffic.cache.stats.skipped,
        "error_examples": traffic.errors[:5],
        **figures(samples, seconds),
    }


def figures(samples: list[dict[str, float]], seconds: float) -> dict:
    """The memory figures of a run's samples (also for re-reading a saved ``.json``)."""
    half = samples[len(samples) // 2 :]
    minima = [m for m in _minute_minima(samples) if m["t"] >= seconds / 2]
    slope = _slope_per_min(half)
    mean_half = float(np.mean([s["used_memory"] for s in half]))
    pct = abs(slope) * 10 / mean_half * 100 if mean_half else 0.0
    mem = [s["used_memory"] for s in samples]
    key_slope = _slope_per_min(half, "key_bytes")
    ids_slope = _slope_per_min(half, "doc_ids")
    table_slope = _slope_per_min(half, "doc_table_bytes")
    rest = [{"t": x["t"], "rest": x["used_memory"] - x["doc_table_bytes"]} for x in half]
    key_mean = float(np.mean([s["key_bytes"] for s in half]))
    minima_slope = _slope_per_min(minima)
    return {
        "seconds": seconds,
        "used_memory_start": mem[0],
        "used_memory_end": mem[-1],
        "used_memory_max": max(mem),
        "slope_second_half_bytes_per_min": slope,
        "slope_pct_per_10min": pct,
        "target": f"|second-half slope| < {TARGET_PCT_PER_10MIN:g}% of used_memory per 10 min",
        "flat": pct < TARGET_PCT_PER_10MIN,
        "minute_minima_slope_bytes_per_min": minima_slope,
        "minute_minima_pct_per_10min": minima_slope * 10 / mean_half * 100 if mean_half else 0.0,
        "key_bytes_start": samples[0]["key_bytes"],
        "key_bytes_end": samples[-1]["key_bytes"],
        "key_bytes_slope_bytes_per_min": key_slope,
        "key_bytes_slope_pct_per_10min": abs(key_slope) * 10 / key_mean * 100 if key_mean else 0.0,
        "doc_ids_start": samples[0]["doc_ids"],
        "doc_ids_end": samples[-1]["doc_ids"],
        "doc_ids_per_min": ids_slope,
        "bytes_per_new_doc_id": slope / ids_slope if ids_slope else 0.0,
        "doc_table_slope_bytes_per_min": table_slope,
        "rest_slope_bytes_per_min": _slope_per_min(rest, "rest"),
        "indexes": samples[-1]["indexes"],
        "keys_start": samples[0]["keys"],
        "keys_end": samples[-1]["keys"],
        "keys_max": max(s["keys"] for s in samples),
        "load1_mean": float(np.mean([s["load1"] for s in samples])),
        "load1_max": max(s["load1"] for s in samples),
        "samples": samples,
    }


def _verdict(r: dict) -> str:
    if r["flat"]:
        return "flat (met)"
    if r["slope_second_half_bytes_per_min"] < 0:
        return "not growing: falling, |slope| over the target (missed)"
    return "GROWING (missed)"


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
        f"| search doc ids handed out (sum of max_doc_id over {r['indexes']} indexes) start / end | "
        f"{r['doc_ids_start']:,} / {r['doc_ids_end']:,}; second half {r['doc_ids_per_min']:,.0f} per min |",
        f"| used_memory second-half slope per new doc id | {r['bytes_per_new_doc_id']:.1f} bytes |",
        f"| doc-table estimate ({DOC_TABLE_SLOT} B x min(max_doc_id, {r['doc_table']:,}) per index): second-half "
        f"slope | {r['doc_table_slope_bytes_per_min']:+.0f} bytes/min; used_memory minus it: "
        f"{r['rest_slope_bytes_per_min']:+.0f} bytes/min |",
        f"| bound of the doc tables | {r['indexes']} x {r['doc_table']:,} x {DOC_TABLE_SLOT} B = "
        f"{r['indexes'] * r['doc_table'] * DOC_TABLE_SLOT / mb:.1f} MiB |",
        f"| second-half slope of each minute's lowest used_memory (after a GC pass) | "
        f"{r['minute_minima_slope_bytes_per_min']:+.0f} bytes/min "
        f"({r['minute_minima_pct_per_10min']:+.2f}% per 10 min) |",
        f"| target | {r['target']} |",
        f"| verdict | {_verdict(r)} |",
        "",
        "| t (s) | used_memory (MiB) | all keys (MiB) | keys | doc ids | rounds | load1 |",
        "|---|---|---|---|---|---|---|",
    ]
    step = max(1, len(r["samples"]) // 40)
    for s in r["samples"][::step]:
        lines.append(
            f"| {s['t']:.0f} | {s['used_memory'] / mb:.2f} | {s['key_bytes'] / mb:.2f} | {s['keys']} | "
            f"{s['doc_ids']:,} | {s['ops']} | {s['load1']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between memory samples")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25.0, help="rounds per second per thread")
    parser.add_argument("--redis-url", help="default: a private embedded Redis")
    parser.add_argument(
        "--max-doc-table",
        type=int,
        help="the embedded server's MAXDOCTABLESIZE (search module load argument; default: the module's 1,000,000)",
    )
    parser.add_argument("--out", type=Path, help="write the markdown here (and the samples next to it as .json)")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    options = {"interval": args.interval, "threads": args.threads, "rate": args.rate}
    if args.redis_url:
        if args.max_doc_table:
            parser.error("--max-doc-table sets up the embedded server: not with --redis-url")
        report = run_soak(args.redis_url, seconds, **options)
    else:
        cap = args.max_doc_table
        if cap is not None and cap < 1:
            parser.error(f"--max-doc-table must be a positive number of slots, got {cap}")
        search_args = ["MAXDOCTABLESIZE", str(cap)] if cap else []
        with EmbeddedRedis(search_args=search_args) as server:
            report = run_soak(server.url, seconds, **options, doc_table=cap or DEFAULT_DOC_TABLE)
    text = markdown(report)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if report["errors"] == 0 and report["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
