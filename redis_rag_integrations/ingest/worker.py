"""Workers: read document events from the stream in a consumer group, chunk, embed in batches, write the index.

Guarantees, and how:
- **at-least-once, nothing indexed twice**: an event is acknowledged only after its document is written; chunk ids
  derive from the document id, so a replay rewrites the same keys. Events a dead worker left pending are taken over
  with XAUTOCLAIM once they have been idle ``claim_idle_ms``.
- **all-or-nothing document versions, in order**: an event's entry id is its document's version. A changed
  document replaces its whole chunk set, and a delete removes it, through
  :meth:`~..store.index.RedisVectorIndex.replace_document` / ``delete_document``: the version check and the write
  are one script on the server, so an older event (reclaimed from a killed or stalled worker, or retried) never
  overwrites a newer one, whatever order workers apply them in; a delete leaves a tombstone for
  ``tombstone_ttl`` seconds that refuses older upserts. Readers never see a mix of versions or leftovers.
- **dedup**: the content hash of each indexed version is kept beside it; an unchanged document is not embedded
  again, only its version moves on (``advance_document``). If its content changed between the read and that step
  (an older event landed in between), the event stays pending and is redone in full after ``claim_idle_ms``.
- **poison events**: an undecodable entry goes straight to the dead-letter stream; one whose processing fails (say,
  the embedder raises) is retried up to ``max_retries`` times, then dead-lettered with its error. The stream keeps
  flowing either way.
- **throughput**: embedding (CPU) of batch N+1 overlaps with the Redis writes of batch N on a writer thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis

from .. import freshness, metrics
from ..connection import SyncClient
from ..decoding import as_str
from ..embeddings import Embedder, embed_documents
from ..store.index import RedisVectorIndex
from ..store.layout import Record
from ..store.versioned import TOMBSTONE_TTL, parse
from .chunking import Splitter, chunk_id, make_splitter
from .events import DocumentEvent, PoisonEvent, StreamKeys, decode_event
from .producer import GROUP, ensure_group

log = logging.getLogger(__name__)
#: Faults of the connection (refused, reset, timed out, server LOADING after a restart) that run() waits out.
_OUTAGES = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)

Entry = tuple[str, dict[Any, Any] | None]


@dataclass
class WorkerStats:
    """Counters a worker keeps; ``freshness`` holds publish -> searchable seconds of recent documents."""

    indexed: int = 0
    deleted: int = 0
    skipped_unchanged: int = 0
    skipped_stale: int = 0
    #: unchanged documents whose content changed under them before their version moved on (left pending, redone)
    requeued: int = 0
    dead_lettered: int = 0
    retried: int = 0
    chunks_written: int = 0
    freshness: list[float] = field(default_factory=list)


@dataclass
class _Prepared:
    """A batch ready to write: documents with their chunk records, deletes, and what to acknowledge."""

    upserts: list[tuple[str, DocumentEvent, list[Record]]] = field(default_factory=list)
    deletes: list[tuple[str, DocumentEvent]] = field(default_factory=list)
    unchanged: list[tuple[str, DocumentEvent]] = field(default_factory=list)
    #: documents whose indexed version is the event's own: a replay (its worker died before acknowledging)
    replays: list[str] = field(default_factory=list)
    ack_ids: list[str] = field(default_factory=list)


class Worker:
    """One consumer of an index's ingestion stream. Run several (processes or machines) to scale out."""

    def __init__(
        self,
        index: RedisVectorIndex,
        embedder: Embedder,
        *,
        splitter: Splitter | None = None,
        consumer: str | None = None,
        batch_size: int = 32,
        block_ms: int = 500,
        claim_idle_ms: int = 30_000,
        max_retries: int = 3,
        tombstone_ttl: int = TOMBSTONE_TTL,
    ) -> None:
        if batch_size <= 0 or max_retries <= 0 or claim_idle_ms <= 0 or tombstone_ttl <= 0:
            raise ValueError("batch_size, max_retries, claim_idle_ms and tombstone_ttl must be positive")
        self.index = index
        self.client: SyncClient = index.client
        self.embedder = embedder
        self.splitter = splitter or make_splitter()
        self.keys = StreamKeys.of_index(index)  # a tenant's index reads its tenant's stream
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_retries = max_retries
        self.tombstone_ttl = tombstone_ttl
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._outages = 0  # consecutive Redis failures seen by run()
        ensure_group(self.client, self.keys)

    # ---------------------------------------------------------------------------------------------- main loop
    def stop(self) -> None:
        self._stop.set()

    def run(self, *, until_idle: bool = False, on_batch: Callable[[int], None] | None = None) -> WorkerStats:
        """Process events until :meth:`stop` (or, with ``until_idle``, until the stream has nothing for us).

        Preparing (decode, dedup, chunk, embed) happens on this thread and writing on a second one, so the CPU
        work of one batch overlaps the Redis round trips of the previous.
        """
        handoff: queue.Queue[_Prepared | None] = queue.Queue(maxsize=1)
        errors: list[BaseException] = []

        def writer() -> None:
            while (prepared := handoff.get()) is not None:
                try:
                    handled = self._write(prepared)
                    if on_batch is not None:
                        on_batch(handled)
                except _OUTAGES as exc:  # the batch stays pending: reclaimed after claim_idle_ms, once Redis is back
                    self._outage(exc)
                except BaseException as exc:  # surface on the main thread; unacked events stay pending
                    errors.append(exc)
                    self._stop.set()
                    return

        thread = threading.Thread(target=writer, name=f"ingest-writer-{self.consumer}", daemon=True)
        thread.start()
        try:
            while not self._stop.is_set():
                try:
                    entries = self._claim_abandoned() or self._read_new()
                    if not entries:
                        if until_idle and handoff.empty() and self._nothing_left():
                            break
                        continue
                    prepared = self._prepare(entries)
                except _OUTAGES as exc:  # Redis down, restarting (LOADING) or hung: wait for it, then resume
                    self._outage(exc)
                    continue
                self._outages = 0
                while not self._stop.is_set():
                    with contextlib.suppress(queue.Full):
                        handoff.put(prepared, timeout=0.2)
                        break
        finally:
            handoff.put(None)
            thread.join()
        if errors:
            raise errors[0]
        return self.stats

    def _outage(self, exc: BaseException) -> None:
        """A worker is a long-running daemon: it rides out a Redis outage (one warning, then back-off up to 2 s,
        until Redis answers or :meth:`stop`) instead of exiting, and what it had not acknowledged is redone."""
        if not self._outages:
            log.warning("worker %s: Redis unavailable (%s: %s); retrying until it is back", self.consumer,
                        type(exc).__name__, exc)  # fmt: skip
        self._outages += 1
        self._stop.wait(min(0.05 * 2**self._outages, 2.0))

    def process_once(self) -> int:
        """Read, prepare and write one batch on this thread; returns the number of stream entries handled."""
        entries = self._claim_abandoned() or self._read_new(block=False)
        if entries:
            self._write(self._prepare(entries))
        return len(entries)

    def _read_new(self, block: bool = True) -> list[Entry]:
        reply = self.client.xreadgroup(
            GROUP,
            self.consumer,
            {self.keys.events: ">"},
            count=self.batch_size,
            block=self.block_ms if block else None,
        )
        return [(as_str(i), f) for _, items in reply or [] for i, f in items]

    def _claim_abandoned(self) -> list[Entry]:
        """Take over entries another (dead or stuck) worker, or an earlier failed attempt, left pending."""
        reply = self.client.xautoclaim(
            self.keys.events, GROUP, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0",
            count=self.batch_size,
        )  # fmt: skip
        claimed = reply[1] if reply else []
        return [(as_str(i), f or None) for i, f in claimed]

    def _nothing_left(self) -> bool:
        pending = self.client.xpending(self.keys.events, GROUP)
        if int(pending.get("pending", 0)):
            return False
        for group in self.client.xinfo_groups(self.keys.events):
            if as_str(group.get("name")) == GROUP:
                return not int(group.get("lag") or 0)
        return True

    # ------------------------------------------------------------------------------------------------ prepare
    @metrics.timed("ingest.prepare")
    def _prepare(self, entries: Sequence[Entry]) -> _Prepared:
        out = _Prepared()
        latest: dict[str, tuple[str, DocumentEvent]] = {}
        for entry_id, fields in entries:
            if fields is None:  # deleted from the stream while pending
                out.ack_ids.append(entry_id)
                continue
            try:
                event = decode_event(fields)
            except PoisonEvent as exc:
                self._dead_letter(entry_id, fields, str(exc), attempts=1)
                continue
            previous = latest.get(event.doc_id)
            if previous is not None:  # a later event for the same document supersedes this one
                out.ack_ids.append(previous[0])
            latest[event.doc_id] = (entry_id, event)
        if not latest:
            return out
        # An early look, to save embedding work: the write itself checks again, atomically.
        states = self.index.document_states(list(latest))
        to_embed: list[tuple[str, DocumentEvent, list[str]]] = []
        for doc_id, (entry_id, event) in latest.items():
            state = states.get(doc_id)
            if state is not None and parse(state.version) >= parse(entry_id):
                self.stats.skipped_stale += 1
                out.ack_ids.append(entry_id)
                if state.version == entry_id:
                    out.replays.append(doc_id)
            elif event.op == "delete":
                out.deletes.append((entry_id, event))
            elif state is not None and state.content_hash == event.content_hash:
                out.unchanged.append((entry_id, event))
            else:
                to_embed.append((entry_id, event, self.splitter(event.text) if event.text.strip() else []))
        self._embed_into(to_embed, out)
        return out

    def _embed_into(self, docs: list[tuple[str, DocumentEvent, list[str]]], out: _Prepared) -> None:
        texts = [chunk for _, _, chunks in docs for chunk in chunks]
        try:
            vectors = embed_documents(self.embedder, texts) if texts else np.zeros((0, 0), dtype=np.float32)
            per_doc = _split_rows(vectors, [len(chunks) for _, _, chunks in docs])
        except Exception:  # find the culprit(s): embed document by document
            per_doc = []
            for entry_id, event, chunks in docs:
                try:
                    per_doc.append(embed_documents(self.embedder, chunks))
                except Exception as exc:
                    log.warning("embedding %s (entry %s) failed: %s", event.doc_id, entry_id, exc)
                    self._failed(entry_id, event, f"embedding failed: {exc!r}")
                    per_doc.append(None)
        for (entry_id, event, chunks), vectors in zip(docs, per_doc, strict=True):
            if vectors is None:
                continue
            records = [
                Record(
                    id=chunk_id(event.doc_id, n),
                    text=chunk,
                    vector=vectors[n],
                    metadata={**event.metadata, "chunk": n},
                    doc_id=event.doc_id,
                )
                for n, chunk in enumerate(chunks)
            ]
            out.upserts.append((entry_id, event, records))

    # -------------------------------------------------------------------------------------------------- write
    @metrics.timed("ingest.write")
    def _write(self, prepared: _Prepared) -> int:
        """Write a prepared batch; returns how many stream entries it finished (acknowledged)."""
        done = list(prepared.ack_ids)
        for entry_id, event, records in prepared.upserts:
            written = self.index.replace_document(
                event.doc_id, records, version=entry_id, content_hash=event.content_hash
            )
            done.append(entry_id)
            if not written.applied:
                self.stats.skipped_stale += 1
                continue
            self._record_fresh(event)
            self.stats.indexed += 1
            self.stats.chunks_written += len(records)
            metrics.count("ingest.documents_indexed")
            metrics.count("ingest.chunks_written", len(records))
        for entry_id, event in prepared.deletes:
            done.append(entry_id)
            if not self.index.delete_document(event.doc_id, version=entry_id, tombstone_ttl=self.tombstone_ttl).applied:
                self.stats.skipped_stale += 1
                continue
            self._record_fresh(event)
            self.stats.deleted += 1
            metrics.count("ingest.documents_deleted")
        for entry_id, event in prepared.unchanged:
            status = self.index.advance_document(event.doc_id, event.content_hash, version=entry_id).status
            if status == "changed":  # left pending: redone in full once reclaimed
                self.stats.requeued += 1
                continue
            done.append(entry_id)
            if status == "unchanged":
                self.stats.skipped_unchanged += 1
            else:
                self.stats.skipped_stale += 1
        if prepared.replays and self.index.invalidate_caches:
            # a replay's first attempt may have died between its write and a client-side invalidation (clusters)
            keys = freshness.keys_of(self.index.layout.key_prefix)  # the index's tenant's links
            freshness.invalidate_documents(self.client, prepared.replays, keys)
        if done:
            pipe = self.client.pipeline(transaction=False)
            pipe.xack(self.keys.events, GROUP, *done)
            pipe.hdel(self.keys.failures, *done)
            pipe.execute()
        self._trim()
        return len(done)

    def _record_fresh(self, event: DocumentEvent) -> None:
        if event.published_at:
            self.stats.freshness.append(time.time() - event.published_at)
            del self.stats.freshness[:-10_000]

    def _failed(self, entry_id: str, event: DocumentEvent, error: str) -> None:
        attempts = int(self.client.hincrby(self.keys.failures, entry_id, 1))
        if attempts >= self.max_retries:
            self._dead_letter(entry_id, DocumentEvent.encode(event), error, attempts)
        else:
            self.stats.retried += 1  # left pending: retried after claim_idle_ms by any worker

    def _dead_letter(self, entry_id: str, fields: dict[Any, Any], error: str, attempts: int) -> None:
        letter = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in fields.items()}
        letter |= {"entry_id": entry_id, "error": error[:2000], "attempts": str(attempts), "consumer": self.consumer}
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.keys.dead_letters, letter)
        pipe.xack(self.keys.events, GROUP, entry_id)
        pipe.hdel(self.keys.failures, entry_id)
        pipe.execute()
        self.stats.dead_lettered += 1
        metrics.count("ingest.dead_lettered")
        log.error("event %s dead-lettered after %d attempt(s): %s", entry_id, attempts, error)

    def _trim(self) -> None:
        """Drop entries every group has acknowledged; never one that is pending or not yet delivered."""
        floor: str | None = None
        for group in self.client.xinfo_groups(self.keys.events):
            name = as_str(group.get("name"))
            summary = self.client.xpending(self.keys.events, name)
            if int(summary.get("pending", 0)):
                candidate = as_str(summary["min"])
            else:
                last = as_str(group.get("last-delivered-id"))
                ms, _, seq = last.partition("-")
                candidate = f"{ms}-{int(seq or 0) + 1}"
            if floor is None or parse(candidate) < parse(floor):
                floor = candidate
        if floor is not None:
            self.client.xtrim(self.keys.events, minid=floor, approximate=False)


def _split_rows(vectors: np.ndarray, counts: list[int]) -> list[np.ndarray]:
    if sum(counts) != len(vectors):
        raise ValueError(f"embedder returned {len(vectors)} vectors for {sum(counts)} chunks")
    out, start = [], 0
    for n in counts:
        out.append(vectors[start : start + n])
        start += n
    return out
