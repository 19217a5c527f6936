"""Timing loops shared by every section, and by the legacy-LlamaIndex subprocess (so: stdlib and numpy only).

- :func:`interleaved`: the cases run one after the other on the same input, input by input, in a random order each,
  so that machine noise (other processes on a shared 2-core box) hits every case alike and ratios stay honest.
- :class:`QpsPool`: throughput at 1 and 2 client processes. Worker processes are spawned once, build every engine
  once, and then run whichever engine they are told for a fixed time: spawning per measurement would cost more
  than the measurement.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
Engine = Callable[[Any], object]
#: ``"module:function"``; the function takes the spec dict and returns ``{engine name: callable(query)}``.
FactoryPath = str


def interleaved(
    cases: Mapping[str, Callable[[T], object]], inputs: Sequence[T], rounds: int, warmup: int = 20
) -> dict[str, list[float]]:
    """Latency samples in milliseconds per case: ``rounds`` passes over ``inputs``, every case on every input."""
    names = list(cases)
    for name in names:
        for x in inputs[:warmup]:
            cases[name](x)
    out: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    # A fresh random order per input (seeded: the same run twice runs alike). A rotated fixed order put every case
    # always right after the same other case, whose after-effects (a cold cache after a slow engine) then biased it.
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        for x in inputs:
            for j in rng.permutation(len(names)):
                name = names[j]
                fn = cases[name]
                start = clock()
                fn(x)
                out[name].append((clock() - start) * 1000.0)
    return out


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=np.float64)
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
    }


def timed(fn: Callable[[], object], rounds: int, warmup: int = 5) -> list[float]:
    """Latency samples in milliseconds of ``fn()`` called ``rounds`` times (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    out = []
    clock = time.perf_counter
    for _ in range(rounds):
        start = clock()
        fn()
        out.append((clock() - start) * 1000.0)
    return out


def load_factory(path: FactoryPath) -> Callable[[dict[str, Any]], dict[str, Engine]]:
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"factory must be 'module:function', got {path!r}")
    return getattr(importlib.import_module(module), name)


def _qps_worker(factory: FactoryPath, spec: dict[str, Any], queries: np.ndarray, inbox: Any, outbox: Any) -> None:
    """A client process: build the engines, warm them, then run ``(engine, seconds)`` commands until ``None``."""
    try:
        engines = load_factory(factory)(spec)
        for fn in engines.values():
            for q in queries[:10]:
                fn(q)
    except BaseException as exc:
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    outbox.put(("ready", None))
    while (command := inbox.get()) is not None:
        name, seconds = command
        fn = engines[name]
        n, count = len(queries), 0
        clock = time.perf_counter
        start = clock()
        deadline = start + seconds
        while clock() < deadline:
            fn(queries[count % n])
            count += 1
        outbox.put(("done", count / (clock() - start)))


class QpsPool:
    """``procs`` spawned client processes; :meth:`measure` runs one engine on the first ``n`` of them at once."""

    def __init__(
        self, factory: FactoryPath, spec: dict[str, Any], queries: np.ndarray, procs: int = 2, timeout: float = 180.0
    ) -> None:
        if procs < 1:
            raise ValueError(f"procs must be >= 1, got {procs}")
        ctx = mp.get_context("spawn")  # fork would copy torch threads and live Redis connections
        self._outbox = ctx.Queue()
        self._inboxes = [ctx.Queue() for _ in range(procs)]
        self._procs = [
            ctx.Process(target=_qps_worker, args=(factory, spec, queries, inbox, self._outbox), daemon=True)
            for inbox in self._inboxes
        ]
        for p in self._procs:
            p.start()
        self.timeout = timeout
        try:
            for _ in self._procs:
                self._receive("ready")
        except BaseException:
            self.close()
            raise

    def _receive(self, wanted: str) -> Any:
        """The next message of kind ``wanted``; fails fast when a worker died instead of waiting out the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                kind, payload = self._outbox.get(timeout=0.5)
                break
            except queue.Empty:
                dead = [p.exitcode for p in self._procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"a QPS worker process exited (codes {dead}) before answering") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"QPS worker sent nothing for {self.timeout:.0f} s") from None
        if kind == "error":
            raise RuntimeError(f"QPS worker failed: {payload}")
        if kind != wanted:
            raise RuntimeError(f"QPS worker sent {kind!r}, expected {wanted!r}")
        return payload

    def measure(self, engine: str, procs: int, seconds: float) -> float:
        """Queries per second of ``engine`` summed over ``procs`` processes running concurrently."""
        if not 1 <= procs <= len(self._procs):
            raise ValueError(f"procs must be between 1 and {len(self._procs)}, got {procs}")
        for inbox in self._inboxes[:procs]:
            inbox.put((engine, seconds))
        return float(sum(self._receive("done") for _ in range(procs)))

    def close(self) -> None:
        for inbox, p in zip(self._inboxes, self._procs, strict=True):
            if p.is_alive():
                inbox.put(None)
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)

    def __enter__(self) -> QpsPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def qps_rounds(
    pool: QpsPool, engines: Sequence[str], procs: Sequence[int], seconds: float, rounds: int
) -> dict[str, list[float]]:
    """Median QPS per engine and process count, engines interleaved round by round: ``{engine: [qps per procs]}``."""
    samples: dict[tuple[str, int], list[float]] = {(e, p): [] for e in engines for p in procs}
    for r in range(rounds):
        order = list(engines[r % len(engines) :]) + list(engines[: r % len(engines)])
        for e in order:
            for p in procs:
                samples[(e, p)].append(pool.measure(e, p, seconds))
    return {e: [float(np.median(samples[(e, p)])) for p in procs] for e in engines}
