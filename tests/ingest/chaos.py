"""Streaming ingestion under kills: worker processes SIGKILLed mid-batch while documents are upserted, shrunk and
deleted, then the index compared, chunk by chunk, with the latest published version of every document.

Used by ``tests/ingest/test_ingest_kills.py`` (a few short seeds) and ``benchmarks/ingest_kills.py`` (many runs).

How it makes the old failure likely rather than lucky: besides the kills, each worker now and then *stalls*
after preparing a batch (its version check done) for longer than ``claim_idle_ms``. Another worker reclaims those
events (XAUTOCLAIM), applies them and newer ones; then the stalled worker wakes up and writes its old batch. A
write that is not conditional on the version at write time overwrites the newer version there.
"""

from __future__ import annotations

import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redis_rag_integrations import Settings
from redis_rag_integrations.ingest import Producer, chunk_id
from redis_rag_integrations.ingest.events import StreamKeys
from redis_rag_integrations.store.index import RedisVectorIndex

WORKER = Path(__file__).with_name("chaos_worker.py")
DIMS = 32


def split_paragraphs(text: str) -> list[str]:
    """The splitter of these runs: one chunk per paragraph (no LangChain import in every worker process)."""
    return [p for p in text.split("\n\n") if p.strip()]


def indexed_texts(index: RedisVectorIndex) -> dict[str, str]:
    """Every chunk of the index, found key by key (SCAN), not through the search index under test."""
    prefix = f"{index.layout.key_prefix}:"
    ids = [k.decode()[len(prefix) :] for k in index.client.scan_iter(match=f"{prefix}*", count=1000)]
    return {r.id: r.text for r in index.get(ids)}


@dataclass
class Config:
    docs: int = 12
    events: int = 150
    workers: int = 3
    kills: int = 6
    claim_idle_ms: int = 300
    stall_chance: float = 0.2  # per batch: sleep past claim_idle_ms between the version check and the write
    drain_timeout: float = 60.0


@dataclass
class Outcome:
    seed: int
    events: int = 0
    kills: int = 0
    chunks_checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Workers:
    """Worker processes, their output lines on one queue, replaced when killed."""

    def __init__(self, url: str, index_name: str, cfg: Config, seed: int) -> None:
        self.url, self.index_name, self.cfg, self.seed = url, index_name, cfg, seed
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.lines: queue.Queue[tuple[int, str]] = queue.Queue()
        self._next = 0

    def spawn(self) -> None:
        n, self._next = self._next, self._next + 1
        args = [self.url, self.index_name, f"w{n}", str(self.seed * 1000 + n), str(self.cfg.claim_idle_ms),
                str(self.cfg.stall_chance)]  # fmt: skip
        proc = subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, text=True)
        self.procs[n] = proc
        threading.Thread(target=self._pump, args=(n, proc), daemon=True).start()

    def _pump(self, n: int, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put((n, line.strip()))

    def kill_mid_batch(self, rng: random.Random, timeout: float = 5.0) -> bool:
        """Wait for a worker to start a batch, SIGKILL it a moment later, start a replacement."""
        while not self.lines.empty():  # lines of batches long done: only a fresh one means "mid-batch"
            self.lines.get_nowait()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                n, line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line == "BATCH" and n in self.procs:
                time.sleep(rng.uniform(0.0, 0.06))
                proc = self.procs.pop(n)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                self.spawn()
                return True
        return False

    def stop(self) -> None:
        """SIGTERM: each worker finishes the write in hand, if any, and exits; then nothing writes any more."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def run(url: str, seed: int, cfg: Config | None = None) -> Outcome:
    """One run: publish ``cfg.events`` random events while killing ``cfg.kills`` workers mid-batch; then compare."""
    cfg = cfg or Config()
    rng = random.Random(seed)
    began = time.monotonic()
    name = f"chaos-{uuid.uuid4().hex[:10]}"
    index = RedisVectorIndex(name, dims=DIMS, settings=Settings(redis_url=url))
    producer = Producer(name, client=index.client, max_backlog=1_000_000)
    workers = _Workers(url, name, cfg, seed)
    latest: dict[str, str | None] = {}
    outcome = Outcome(seed)
    try:
        for _ in range(cfg.workers):
            workers.spawn()
        kills_at = set(rng.sample(range(cfg.events), cfg.kills))

        def publish(i: int, bait: bool) -> None:
            """One random event; ``bait``: an upsert with chunks, so some worker is sure to start a batch."""
            doc_id = f"doc-{rng.randrange(cfg.docs)}"
            if not bait and doc_id in latest and rng.random() < 0.2:
                producer.delete(doc_id)
                latest[doc_id] = None
            else:  # a new version with 0..6 chunks: grows, shrinks or empties the document
                text = "\n\n".join(f"{doc_id} v{i} part {p} " + "word " * rng.randint(1, 8)
                                   for p in range(rng.randint(int(bait), 6)))  # fmt: skip
                producer.upsert(doc_id, text)
                latest[doc_id] = text
            outcome.events += 1

        for i in range(cfg.events):
            publish(i, bait=i in kills_at)
            if i in kills_at:
                for extra in range(5):  # a worker still starting up may miss its chance: bait again
                    if workers.kill_mid_batch(rng):
                        outcome.kills += 1
                        break
                    publish(cfg.events + 10 * i + extra, bait=True)
            elif rng.random() < 0.3:
                time.sleep(rng.uniform(0.0, 0.05))
        _drain(producer, cfg.drain_timeout)
    finally:
        workers.stop()
    try:
        want = {
            chunk_id(d, n): c for d, t in latest.items() if t is not None for n, c in enumerate(split_paragraphs(t))
        }
        got = indexed_texts(index)
        outcome.chunks_checked = len(want.keys() | got.keys())
        for cid in sorted(want.keys() | got.keys()):
            if want.get(cid) != got.get(cid):
                outcome.mismatches.append(f"{cid}: expected {want.get(cid)!r}, indexed {got.get(cid)!r}")
    finally:
        _cleanup(index)
    outcome.seconds = time.monotonic() - began
    return outcome


def _drain(producer: Producer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while producer.backlog():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the workers left {producer.backlog()} events unfinished after {timeout} s")
        time.sleep(0.05)


def _cleanup(index: RedisVectorIndex) -> None:
    index.drop()
    client: redis.Redis = index.client  # type: ignore[assignment]
    for pattern in (f"{StreamKeys(index.name).tag}:*", f"{index.layout.key_prefix}~doc:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
