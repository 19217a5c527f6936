"""Log-scale latency histograms with fixed bucket boundaries: cheap to record, exact to merge, small to store.

Why fixed log-scale buckets rather than a sample reservoir or a sketch (t-digest, DDSketch): every process of an
application records on its own, and ``redis-rag stats`` must combine them. With boundaries fixed by a formula, merging
is adding counts bucket by bucket -- which Redis does for us with ``HINCRBY``, from any number of processes at once,
with no read-modify-write -- and a percentile computed from the merged counts is as good as one computed from all
samples in one place. A reservoir cannot be merged exactly; a sketch would need a script on the server.

Bucket ``i`` (``i >= 1``) holds durations in ``[2**(i/4), 2**((i+1)/4))`` microseconds: four buckets per doubling, so a
bucket's upper bound is 19% above its lower bound and a percentile read from buckets is within that of the true
sample percentile (closer in practice: we interpolate geometrically inside the bucket). Bucket 0 holds everything
below ``2**(1/4)`` us. The last bucket (``MAX_BUCKET``) is open-ended at about 12 days: nothing we time is longer.
Only buckets that were hit are stored, so a typical operation (spread over a factor of 10-100) uses 15-30 fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Buckets per doubling of the duration; 4 gives a worst-case relative error of 2**(1/4) - 1 = 19%.
BUCKETS_PER_OCTAVE = 4
#: Highest bucket index: 2**(160/4) us = 2**40 us, about 12.7 days. Longer durations are counted there.
MAX_BUCKET = 40 * BUCKETS_PER_OCTAVE


def bucket_of(microseconds: float) -> int:
    """The bucket index of a duration in microseconds (negative and NaN durations count as 0)."""
    if not microseconds >= 1.0:  # also catches NaN
        return 0
    index = int(math.log2(microseconds) * BUCKETS_PER_OCTAVE)
    return index if index < MAX_BUCKET else MAX_BUCKET


def bucket_bounds(index: int) -> tuple[float, float]:
    """``[lower, upper)`` of a bucket in microseconds. Bucket 0 starts at 0; the last one is reported as if closed."""
    if not 0 <= index <= MAX_BUCKET:
        raise ValueError(f"bucket index must be within [0, {MAX_BUCKET}], got {index}")
    upper = 2.0 ** ((index + 1) / BUCKETS_PER_OCTAVE)
    lower = 0.0 if index == 0 else 2.0 ** (index / BUCKETS_PER_OCTAVE)
    return lower, upper


def boundaries_seconds() -> list[float]:
    """Every bucket boundary in seconds, for exporters that want explicit boundaries (OpenTelemetry's advisory).

    Coarser than ours (one per doubling from 16 us to about 68 s): an OpenTelemetry backend keeps its own
    histograms, and 23 boundaries are what its default aggregation handles comfortably.
    """
    return [2.0**exp / 1e6 for exp in range(4, 27)]


@dataclass
class LatencyHistogram:
    """Counts per bucket plus the totals needed for a mean; mergeable by addition.

    ``errors`` counts failed calls. They are kept out of the buckets on purpose: a burst of instant failures
    (Redis down) would otherwise make the latency percentiles look better exactly when things are worse.
    """

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    sum_us: float = 0.0
    errors: int = 0

    def record(self, microseconds: float) -> None:
        index = bucket_of(microseconds)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1
        self.sum_us += microseconds

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add ``other`` into this histogram (in place) and return it."""
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.sum_us += other.sum_us
        self.errors += other.errors
        return self

    @property
    def mean_us(self) -> float:
        return self.sum_us / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-quantile (``0 < q <= 1``) in microseconds, estimated from the bucket counts.

        The rank ``q * count`` falls in one bucket; the value is interpolated geometrically between that bucket's
        bounds by how far into the bucket the rank goes (linearly in bucket 0, which starts at 0). So the estimate
        always lies in the bucket that holds the true sample quantile. ``0.0`` for an empty histogram.
        """
        if not 0.0 < q <= 1.0:
            raise ValueError(f"quantile must be within (0, 1], got {q}")
        total = sum(self.buckets.values())
        if total == 0:
            return 0.0
        rank = q * total
        seen = 0
        for index in sorted(self.buckets):
            n = self.buckets[index]
            if n <= 0:
                continue
            if seen + n >= rank:
                lower, upper = bucket_bounds(index)
                fraction = (rank - seen) / n
                if lower == 0.0:
                    return upper * fraction
                return lower * (upper / lower) ** fraction
            seen += n
        return bucket_bounds(max(self.buckets))[1]  # float rounding on the last rank

    def percentiles_ms(self, quantiles: Iterable[float] = (0.5, 0.95, 0.99)) -> dict[str, float]:
        """``{"p50": ms, "p95": ms, ...}`` for display and JSON."""
        return {f"p{_label(q)}": self.percentile(q) / 1000.0 for q in quantiles}

    def to_fields(self) -> dict[str, int]:
        """The Redis hash fields this histogram adds to: ``count``, ``errors``, ``sum_us`` and ``b{index}``."""
        out = {"count": self.count, "errors": self.errors, "sum_us": round(self.sum_us)}
        out.update({f"b{index}": n for index, n in self.buckets.items() if n})
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_fields(cls, fields: Mapping[bytes | str, bytes | str | int]) -> LatencyHistogram:
        """Read back what :meth:`to_fields` wrote (possibly summed over many processes). Unknown fields are
        ignored, so a newer writer adding fields never breaks an older reader."""
        hist = cls()
        for raw_name, raw_value in fields.items():
            name = raw_name.decode() if isinstance(raw_name, bytes) else raw_name
            value = int(raw_value)
            if name == "count":
                hist.count = value
            elif name == "errors":
                hist.errors = value
            elif name == "sum_us":
                hist.sum_us = float(value)
            elif name.startswith("b") and name[1:].isdigit() and int(name[1:]) <= MAX_BUCKET:
                hist.buckets[int(name[1:])] = value
        return hist


def _label(q: float) -> str:
    """``0.5 -> "50"``, ``0.999 -> "99.9"``."""
    text = f"{q * 100:.3f}".rstrip("0").rstrip(".")
    return text
