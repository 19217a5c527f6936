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
already acknowledged, hence applied, before the marker was sent). The marker key (:func:`marker_for` a written key:
``rag-wait:{tag}``) hashes to the written keys' slot, so on a cluster it lands on their node; it expires by itself.
Keys without a hash tag may sit on any shard of a cluster: then a marker is written and waited for on every primary.

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
from .placement import hash_tag
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

    @classmethod
    def for_key(cls, settings: Settings, key: str) -> Durability | None:
        """:meth:`from_settings` for writes to ``key`` (and to keys of its slot)."""
        return cls.from_settings(settings, marker_for(key))


def marker_for(key: str) -> str:
    """A marker key in the cluster slot of ``key`` (``rag-wait:{tag}``), or, for a key whose slot cannot be
    pinned by a tag of ours, an untagged marker (then every primary is waited for)."""
    tag = hash_tag(key)
    if tag is not None:
        return "rag-wait:{" + tag + "}"
    if key and "{" not in key and "}" not in key:
        return "rag-wait:{" + key + "}"  # the tag is the whole key: hashes exactly like it
    return "rag-wait:" + key


def _commands(marker: str, d: Durability) -> list[tuple[Any, ...]]:
    return [("SET", marker, b"1", "PX", MARKER_TTL_MS), ("WAIT", d.replicas, d.timeout_ms)]


def _targets(client: Any, marker: str) -> list[tuple[Any, str]]:
    """``(node, marker key on it)``: the marker's node, or every primary for an untagged marker (a key of each)."""
    if hash_tag(marker) is not None:
        return [(client.get_node_from_key(marker), marker)]
    out = []
    for node in client.get_primaries():
        i = 0
        while client.get_node_from_key(f"{marker}:{i}").name != node.name:
            i += 1  # a few tries per node: slots are spread evenly over the primaries
        out.append((node, f"{marker}:{i}"))
    return out


def wait(client: Any, durability: Durability) -> int:
    """Block until ``durability.replicas`` replicas have every write made so far on the marker's node(s); returns
    how many confirmed (the fewest of any node). Raises :class:`ReplicationError` when fewer did within the timeout."""
    if not is_cluster(client):
        return _checked(_wait_on(client, durability.marker, durability), durability)
    acked = []
    for node, marker in _targets(client, durability.marker):
        # a plain client of that node: its pipeline is one connection, the one WAIT must be sent on
        acked.append(_wait_on(client.get_redis_connection(node), marker, durability))
    return _checked(min(acked), durability)


def _wait_on(client: Any, marker: str, d: Durability) -> int:
    pipe = client.pipeline(transaction=False)
    for command in _commands(marker, d):
        pipe.execute_command(*command)
    return int(pipe.execute()[-1])


async def await_replicas(client: Any, durability: Durability) -> int:
    """The asyncio twin of :func:`wait`."""
    if not is_cluster(client):
        pipe = client.pipeline(transaction=False)
        for command in _commands(durability.marker, durability):
            pipe.execute_command(*command)
        return _checked(int((await pipe.execute())[-1]), durability)
    acked = []
    for node, marker in _targets(client, durability.marker):
        commands = [PipelineCommand(i, *c) for i, c in enumerate(_commands(marker, durability))]
        await node.execute_pipeline(commands)  # one connection of that node, replies (or errors) in place
        for command in commands:
            if isinstance(command.result, Exception):
                raise command.result
        acked.append(int(commands[-1].result))
    return _checked(min(acked), durability)


def _checked(acked: int, d: Durability) -> int:
    if acked >= d.replicas:
        return acked
    hint = " (does this server have replicas at all? INFO replication: connected_slaves)" if acked == 0 else ""
    raise ReplicationError(
        f"the write is on the primary, but only {acked} of {d.replicas} replicas confirmed it within "
        f"{d.timeout_ms} ms{hint}: if the primary failed now, the write could be lost. It was not rolled back. "
        "Check the replicas, raise write_wait_timeout_ms, or set write_replicas lower (0: do not wait)."
    )
