"""Wait for replicas after a write (``WAIT``), so that an acknowledged write survives the loss of its primary.

Why: Redis replicates asynchronously. A write the primary acknowledged is in no replica yet for a moment, and if the
primary dies in that moment, the replica promoted in its place never had it: the write is lost although the caller
was told it succeeded. ``WAIT numreplicas timeout`` blocks until that many replicas have acknowledged everything the
*connection* wrote before it, so a write path that waits and fails when the replicas do not confirm turns "maybe
lost" into either "on N replicas" or a clear error.

How, exactly: ``WAIT`` counts from the last write of the connection it is sent on, but our writes travel on pooled
connections (pipelines, overlapped streams, scripts) and on a cluster on one connection per node. So after a write
plan we send, on ONE connection to the node that holds the written keys, a tiny marker write (``SET marker 1 PX``)
and then ``WAIT`` on that same connection. A primary's replication stream is one ordered log, so a replica that has
acknowledged the marker has every write the primary applied before it, including everything the plan wrote (each
already acknowledged, hence applied, before the marker was sent). The marker key shares the written keys' hash tag
(the caller names it: :meth:`Durability.marker` of an index is ``{prefix}~wait``), so on a cluster it lands on their
node; it expires by itself.

``WAIT`` returning fewer replicas than asked is an error (:class:`ReplicationError`): the data IS on the primary
(nothing is rolled back: Redis cannot), and the message says it may be lost on a failover and what to change. On a
server without replicas, a requested wait fails the same way after ``timeout_ms``: never a hang (the timeout is
required to be positive and below the socket timeout, see :mod:`.settings`), never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import PipelineCommand

from .connection import is_cluster
from .errors import RedisRagError
from .settings import Settings

#: How long a marker key lives (ms): long enough to outlive any WAIT, short enough to leave nothing behind.
MARKER_TTL_MS = 60_000


class ReplicationError(RedisRagError):
    """A write reached its primary but not the requested number of replicas within the timeout."""


@dataclass(frozen=True)
class Durability:
    """Wait for ``replicas`` replicas (up to ``timeout_ms``) after each write, through ``marker``'s node."""

    replicas: int
    timeout_ms: int
    marker: str

    def __post_init__(self) -> None:
        if not isinstance(self.replicas, int) or self.replicas < 1:
            raise ValueError(f"replicas to wait for must be an int >= 1, got {self.replicas!r}")
        if not isinstance(self.timeout_ms, int) or self.timeout_ms < 1:
            # WAIT with 0 blocks forever: a dead replica would hang every write
            raise ValueError(f"timeout_ms must be an int >= 1 (0 would block forever), got {self.timeout_ms!r}")
        if not isinstance(self.marker, str) or not self.marker:
            raise ValueError(f"marker must be a non-empty key name, got {self.marker!r}")

    @classmethod
    def from_settings(cls, settings: Settings, marker: str) -> Durability | None:
        """The settings' ``write_replicas`` / ``write_wait_timeout_ms``, or ``None`` when no wait is asked (0)."""
        if settings.write_replicas == 0:
            return None
        return cls(settings.write_replicas, settings.write_wait_timeout_ms, marker)


def _commands(d: Durability) -> list[tuple[Any, ...]]:
    return [("SET", d.marker, b"1", "PX", MARKER_TTL_MS), ("WAIT", d.replicas, d.timeout_ms)]


def wait(client: Any, durability: Durability) -> int:
    """Block until ``durability.replicas`` replicas have every write made so far on the marker's node; returns
    how many confirmed. Raises :class:`ReplicationError` when fewer did within the timeout."""
    if is_cluster(client):
        node = client.get_node_from_key(durability.marker)
        client = client.get_redis_connection(node)  # a plain client of that node: its pipeline is one connection
    pipe = client.pipeline(transaction=False)
    for command in _commands(durability):
        pipe.execute_command(*command)
    _, acked = pipe.execute()
    return _checked(int(acked), durability)


async def await_replicas(client: Any, durability: Durability) -> int:
    """The asyncio twin of :func:`wait`."""
    if is_cluster(client):
        node = client.get_node_from_key(durability.marker)
        commands = [PipelineCommand(i, *c) for i, c in enumerate(_commands(durability))]
        await node.execute_pipeline(commands)  # one connection of that node, replies (or errors) in place
        for command in commands:
            if isinstance(command.result, Exception):
                raise command.result
        acked = commands[-1].result
    else:
        pipe = client.pipeline(transaction=False)
        for command in _commands(durability):
            pipe.execute_command(*command)
        _, acked = await pipe.execute()
    return _checked(int(acked), durability)


def _checked(acked: int, d: Durability) -> int:
    if acked >= d.replicas:
        return acked
    hint = " (does this server have replicas at all? INFO replication: connected_slaves)" if acked == 0 else ""
    raise ReplicationError(
        f"the write is on the primary, but only {acked} of {d.replicas} replicas confirmed it within "
        f"{d.timeout_ms} ms{hint}: if the primary failed now, the write could be lost. It was not rolled back. "
        "Check the replicas, raise write_wait_timeout_ms, or set write_replicas lower (0: do not wait)."
    )
