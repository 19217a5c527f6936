"""Writes of a semantic cache taken off the caller's critical path (write-behind), without losing any silently.

Why: after a miss the user's answer is already there; the entry written for the next caller (the hash, its
document links, the eviction order: one MULTI) costs a round trip plus the server's time for the link scripts,
and the caller need not wait for it. :meth:`WriteBehindMethods.store_later` checks the input on the caller's
thread (bad input raises there, as :meth:`~.semantic.SemanticCache.store` does), then hands the write to the
cache's worker thread, which runs exactly what ``store`` runs, on the cache's synchronous client.

The rules that keep it honest:

* **bounded**: at most ``capacity`` writes wait; a caller that finds the queue full waits for room (counted in
  :attr:`WriteBehind.waited`): nothing is dropped;
* **errors counted and logged**: a Redis fault is what ``store`` makes of it (``stats.errors`` and the fault
  guard's warning); any other exception is logged with its traceback and counted in ``stats.errors`` and
  :attr:`WriteBehind.failed`;
* **read-your-writes in the process**: a lookup of an entry key whose write is pending waits for that write
  first (:meth:`WriteBehind.settle`), so the process sees its own answer;
* **flushed**: by :meth:`WriteBehindMethods.flush`, by ``close()`` and the cache's maintenance calls (clear,
  invalidate, ``len``, delete_index), and at interpreter exit by an ``atexit`` hook registered on first use (no
  signal handlers: a library does not change its host). The worker is a daemon thread that ends when idle; a
  write still pending when the exit flush gives up is logged, not awaited forever;
* **sync and async**: the asyncio methods queue the same way (waiting for room or for a pending write off the
  event loop), and the worker writes with the synchronous client: one code path, and no task tied to an event
  loop that may close before the write is done.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import freshness
from ..questions import aembed_question, embed_question
from .entry import SourceRef
from .guard import REDIS_FAULTS
from .semantic_entries import LLMScope, UserScope, entry_mapping

if TYPE_CHECKING:
    from .semantic import SemanticCache

    _Cache = SemanticCache
else:
    _Cache = object

__all__ = ["DEFAULT_CAPACITY", "EXIT_TIMEOUT", "WriteBehind", "WriteBehindMethods"]

logger = logging.getLogger("redis_rag_integrations.cache")

#: Writes that may wait per cache before a caller waits for room (each holds one entry: a vector and an answer).
DEFAULT_CAPACITY = 256
#: Seconds the exit hook waits for each cache's pending writes (each write is bounded by the socket timeouts).
EXIT_TIMEOUT = 10.0
#: Seconds an idle worker waits for work before its thread ends (the next write starts a new one).
IDLE_SECONDS = 30.0
#: Watches to end (:meth:`WriteBehind.end_later`) kept for the next pipelined watch before the worker ends them.
MAX_ENDED = 64

_live: weakref.WeakSet[WriteBehind] = weakref.WeakSet()
_hook_lock = threading.Lock()
_hooked = False


def _flush_at_exit() -> None:
    """The ``atexit`` hook: every live queue written out, or what could not be said in the log."""
    for queue in list(_live):
        if not queue.flush(EXIT_TIMEOUT):
            logger.error(
                "semantic cache %s: %d cache writes still pending at interpreter exit after %.0f s; not written",
                queue.name, queue.unfinished, EXIT_TIMEOUT,
            )  # fmt: skip


def _hook() -> None:
    global _hooked
    with _hook_lock:
        if not _hooked:
            atexit.register(_flush_at_exit)
            _hooked = True


class WriteBehind:
    """One cache's queue of writes and the daemon thread that runs them in order (see the module docstring)."""

    def __init__(
        self, name: str, capacity: int = DEFAULT_CAPACITY, on_error: Callable[[], None] | None = None,
        release: Callable[[list[int]], object] | None = None,
    ) -> None:  # fmt: skip
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self.name = name
        self.capacity = capacity
        self._on_error = on_error
        #: Ends watch tokens in Redis (the cache's); what :meth:`flush` calls for the tokens :meth:`end_later` kept.
        self._release = release
        self._ended: list[int] = []
        self._cond = threading.Condition()
        self._items: deque[tuple[str | None, Callable[[], object], Future[None]]] = deque()
        self._pending: dict[str, Future[None]] = {}
        self._thread: threading.Thread | None = None
        #: Writes queued or running.
        self.unfinished = 0
        #: Writes that ran without raising, writes that raised (logged), callers that waited for room.
        self.written = 0
        self.failed = 0
        self.waited = 0

    # --- queueing ------------------------------------------------------------------------------------------------
    def submit(self, key: str | None, write: Callable[[], object]) -> Future[None]:
        """Queue ``write`` (for entry ``key``: lookups of it wait; ``None`` for bookkeeping), waiting for room."""
        with self._cond:
            while len(self._items) >= self.capacity:
                self.waited += 1
                self._start()
                self._cond.wait()
            return self._queue(key, write)

    def try_submit(self, key: str | None, write: Callable[[], object]) -> Future[None] | None:
        """:meth:`submit` if there is room now, else ``None`` (the async caller then waits off its loop)."""
        with self._cond:
            return None if len(self._items) >= self.capacity else self._queue(key, write)

    async def asubmit(self, key: str | None, write: Callable[[], object]) -> Future[None]:
        queued = self.try_submit(key, write)
        return queued if queued is not None else await asyncio.to_thread(self.submit, key, write)

    def _queue(self, key: str | None, write: Callable[[], object]) -> Future[None]:
        done: Future[None] = Future()
        self._items.append((key, write, done))
        self.unfinished += 1
        if key is not None:
            self._pending[key] = done  # the latest write of a key finishes last (one worker, in order)
        self._start()
        self._cond.notify_all()
        return done

    def end_later(self, token: int) -> None:
        """Keep ``token`` (a watch whose answer will not be stored) for the next pipelined watch to end
        (:meth:`take_ended`: no command, no thread of its own); past :data:`MAX_ENDED` kept, or at :meth:`flush`,
        the worker ends them in one command. Until then the watch only makes a document change write a stamp."""
        with self._cond:
            _hook()
            _live.add(self)
            self._ended.append(token)
            if len(self._ended) < MAX_ENDED or self._release is None:
                return
            ended, self._ended = self._ended, []
        self.submit(None, partial(self._release, ended))

    def take_ended(self) -> list[int]:
        """The watches kept by :meth:`end_later`, now the caller's to end (in the pipeline it sends)."""
        with self._cond:
            ended, self._ended = self._ended, []
        return ended

    def _start(self) -> None:
        """A worker thread if none runs (under the lock): the first write, or the first after an idle exit."""
        if self._thread is None or not self._thread.is_alive():
            _hook()
            _live.add(self)
            self._thread = threading.Thread(target=self._run, name=f"cache-writes-{self.name}", daemon=True)
            self._thread.start()

    # --- the worker ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._items and not self._cond.wait_for(lambda: self._items, IDLE_SECONDS):
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
                key, write, done = self._items.popleft()
                self._cond.notify_all()  # room for a caller waiting in submit()
            ok = self._call(write)
            with self._cond:
                self.written += ok
                self.failed += not ok
                self.unfinished -= 1
                if key is not None and self._pending.get(key) is done:
                    del self._pending[key]
                self._cond.notify_all()
            done.set_result(None)

    def _call(self, write: Callable[[], object]) -> bool:
        try:
            write()
        except BaseException:  # Redis faults are handled inside the write; anything else is a bug to see (and a
            # BaseException must not end the worker with writes still counted as unfinished: flush would wait)
            logger.error("semantic cache %s: a write-behind write failed; it was not written", self.name, exc_info=True)
            if self._on_error is not None:
                self._on_error()
            return False
        return True

    # --- waiting -------------------------------------------------------------------------------------------------
    def _in_worker(self) -> bool:
        return self._thread is threading.current_thread()

    def settle(self, key: str) -> None:
        """Wait until the pending write of entry ``key`` (if any) is done."""
        done = self._pending.get(key)
        if done is not None and not self._in_worker():
            done.result()

    async def asettle(self, key: str) -> None:
        done = self._pending.get(key)
        if done is not None and not done.done():
            await asyncio.wrap_future(done)

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def flush(self, timeout: float | None = None) -> bool:
        """End the watches kept by :meth:`end_later` and wait until every queued write is done; ``False`` when
        ``timeout`` ran out first."""
        if self._in_worker():
            return self.unfinished == 0
        ended = self.take_ended()
        if ended and self._release is not None:
            self.submit(None, partial(self._release, ended))
        with self._cond:
            if self._items:
                self._start()  # a worker that ended (forked child, idle exit racing a submit) is replaced
            return self._cond.wait_for(lambda: self.unfinished == 0, timeout)


