"""Publish document events to the ingestion stream, slowing down when the workers fall behind.

The stream is never trimmed by length: an unprocessed event must not vanish. Instead the producer looks at the
consumer group's backlog (entries not yet delivered + delivered but not acknowledged) and, past ``max_backlog``,
waits for the workers (``on_backlog="wait"``, the default) or raises :class:`BackpressureError`
(``on_backlog="raise"``) so the caller can shed load itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Literal

import redis

from .. import metrics, tenancy
from ..clients import RedisClients
from ..connection import SyncClient
from ..decoding import as_str
from ..errors import RedisRagError
from ..settings import Settings, get_settings
from .events import DocumentEvent, StreamKeys, delete_event, upsert_event

GROUP = "indexers"


class BackpressureError(RedisRagError):
    """The workers are more than ``max_backlog`` events behind."""


def ensure_group(client: SyncClient, keys: StreamKeys) -> None:
    """Create the stream and its consumer group from the very first entry (idempotent)."""
    try:
        client.xgroup_create(keys.events, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def backlog(client: SyncClient, keys: StreamKeys) -> int:
    """Events the group has not finished: never delivered (lag) plus delivered but not acknowledged."""
    for group in client.xinfo_groups(keys.events):
        name = group.get("name")
        if (name.decode() if isinstance(name, bytes) else name) == GROUP:
            lag = group.get("lag")
            if lag is None:  # the server cannot tell (after some XDELs): count from the last delivered id
                last = group.get("last-delivered-id")
                lag = len(client.xrange(keys.events, min=f"({as_str(last)}", max="+"))
            return int(lag) + int(group.get("pending", 0))
    return int(client.xlen(keys.events))


class Producer:
    """Writes upsert / delete events for one index's pipeline."""

    def __init__(
        self,
        index_name: str | None = None,
        *,
        redis_url: str | None = None,
        client: SyncClient | None = None,
        settings: Settings | None = None,
        max_backlog: int = 10_000,
        on_backlog: Literal["wait", "raise"] = "wait",
        wait_timeout: float = 60.0,
        tenant: tenancy.TenantLike = None,
    ) -> None:
        if max_backlog <= 0:
            raise ValueError(f"max_backlog must be positive, got {max_backlog}")
        if on_backlog not in ("wait", "raise"):
            raise ValueError(f"on_backlog must be 'wait' or 'raise', got {on_backlog!r}")
        settings = settings or get_settings()
        #: ``tenant``: the stream of the tenant's index (``RedisVectorIndex(index_name, tenant=...)``).
        self.keys = StreamKeys(index_name or settings.index_name, tenancy.resolve(tenant))
        self.client = RedisClients(redis_url, settings=settings, client=client).client
        self.max_backlog = max_backlog
        self.on_backlog = on_backlog
        self.wait_timeout = wait_timeout
        ensure_group(self.client, self.keys)

    def upsert(self, doc_id: str, text: str, metadata: dict[str, Any] | None = None) -> str:
        """Publish a new or changed document; returns the stream entry id."""
        return self.publish([upsert_event(doc_id, text, metadata)])[0]

    def delete(self, doc_id: str) -> str:
        return self.publish([delete_event(doc_id)])[0]

    @metrics.timed("ingest.publish")
    def publish(self, events: Iterable[DocumentEvent]) -> list[str]:
        """Publish events in order, in pipelined batches, checking the backlog before each batch."""
        pending = list(events)
        ids: list[str] = []
        for start in range(0, len(pending), 500):
            batch = pending[start : start + 500]
            self._respect_backlog(len(batch))
            pipe = self.client.pipeline(transaction=False)
            for event in batch:
                pipe.xadd(self.keys.events, event.encode())  # type: ignore[arg-type]
            ids.extend(as_str(i) for i in pipe.execute())
            metrics.count("ingest.events_published", len(batch))
        return ids

    def _respect_backlog(self, incoming: int) -> None:
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.01
        while (current := backlog(self.client, self.keys)) + incoming > self.max_backlog and current > 0:
            if self.on_backlog == "raise" or time.monotonic() >= deadline:
                raise BackpressureError(
                    f"ingestion of {self.keys.index_name!r} is {current} events behind (max_backlog="
                    f"{self.max_backlog}); start more workers (`redis-rag worker`) or publish more slowly"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def backlog(self) -> int:
        return backlog(self.client, self.keys)
