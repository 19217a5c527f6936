"""Where metrics live in Redis, how a process adds its share, and how ``redis-rag stats`` reads them back.

===================================== ====== ==========================================================================
``{prefix}:ops:hours``                ZSET   operation name -> last hour it was flushed (so readers never SCAN);
                                             names unseen for ``RETENTION_HOURS`` are dropped at flush time
``{prefix}:op:{operation}:{hour}``    HASH   one hour of one operation: ``count``, ``errors``, ``sum_us``, ``b{i}``
``{prefix}:counters:{hour}``          HASH   one hour of every counter: ``{name}`` or ``{name}|{label}`` -> total
``{prefix}:meta``                     HASH   ``first_flush`` / ``last_flush`` (unix seconds), ``bucket_scheme``
===================================== ====== ==========================================================================

``{hour}`` is ``unix time // 3600`` at flush time. Hourly keys, each expiring ``RETENTION_HOURS`` after its hour,
let ``redis-rag stats`` answer "the last N hours" -- what matters for a running system -- instead of a lifetime total
in which last week's slow spell would hide today's, and keep the footprint bounded without a cleanup job. The list
of operation names is bounded the same way: it was a SET of every name ever flushed (``{prefix}:ops``, still read
so that data written before the change shows up, never written), which grew forever when names were dynamic.

Every process adds its counts with ``HINCRBY`` (atomic, commutative), so any number of processes flush into the same
hashes without coordination and nothing is ever overwritten. One flush is one pipeline: a MULTI/EXEC on a standalone
server (a reader never sees half a flush); on a cluster, where one transaction cannot span slots, a plain pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..connection import is_cluster
from ..decoding import as_str
from .histogram import BUCKETS_PER_OCTAVE, LatencyHistogram

DEFAULT_PREFIX = "rag:metrics"
PERIOD_SECONDS = 3600
#: Hours an hourly hash is kept after its hour ends (8 days: a full week back, whatever the hour now).
RETENTION_HOURS = 8 * 24
#: Stored in the meta hash so that a reader can refuse data written with other bucket boundaries.
BUCKET_SCHEME = f"log2/{BUCKETS_PER_OCTAVE}us"
#: Separates a counter's name from its label (a cache name) in a field; counter names never contain it.
LABEL_SEPARATOR = "|"


@dataclass(frozen=True)
class MetricKeys:
    """Key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def ops(self) -> str:
        """Operation names by the last hour they were flushed (a sorted set)."""
        return f"{self.prefix}:ops:hours"

    @property
    def legacy_ops(self) -> str:
        """The unbounded SET of names written by earlier versions: read, never written."""
        return f"{self.prefix}:ops"

    @property
    def meta(self) -> str:
        return f"{self.prefix}:meta"

    def op(self, operation: str, hour: int) -> str:
        return f"{self.prefix}:op:{operation}:{hour}"

    def counters(self, hour: int) -> str:
        return f"{self.prefix}:counters:{hour}"

    def pattern(self) -> str:
        """Every key of this prefix (for ``redis-rag stats --reset``)."""
        return f"{self.prefix}:*"


