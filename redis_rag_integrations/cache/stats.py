"""In-process hit/miss counters and lookup latency of one cache object.

Kept in memory (not in Redis) so that counting never adds a round trip to the hit path; ``snapshot()`` gives a
consistent copy for logs, dashboards and benchmarks. The same counts feed the process-wide metrics
(:mod:`redis_rag_integrations.metrics`: ``cache.{kind}.hits`` etc., labelled with the cache's name) when those are
on, from this one place, so ``redis-rag stats`` and ``cache.stats`` can never disagree about what was counted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .. import metrics


@dataclass
class CacheStats:
    """Counters since the cache object was created (or since :meth:`reset`).

    ``errors`` counts Redis failures that were turned into misses; ``skipped`` counts lookups or stores that were
    passed through on purpose (bad input, oversized entries, unserializable values); ``rejected`` counts
    candidates within the threshold that the near-miss verifier refused; ``stale`` counts answers not kept because
    a source document changed while they were being generated; ``evicted`` counts live entries removed to keep
    ``max_entries``.

    ``kind`` (``"semantic"`` / ``"exact"``) and ``name`` label what is forwarded to the process-wide metrics;
    a ``CacheStats`` without a kind forwards nothing.
    """

    kind: str = field(default="", repr=False, compare=False)
    name: str = field(default="", repr=False, compare=False)

    hits: int = 0
    misses: int = 0
    stores: int = 0
    errors: int = 0
    skipped: int = 0
    rejected: int = 0
    stale: int = 0
    evicted: int = 0
    lookups: int = 0
    embed_seconds: float = 0.0
    search_seconds: float = 0.0
    last_lookup_ms: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def mean_lookup_ms(self) -> float:
        """Mean lookup latency, embedding included, over lookups that reached Redis."""
        return 1000.0 * (self.embed_seconds + self.search_seconds) / self.lookups if self.lookups else 0.0

    @property
    def mean_search_ms(self) -> float:
        """Mean Redis part of a lookup (query + decode), embedding excluded."""
        return 1000.0 * self.search_seconds / self.lookups if self.lookups else 0.0

    def record_lookup(self, hit: bool, embed_s: float, search_s: float) -> None:
        with self._lock:
            self.lookups += 1
            self.embed_seconds += embed_s
            self.search_seconds += search_s
            self.last_lookup_ms = 1000.0 * (embed_s + search_s)
            if hit:
                self.hits += 1
            else:
                self.misses += 1
        if self.kind:
            metrics.count(f"cache.{self.kind}.{'hits' if hit else 'misses'}", label=self.name)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)
        if self.kind:
            metrics.count(f"cache.{self.kind}.{name}", n, label=self.name)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "stores": self.stores,
                "errors": self.errors,
                "skipped": self.skipped,
                "rejected": self.rejected,
                "stale": self.stale,
                "evicted": self.evicted,
                "lookups": self.lookups,
                "hit_rate": self.hit_rate,
                "mean_lookup_ms": self.mean_lookup_ms,
                "mean_search_ms": self.mean_search_ms,
                "last_lookup_ms": self.last_lookup_ms,
            }

    def reset(self) -> None:
        with self._lock:
            self.hits = self.misses = self.stores = self.errors = self.skipped = self.rejected = self.stale = 0
            self.evicted = 0
            self.lookups = 0
            self.embed_seconds = self.search_seconds = self.last_lookup_ms = 0.0
