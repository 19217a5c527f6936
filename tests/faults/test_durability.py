"""What survives a ``kill -9`` of the embedded server in the middle of ingestion, with both AOF fsync policies.

A producer publishes one new document per XADD (each returned id is an acknowledged write) while a worker indexes
them; the server is SIGKILLed, restarted on its data dir, and every acknowledged document is looked for: still in
the stream, or already indexed. ``appendfsync always`` must lose none. With ``everysec`` a ``kill -9`` of the server
alone usually loses none either (Redis has written the AOF to the OS before it replies; only the fsync is late), so
its count is reported, not asserted: its loss window, up to about a second of acknowledged writes (two with a busy
disk), opens on a crash of the machine or a power loss, which a test cannot cause.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations.ingest import Producer, Worker
from redis_rag_integrations.store.index import RedisVectorIndex

from .components import EMBEDDER

INGEST_SECONDS = 0.8


@dataclass
class Outcome:
    acknowledged: int
    present: int
    publishes_per_second: float

    @property
    def lost(self) -> int:
        return self.acknowledged - self.present


def ingest_then_kill(data_dir: Path, policy: str) -> Outcome:
    server = EmbeddedRedis(data_dir=data_dir, appendfsync=policy).start()  # type: ignore[arg-type]
    acked: list[str] = []
    try:
        index = RedisVectorIndex("durable", dims=32, url=server.url)
        producer = Producer("durable", redis_url=server.url)
        worker = Worker(index, EMBEDDER, splitter=lambda t: [t], block_ms=50)
        indexing = threading.Thread(target=lambda: _until_dead(worker.run), daemon=True)
        indexing.start()
        start = time.monotonic()
        while time.monotonic() - start < INGEST_SECONDS:
            doc = f"doc-{len(acked)}"
            producer.upsert(doc, f"text of {doc}")
            acked.append(doc)  # XADD returned: acknowledged
        rate = len(acked) / (time.monotonic() - start)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        worker.stop()
        indexing.join(timeout=2)
    finally:
        server.stop()
    again = EmbeddedRedis(data_dir=data_dir, appendfsync=policy).start()  # type: ignore[arg-type]
    try:
        client = redis.Redis.from_url(again.url)
        in_stream = {json.loads(f[b"body"])["doc_id"] for _, f in client.xrange("ingest:{durable}:events")}
        states = RedisVectorIndex("durable", url=again.url).document_states(acked)
        indexed = {doc for doc, state in states.items() if state is not None}
        return Outcome(len(acked), len(set(acked) & (in_stream | indexed)), rate)
    finally:
        again.stop()


def _until_dead(run: Callable[[], object]) -> None:
    with contextlib.suppress(redis.ConnectionError, redis.TimeoutError, ConnectionError):
        run()  # ends when the server is killed under it


@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_kill_9_mid_ingestion_then_restart_on_the_data_dir(tmp_path: Path, policy: str) -> None:
    outcome = ingest_then_kill(tmp_path / policy, policy)
    print(
        f"\nappendfsync {policy}: {outcome.acknowledged} acknowledged, {outcome.present} present after kill -9 and "
        f"restart, {outcome.lost} lost; {outcome.publishes_per_second:.0f} publishes/s"
    )
    assert outcome.acknowledged > 10, "too few writes to show anything"
    if policy == "always":
        assert outcome.lost == 0, f"appendfsync always lost {outcome.lost} acknowledged writes"
    assert outcome.lost >= 0


def test_appendfsync_reaches_the_server_and_bad_values_are_refused(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path, appendfsync="always") as server:
        assert redis.Redis.from_url(server.url).config_get("appendfsync") == {"appendfsync": "always"}
    with pytest.raises(ValueError, match="appendfsync"):
        EmbeddedRedis(appendfsync="sometimes")  # type: ignore[arg-type]