def current_hour(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // PERIOD_SECONDS)


def counter_field(name: str, label: str | None) -> str:
    return name if label is None else f"{name}{LABEL_SEPARATOR}{label}"


def write(
    client: Any,
    keys: MetricKeys,
    operations: Mapping[str, LatencyHistogram],
    counters: Mapping[str, int],
    now: float | None = None,
) -> None:
    """Add one process's recordings since its last flush, in one round trip. Raises what Redis raises."""
    now = time.time() if now is None else now
    hour = current_hour(now)
    expire_at = (hour + 1 + RETENTION_HOURS) * PERIOD_SECONDS
    pipe = client.pipeline(transaction=not is_cluster(client))
    names = []
    for operation, hist in operations.items():
        fields = hist.to_fields()
        if not fields:
            continue
        key = keys.op(operation, hour)
        for name, value in fields.items():
            pipe.hincrby(key, name, value)
        pipe.expireat(key, expire_at)
        names.append(operation)
    if names:
        pipe.zadd(keys.ops, dict.fromkeys(names, hour), gt=True)
        pipe.zremrangebyscore(keys.ops, "-inf", hour - RETENTION_HOURS - 1)
    wanted = {name: n for name, n in counters.items() if n}
    if wanted:
        key = keys.counters(hour)
        for name, n in wanted.items():
            pipe.hincrby(key, name, n)
        pipe.expireat(key, expire_at)
    pipe.hsetnx(keys.meta, "first_flush", repr(now))
    pipe.hset(keys.meta, mapping={"last_flush": repr(now), "bucket_scheme": BUCKET_SCHEME})
    pipe.execute()


@dataclass
class MetricsWindow:
    """Everything recorded in the last ``hours`` hours, merged over processes."""

    hours: int
    operations: dict[str, LatencyHistogram] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    first_flush: float | None = None
    last_flush: float | None = None
    bucket_scheme: str | None = None

    def counter(self, name: str, label: str | None = None) -> int:
        return self.counters.get(counter_field(name, label), 0)

    def labels(self, name: str) -> list[str]:
        """Labels seen for counter ``name`` (for example every cache name that counted hits or misses)."""
        head = name + LABEL_SEPARATOR
        return sorted({k[len(head) :] for k in self.counters if k.startswith(head)})


def read(client: Any, keys: MetricKeys, hours: int = 24, now: float | None = None) -> MetricsWindow:
    """Merge the hourly hashes of the last ``hours`` hours (the current, partial hour included).

    Raises ``ValueError`` when the stored bucket scheme is not ours: percentiles computed with the wrong
    boundaries would be silently wrong.
    """
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= RETENTION_HOURS:
        raise ValueError(f"hours must be an int within [1, {RETENTION_HOURS}], got {hours!r}")
    last = current_hour(now)
    periods = range(last - hours + 1, last + 1)
    names = client.zrangebyscore(keys.ops, last - hours + 1, "+inf")
    operations = sorted({as_str(m) for m in names} | {as_str(m) for m in client.smembers(keys.legacy_ops)})
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.meta)
    for operation in operations:
        for hour in periods:
            pipe.hgetall(keys.op(operation, hour))
    for hour in periods:
        pipe.hgetall(keys.counters(hour))
    replies = iter(pipe.execute())
    meta = {as_str(k): as_str(v) for k, v in next(replies).items()}
    scheme = meta.get("bucket_scheme")
    if scheme is not None and scheme != BUCKET_SCHEME:
        raise ValueError(
            f"metrics under {keys.prefix!r} use bucket scheme {scheme!r}, this version reads {BUCKET_SCHEME!r}: "
            "reset them with `redis-rag stats --reset`"
        )
    window = MetricsWindow(hours=hours, bucket_scheme=scheme)
    window.first_flush = float(meta["first_flush"]) if "first_flush" in meta else None
    window.last_flush = float(meta["last_flush"]) if "last_flush" in meta else None
    for operation in operations:
        merged = LatencyHistogram()
        for _ in periods:
            merged.merge(LatencyHistogram.from_fields(next(replies)))
        if merged.count or merged.errors:
            window.operations[operation] = merged
    for _ in periods:
        for name, value in next(replies).items():
            window.counters[as_str(name)] = window.counters.get(as_str(name), 0) + int(value)
    return window


def reset(client: Any, keys: MetricKeys) -> int:
    """Delete every metrics key under the prefix (SCAN, never KEYS); returns how many went."""
    deleted = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=keys.pattern(), count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += sum(int(client.unlink(k)) for k in batch) if is_cluster(client) else int(client.unlink(*batch))
            batch = []
    if batch:
        deleted += sum(int(client.unlink(k)) for k in batch) if is_cluster(client) else int(client.unlink(*batch))
    return deleted
