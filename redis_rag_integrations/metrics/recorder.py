"""The process-wide recorder: in-memory histograms and counters, a background flush to Redis, an OpenTelemetry feed.

Recording touches memory only (a lock, a dict, an addition): the application's hot path never waits for Redis on
account of metrics. A daemon thread moves what was recorded to Redis every ``interval`` seconds, and once more at
exit (see :mod:`.storage` for the layout). A failed flush keeps the data for the next attempt -- bounded, because
histograms have fixed buckets -- and is logged once per outage, never raised: metrics must not break an operation.

The same recordings feed OpenTelemetry instruments on a meter named ``redis_rag_integrations``. With only the
OpenTelemetry API installed, and no SDK configured by the application, those instruments are no-ops; an application
that configures a ``MeterProvider`` gets our histograms and counters in its own exporter for free.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import logging
import os
import threading
from typing import Any

from .histogram import LatencyHistogram, boundaries_seconds
from .storage import DEFAULT_PREFIX, MetricKeys, counter_field, write

log = logging.getLogger("redis_rag_integrations.metrics")

METER_NAME = "redis_rag_integrations"
#: Short timeouts for the flush client: a slow or dead metrics target must not hold up exit for long.
FLUSH_TIMEOUT = 1.0


class Recorder:
    """What :mod:`redis_rag_integrations.metrics` records into. One per process (see ``metrics._recorder``).

    ``on`` is the one attribute the instrumented code checks before doing anything else.
    """

    def __init__(self) -> None:
        self.on = False
        self.url: str | None = None
        self.keys = MetricKeys(DEFAULT_PREFIX)
        self.interval = 5.0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._operations: dict[str, LatencyHistogram] = {}
        self._counters: dict[str, int] = {}
        self._client: Any = None
        self._embedded: Any = None  # the embedded server the client points at, when that is the target
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._otel: _OtelInstruments | None = None
        self._warned: set[str] = set()
        self._hooks_installed = False

    # --- switching ------------------------------------------------------------------------------------------
    def configure(
        self,
        *,
        url: str | None,
        interval: float,
        prefix: str,
        meter_provider: Any,
        otel: bool,
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval <= 3600:
            raise ValueError(f"metrics flush interval must be within (0, 3600] seconds, got {interval!r}")
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"metrics prefix must be a non-empty string without whitespace, got {prefix!r}")
        if url is not None and not isinstance(url, str):
            raise TypeError(f"url must be a Redis URL string or None, got {type(url).__name__}")
        with self._flush_lock:
            if url != self.url:
                self._drop_client()
            self.url = url
            self.keys = MetricKeys(prefix)
        self._otel = _OtelInstruments.create(meter_provider) if otel else None
        self._install_hooks()
        restart = self.interval != interval
        self.interval = float(interval)
        self.on = True
        if restart:
            self._stop_thread()
        self._start_thread()

    def shutdown(self, flush: bool) -> None:
        """Stop recording; flush what is pending (``flush=True``) or drop it."""
        self.on = False
        self._stop_thread()
        if flush:
            self.flush()
        else:
            with self._lock:
                self._operations, self._counters = {}, {}
        with self._flush_lock:
            self._drop_client()

    # --- recording (called only while ``on``) ---------------------------------------------------------------
    def observe(self, operation: str, seconds: float, error: BaseException | None = None) -> None:
        try:
            with self._lock:
                hist = self._operations.get(operation)
                if hist is None:
                    hist = self._operations[operation] = LatencyHistogram()
                if error is None:
                    hist.record(seconds * 1e6)
                else:
                    hist.errors += 1
            otel = self._otel
            if otel is not None:
                otel.observe(operation, seconds, error)
        except Exception as exc:  # never into the caller's operation
            self._warn_once("record", exc)

    def count(self, name: str, n: int, label: str | None) -> None:
        try:
            field = counter_field(name, label)
            with self._lock:
                self._counters[field] = self._counters.get(field, 0) + n
            otel = self._otel
            if otel is not None:
                otel.count(name, n, label)
        except Exception as exc:
            self._warn_once("record", exc)

    def pending(self) -> tuple[dict[str, LatencyHistogram], dict[str, int]]:
        """Copies of what was recorded and not yet flushed."""
        with self._lock:
            ops = {name: LatencyHistogram().merge(h) for name, h in self._operations.items()}
            return ops, dict(self._counters)

    # --- flushing -------------------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Move pending recordings to Redis. ``True`` when nothing is left pending; never raises."""
        with self._flush_lock:
            with self._lock:
                operations, self._operations = self._operations, {}
                counters, self._counters = self._counters, {}
            if not operations and not counters:
                return True
            try:
                client = self._target()
                if client is None:  # no Redis known yet (nothing used one): keep the data for later
                    self._restore(operations, counters)
                    return False
                write(client, self.keys, operations, counters)
            except Exception as exc:
                self._restore(operations, counters)
                self._drop_client()
                self._warn_once("flush", exc)
                return False
            if "flush" in self._warned:
                self._warned.discard("flush")
                log.warning("metrics flush to Redis works again")
            return True

    def _restore(self, operations: dict[str, LatencyHistogram], counters: dict[str, int]) -> None:
        with self._lock:
            for name, hist in operations.items():
                self._operations.setdefault(name, LatencyHistogram()).merge(hist)
            for name, n in counters.items():
                self._counters[name] = self._counters.get(name, 0) + n

    def _target(self) -> Any:
        """The flush client: the configured URL, else ``REDIS_URL``, else this process's embedded Redis if it runs.

        Never starts an embedded server: a process that only embedded texts has no Redis to report to, and
        starting one just to write metrics nobody can read would be absurd.
        """
        if self._embedded is not None and not self._embedded.running:
            self._drop_client()
        if self._client is not None:
            return self._client
        from ..connection import get_client
        from ..settings import get_settings

        settings = get_settings()
        url, embedded = self.url or settings.redis_url, None
        if url is None:
            embedded = _running_embedded_server()
            if embedded is None:
                return None
            url = embedded.url
        quick = settings.model_copy(update={"socket_timeout": FLUSH_TIMEOUT, "connect_timeout": FLUSH_TIMEOUT})
        self._client = get_client(url, settings=quick)
        self._embedded = embedded
        return self._client

    def _drop_client(self) -> None:
        client, self._client, self._embedded = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # a broken client is being thrown away anyway
                client.close()

    # --- the background thread and process hooks -------------------------------------------------------------
    def _start_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(self._stop, self.interval), name="redis-rag-metrics-flush", daemon=True
        )
        self._thread.start()

    def _loop(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            self.flush()

    def _stop_thread(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _install_hooks(self) -> None:
        if self._hooks_installed:
            return
        self._hooks_installed = True
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _at_exit(self) -> None:
        if self.on:
            self._stop.set()
            self.flush()

    def _after_fork(self) -> None:
        """In a forked child: the parent flushes what it recorded, the child starts empty with its own thread."""
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._operations, self._counters = {}, {}
        self._client = self._embedded = None
        self._thread = None
        self._stop = threading.Event()
        if self.on:
            self._start_thread()

    def _warn_once(self, kind: str, exc: BaseException) -> None:
        if kind in self._warned:
            log.debug("metrics %s failed again: %r", kind, exc)
            return
        self._warned.add(kind)
        log.warning("metrics %s failed (the operation itself is unaffected; logged once): %r", kind, exc)


def _running_embedded_server() -> Any:
    """This process's shared embedded Redis if it was started and still runs, else ``None`` (never starts one)."""
    from .. import server

    shared = server._shared.current
    return shared if shared is not None and shared.running else None


def _package_version() -> str | None:
    """From the installed distribution: the package ``__init__`` may still be importing when metrics switch on."""
    try:
        return importlib.metadata.version("redis-rag-integrations")
    except importlib.metadata.PackageNotFoundError:
        return None


class _OtelInstruments:
    """Our histograms and counters as OpenTelemetry instruments (no-ops unless the application set up the SDK)."""

    def __init__(self, meter: Any) -> None:
        self.meter = meter
        try:
            self.duration = meter.create_histogram(
                "redis_rag.operation.duration",
                unit="s",
                description="Duration of redis_rag_integrations operations (embed, search, cache lookup, ...)",
                explicit_bucket_boundaries_advisory=boundaries_seconds(),
            )
        except TypeError:  # opentelemetry-api before 1.23 has no bucket advisory
            self.duration = meter.create_histogram(
                "redis_rag.operation.duration", unit="s", description="Duration of redis_rag_integrations operations"
            )
        self.counters: dict[str, Any] = {}
        self._attributes: dict[str, dict[str, str]] = {}

    @classmethod
    def create(cls, meter_provider: Any) -> _OtelInstruments | None:
        try:
            from opentelemetry import metrics as otel_metrics
        except ImportError:
            log.debug("opentelemetry-api is not installed: metrics go to Redis only")
            return None
        provider = meter_provider if meter_provider is not None else otel_metrics.get_meter_provider()
        return cls(provider.get_meter(METER_NAME, _package_version()))

    def observe(self, operation: str, seconds: float, error: BaseException | None) -> None:
        if error is None:
            attributes = self._attributes.get(operation)
            if attributes is None:
                attributes = self._attributes[operation] = {"redis_rag.operation": operation}
        else:
            attributes = {"redis_rag.operation": operation, "error.type": type(error).__qualname__}
        self.duration.record(seconds, attributes)

    def count(self, name: str, n: int, label: str | None) -> None:
        counter = self.counters.get(name)
        if counter is None:
            counter = self.counters[name] = self.meter.create_counter(f"redis_rag.{name}")
        counter.add(n, {"redis_rag.name": label} if label is not None else None)
