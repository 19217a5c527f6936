"""Latency and counts of every operation, off by default, cheap when on, readable by ``redis-rag stats``.

Operations (the names ``redis-rag stats`` shows):

======================== ===============================================================================
``embed``                a batch through an embedder (counter ``embed.texts``)
``store.search``         KNN search; ``store.text_search`` BM25; ``store.hybrid_search`` both + fusion;
                         ``store.fusion`` the rank fusion alone; ``store.mmr_search``
``store.upsert``         writing records (counter ``store.records_written``); ``store.delete``
``cache.semantic.lookup`` a semantic cache lookup, embedding included (counters ``cache.semantic.hits`` /
                         ``.misses`` / ``.errors`` / ``.stores`` ..., labelled with the cache's name);
                         ``cache.semantic.store``; ``cache.exact.lookup`` / ``cache.exact.store`` likewise
``history.append``       appending messages (counter ``history.messages_written``); ``history.read``;
                         ``history.replace``; ``history.recall`` (relevant-turn recall)
``ingest.publish``       publishing events (counter ``ingest.events_published``); ``ingest.prepare`` (decode,
                         chunk, embed a batch) and ``ingest.write`` (index a batch; counters
                         ``ingest.documents_indexed`` / ``.documents_deleted`` / ``.chunks_written`` /
                         ``.dead_lettered``)
======================== ===============================================================================

Switching on: ``REDIS_RAG_METRICS=1`` in the environment (read when this module is first imported, which the
instrumented modules do), or :func:`enable` in code. Off, an instrumented call costs one attribute check in a
wrapper (``benchmarks/metrics_overhead.py`` measures it). On, a call adds two clock reads and a dict update under a
lock; the Redis write happens on a background thread every ``REDIS_RAG_METRICS_FLUSH_INTERVAL`` seconds (5).

Latencies of failed calls are counted (``errors``) but kept out of the percentiles (see :mod:`.histogram`).
Instrumentation lives in the framework-neutral cores, so LangChain and LlamaIndex use are both measured, once.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from .histogram import LatencyHistogram, bucket_bounds, bucket_of
from .recorder import Recorder
from .storage import DEFAULT_PREFIX, MetricKeys, MetricsWindow, read, reset

__all__ = [
    "DEFAULT_PREFIX",
    "LatencyHistogram",
    "MetricKeys",
    "MetricsWindow",
    "bucket_bounds",
    "bucket_of",
    "count",
    "disable",
    "enable",
    "enabled",
    "flush",
    "pending",
    "read",
    "reset",
    "timed",
    "timer",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The process-wide recorder. Instrumented code checks ``_recorder.on`` and nothing else while metrics are off.
_recorder = Recorder()


def enable(
    url: str | None = None,
    *,
    interval: float | None = None,
    prefix: str = DEFAULT_PREFIX,
    meter_provider: Any = None,
    otel: bool = True,
) -> None:
    """Start recording (process-wide) and flushing to Redis every ``interval`` seconds.

    Args:
        url: the Redis that receives the metrics. Default: ``REDIS_URL``, else this process's embedded Redis once
            something started it. Point every process of an application at the same Redis, and ``redis-rag stats``
            on that Redis shows them merged.
        interval: seconds between flushes; default ``Settings.metrics_flush_interval`` (5).
        prefix: key prefix of the metrics hashes (``rag:metrics``).
        meter_provider: an OpenTelemetry ``MeterProvider``; default the global one (a no-op unless the application
            configured the SDK).
        otel: also feed OpenTelemetry instruments (needs ``opentelemetry-api``; silently skipped without it).
    """
    if interval is None:
        from ..settings import get_settings

        interval = get_settings().metrics_flush_interval
    _recorder.configure(url=url, interval=interval, prefix=prefix, meter_provider=meter_provider, otel=otel)


def disable(*, flush: bool = True) -> None:
    """Stop recording; flush what is pending first (``flush=False`` drops it). Instrumented calls go back to the
    one-check path."""
    _recorder.shutdown(flush)


def enabled() -> bool:
    return _recorder.on


def flush() -> bool:
    """Write pending recordings to Redis now (the background thread does it every interval, and at exit).
    ``True`` when nothing is left pending. Never raises: a Redis failure is logged once and retried later."""
    return _recorder.flush()


def pending() -> tuple[dict[str, LatencyHistogram], dict[str, int]]:
    """What this process recorded and has not flushed yet: ``({operation: histogram}, {counter: total})``."""
    return _recorder.pending()


def count(name: str, n: int = 1, *, label: str | None = None) -> None:
    """Add ``n`` to counter ``name`` (``label``: which object, for example a cache's name). No-op while off."""
    if _recorder.on:
        _recorder.count(name, n, label)


def timed(operation: str) -> Callable[[F], F]:
    """Decorate a function or coroutine function so each call records its duration under ``operation``.

    The wrapper's first statement is the on/off check, so the cost while off is one attribute load and a branch
    on top of the extra call frame. Exceptions are counted as errors and re-raised untouched; a cancelled
    coroutine (``BaseException``) records nothing.
    """

    def decorate(fn: F) -> F:
        recorder = _recorder
        clock = time.perf_counter
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if not recorder.on:
                    return await fn(*args, **kwargs)
                start = clock()
                try:
                    result = await fn(*args, **kwargs)
                except Exception as exc:
                    recorder.observe(operation, clock() - start, exc)
                    raise
                recorder.observe(operation, clock() - start)
                return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not recorder.on:
                return fn(*args, **kwargs)
            start = clock()
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                recorder.observe(operation, clock() - start, exc)
                raise
            recorder.observe(operation, clock() - start)
            return result

        return cast(F, wrapper)

    return decorate


class _Timer:
    """Times a ``with`` block under one operation name (for code that is not a whole function)."""

    __slots__ = ("operation", "start")

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.start = 0.0

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            _recorder.observe(self.operation, time.perf_counter() - self.start)
        elif isinstance(exc, Exception):
            _recorder.observe(self.operation, time.perf_counter() - self.start, exc)


class _NoTimer:
    """What :func:`timer` hands out while metrics are off: enter and exit do nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoTimer:
        return self

    def __exit__(self, *_: object) -> None:
        return None


_NO_TIMER = _NoTimer()


def timer(operation: str) -> _Timer | _NoTimer:
    """``with metrics.timer("ingest.write"): ...`` -- a shared no-op object while metrics are off."""
    return _Timer(operation) if _recorder.on else _NO_TIMER


def _enable_from_environment() -> None:
    """Honour ``REDIS_RAG_METRICS`` at import. A settings object is built (not the cached one: importing must not
    freeze the settings before the application adjusts its environment); an invalid environment is left for the
    components to report, with metrics off."""
    from ..settings import Settings

    try:
        settings = Settings()
    except Exception:
        return
    if settings.metrics:
        enable(interval=settings.metrics_flush_interval)


_enable_from_environment()