class WriteBehindMethods(_Cache):
    """Mixed into :class:`~.semantic.SemanticCache`: the write-behind store and the flushes around it."""

    _writes: WriteBehind

    def store_later(
        self,
        prompt: str,
        response: str,
        *,
        llm: LLMScope = None,
        scope: UserScope = None,
        payload: str | None = None,
        meta: Mapping[str, Any] | None = None,
        sources: Sequence[SourceRef] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        ttl: int | None = None,
        since: int | None = None,
    ) -> str | None:
        """:meth:`store`, written by the cache's worker thread: returns the key the entry will have, or ``None``
        when Redis is marked down (counted as ``skipped``, as ``store`` does). Bad input raises here. The write's
        outcome (stored, stale, a fault) is counted in :attr:`stats` when it has run (see :meth:`flush`)."""
        checked = self._checked_later(prompt, response, payload, meta, sources, ttl, since)
        if checked is None:
            return None
        vec = self._vector(embed_question(self.embedder, self._embed_text(prompt)[0]) if vector is None else vector)
        key, write = self._entry_write(prompt, response, vec, llm, scope, payload, checked, sources, since)
        self._writes.submit(key, write)
        return key

    async def astore_later(
        self,
        prompt: str,
        response: str,
        *,
        llm: LLMScope = None,
        scope: UserScope = None,
        payload: str | None = None,
        meta: Mapping[str, Any] | None = None,
        sources: Sequence[SourceRef] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        ttl: int | None = None,
        since: int | None = None,
    ) -> str | None:
        """Async :meth:`store_later` (waits for room in the queue off the event loop)."""
        checked = self._checked_later(prompt, response, payload, meta, sources, ttl, since)
        if checked is None:
            return None
        raw = await aembed_question(self.embedder, self._embed_text(prompt)[0]) if vector is None else vector
        vec = self._vector(raw)
        key, write = self._entry_write(prompt, response, vec, llm, scope, payload, checked, sources, since)
        await self._writes.asubmit(key, write)
        return key

    def _checked_later(
        self, prompt: str, response: str, payload: str | None, meta: Mapping[str, Any] | None,
        sources: Sequence[SourceRef] | None, ttl: int | None, since: int | None,
    ) -> tuple[str, int | None] | None:  # fmt: skip
        """The checked input of a write-behind store (bad input raises here, on the caller's thread), or ``None``
        when Redis is marked down: counted as ``skipped``, and the watch taken before the answer is ended."""
        checked = self._prepare_store(prompt, response, payload, meta, sources, ttl)
        if not self.guard.available():
            self.stats.count("skipped")
            self.unwatch_later(since)
            return None
        return checked

    def _entry_write(
        self, prompt: str, response: str, vec: Any, llm: LLMScope, scope: UserScope, payload: str | None,
        checked: tuple[str, int | None], sources: Sequence[SourceRef] | None, since: int | None,
    ) -> tuple[str, Callable[[], object]]:  # fmt: skip
        """The entry key and the write the worker runs for it (what :meth:`store` writes)."""
        meta_json, entry_ttl = checked
        key = self.entry_key(prompt, llm, scope)
        mapping = entry_mapping(prompt, response, vec, llm, scope, payload, meta_json, entry_ttl)
        return key, partial(self._write_entry, key, mapping, entry_ttl, sources, since)

    def write_later(self, prompt: str, llm: LLMScope, scope: UserScope, write: Callable[[], object]) -> str:
        """Run ``write`` on the worker thread as the pending write of the entry of ``prompt`` in these scopes
        (lookups of it wait for it): for a caller that also leaves the encoding of the answer off its critical
        path (the agent middleware), and stores through :meth:`store` inside ``write``. Returns the entry key."""
        key = self.entry_key(prompt, llm, scope)
        self._writes.submit(key, write)
        return key

    async def awrite_later(self, prompt: str, llm: LLMScope, scope: UserScope, write: Callable[[], object]) -> str:
        """Async :meth:`write_later` (waits for room in the queue off the event loop)."""
        key = self.entry_key(prompt, llm, scope)
        await self._writes.asubmit(key, write)
        return key

    def unwatch_later(self, token: int | None) -> None:
        """:meth:`unwatch` without a round trip of its own: the token is ended by the next watch this cache sends
        in a pipeline (:mod:`.lookup_plan`), or by the worker at :meth:`flush` / ``close()`` / exit, or once
        :data:`MAX_ENDED` are kept (:meth:`WriteBehind.end_later`)."""
        if token is not None:
            self._writes.end_later(token)

    async def aunwatch_later(self, token: int | None) -> None:
        """Async :meth:`unwatch_later`."""
        self.unwatch_later(token)

    def _unwatch_many(self, tokens: list[int]) -> None:
        """End ``tokens`` in one command (the worker's part of :meth:`unwatch_later`)."""
        try:
            client, _ = self._sync_index()
            freshness.unwatch_many(client, tokens, self._fresh)
        except REDIS_FAULTS as exc:
            self._fault("unwatch", exc)

    def settle(self, prompt: str, llm: LLMScope = None, scope: UserScope = None) -> None:
        """Wait for a pending write of the entry of exactly this prompt and scope (read-your-writes)."""
        if self._writes.has_pending:
            self._writes.settle(self.entry_key(prompt, llm, scope))

    async def asettle(self, prompt: str, llm: LLMScope = None, scope: UserScope = None) -> None:
        if self._writes.has_pending:
            await self._writes.asettle(self.entry_key(prompt, llm, scope))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for every write queued by :meth:`store_later`; ``False`` when ``timeout`` ran out first."""
        return self._writes.flush(timeout)

    async def aflush(self, timeout: float | None = None) -> bool:
        if self._writes.unfinished == 0:
            return True
        return await asyncio.to_thread(self._writes.flush, timeout)
