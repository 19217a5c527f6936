"""Moving a hash slot (a tenant) to another primary of a Redis Cluster without losing its search indexes.

What the engine does (search 2.10.5 without a coordinator, measured on the local 3-primary cluster, see
``tests/cluster/test_resharding.py``):

* A search index is not a key: ``MIGRATE`` moves the slot's hashes, never the index. The target node has no index
  of that name, so after ``CLUSTER SETSLOT <slot> NODE <target>`` every ``FT.SEARCH`` of the tenant fails
  ("no such index") until somebody creates it there. The keys that arrived are not indexed by anything.
* The source node keeps its index definition (emptied: its hashes left). Search declares the index name as the
  command's key, so on the source every ``FT.*`` naming it now answers ``MOVED`` to the target: the stale index can
  be neither searched nor dropped the usual way, and if the slot ever comes back it would index the returning keys
  under the *old* definition.
* An index created on the target while it is ``IMPORTING`` the slot (``ASKING`` + ``FT.CREATE``) indexes each key as
  ``MIGRATE`` restores it, so when the slot changes owner the index is already complete: no window where searches
  are partial. ``FT.CREATE`` replicates to the target's replicas like any write.

So :func:`move_slot` does what ``redis-cli --cluster reshard`` does (IMPORTING / MIGRATING, ``MIGRATE`` in batches,
``SETSLOT NODE`` on every primary) plus the index: each index of the slot is read from the source's ``FT.INFO``,
re-created from it on the target before the first key moves, and the stale one is dropped on the source after.
Slots moved by another tool: :func:`repair_indexes` finds indexes on nodes that no longer own their name's slot,
re-creates each on the owner from its stale ``FT.INFO`` (background scan of the keys already there; searches are
partial until it ends, so it waits for it) and drops the stale copy.

Dropping or reading an index on a node that does not own its slot: that node is put in ``IMPORTING`` state for the
slot for the duration of one ``ASKING`` + ``FT.*`` pair, then back to ``STABLE``. Only ``ASKING`` connections are
served by an importing node, and no node sends ``ASK`` for a slot it does not migrate, so no client traffic sees it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redisvl.redis.connection import convert_index_info_to_schema
from redisvl.schema import IndexSchema

from .decoding import as_str
from .errors import RedisRagError

#: Keys per ``MIGRATE`` call, and its timeout (ms): the redis-cli defaults.
MIGRATE_BATCH = 100
MIGRATE_TIMEOUT_MS = 60_000


class ReshardError(RedisRagError):
    """A slot move or an index repair that could not be done (the message says what state the slot is in)."""


@dataclass
class SlotMove:
    """What :func:`move_slot` did."""

    slot: int
    source: str
    target: str
    keys: int = 0
    indexes: list[str] = field(default_factory=list)


def _info_dict(reply: Any) -> dict[str, Any]:
    """An ``FT.INFO`` reply as ``{name: value}``, whether redis-py parsed it already or not."""
    if isinstance(reply, dict):
        return {as_str(k): v for k, v in reply.items()}
    return {as_str(k): v for k, v in zip(reply[::2], reply[1::2], strict=True)}


def _decoded(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if isinstance(value, dict):
        return {_decoded(k): _decoded(v) for k, v in value.items()}
    return value


def schema_from_info(info: Any) -> IndexSchema:
    """The index schema an ``FT.INFO`` reply describes (through redisvl's reading of FT.INFO)."""
    return IndexSchema.from_dict(convert_index_info_to_schema(_decoded(_info_dict(info))))


def _queue_create(pipe: Any, schema: IndexSchema) -> None:
    prefix = schema.index.prefix
    prefixes = prefix if isinstance(prefix, list) else [prefix]
    kind = IndexType.JSON if schema.index.storage_type.value == "json" else IndexType.HASH
    pipe.ft(schema.index.name).create_index(
        schema.redis_fields,
        definition=IndexDefinition(prefix=prefixes, index_type=kind),
        stopwords=schema.index.stopwords,
    )


def _node_client(cluster: RedisCluster, node: ClusterNode | str) -> tuple[ClusterNode, redis.Redis]:
    """The primary ``node`` names (a node or ``"host:port"``), refused clearly unless a primary of ``cluster``."""
    known = sorted(n.name for n in cluster.get_primaries())
    if isinstance(node, str):
        host, _, port = node.rpartition(":")
        found = cluster.get_node(host=host, port=int(port)) if port.isascii() and port.isdigit() else None
        if found is None:
            raise ReshardError(f"no node {node!r} in this cluster (its primaries: {known})")
        node = found
    if not isinstance(node, ClusterNode) or node.name not in known:
        raise ReshardError(f"the target must be a primary of this cluster, one of {known}; got {node!r}")
    return node, cluster.get_redis_connection(node)


def _node_id(client: redis.Redis) -> str:
    return as_str(client.execute_command("CLUSTER", "MYID"))


def slot_owner(cluster: RedisCluster, slot: int) -> ClusterNode:
    """The primary serving ``slot`` now (the slot map refreshed first)."""
    cluster.nodes_manager.initialize()
    return cluster.nodes_manager.get_node_from_slot(slot)


def slot_indexes(node_client: redis.Redis, slot: int) -> list[str]:
    """The search indexes on one node whose name hashes to ``slot``."""
    names = [as_str(n) for n in node_client.execute_command("FT._LIST")]
    return sorted(n for n in names if redis.cluster.key_slot(n.encode()) == slot)


def _asking(client: redis.Redis, *command: Any) -> Any:
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("ASKING")
    pipe.execute_command(*command)
    return pipe.execute()[-1]


def _while_importing(client: redis.Redis, slot: int, owner_id: str, *command: Any) -> Any:
    """``command`` on a node that does not own ``slot``: IMPORTING for one ASKING'd command, then STABLE again."""
    client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", owner_id)
    try:
        return _asking(client, *command)
    finally:
        client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")


def _migrate_auth(cluster: RedisCluster) -> list[Any]:
    kwargs = cluster.nodes_manager.connection_kwargs
    if kwargs.get("password") is None:
        return []
    if kwargs.get("username"):
        return ["AUTH2", kwargs["username"], kwargs["password"]]
    return ["AUTH", kwargs["password"]]


def move_slot(cluster: RedisCluster, slot: int, target: ClusterNode | str, *, batch: int = MIGRATE_BATCH) -> SlotMove:
    """Move ``slot`` and its search indexes to the primary ``target`` (a node or ``"host:port"``).

    Steps: read every index of the slot from the source (``FT.INFO``); target ``IMPORTING``, source ``MIGRATING``;
    each index created on the target (``ASKING``, so it indexes keys as they arrive); ``MIGRATE`` the keys in
    batches; ``SETSLOT NODE`` on the target, the source, then every other primary; the source's stale indexes
    dropped. Searches keep working throughout (a key not yet moved is read on the source, a moved one is asked
    for on the target). Needs an admin connection (``CLUSTER``, ``MIGRATE``, ``FT.CREATE``).
    """
    if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < 16384:
        raise ValueError(f"a hash slot is an int in [0, 16383], got {slot!r}")
    source = slot_owner(cluster, slot)
    target_node, tgt = _node_client(cluster, target)  # checked before anything changes
    if target_node.name == source.name:
        return SlotMove(slot, source.name, target_node.name)
    src = cluster.get_redis_connection(source)
    source_id, target_id = _node_id(src), _node_id(tgt)
    names = slot_indexes(src, slot)
    schemas = [schema_from_info(src.execute_command("FT.INFO", n)) for n in names]
    tgt.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    moved = SlotMove(slot, source.name, target_node.name, indexes=names)
    for schema in schemas:
        if schema.index.name in slot_indexes(tgt, slot):  # a stale copy from an earlier move away: replaced
            _asking(tgt, "FT.DROPINDEX", schema.index.name)
        pipe = tgt.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        _queue_create(pipe, schema)
        pipe.execute()
    auth = _migrate_auth(cluster)
    while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch):
        src.execute_command(
            "MIGRATE", target_node.host, target_node.port, "", 0, MIGRATE_TIMEOUT_MS, *auth, "KEYS", *keys
        )
        moved.keys += len(keys)
    primaries = [tgt, src] + [
        cluster.get_redis_connection(n)
        for n in cluster.get_primaries()
        if n.name not in (source.name, target_node.name)
    ]
    for client in primaries:
        client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    for name in names:
        _while_importing(src, slot, target_id, "FT.DROPINDEX", name)
    cluster.nodes_manager.initialize()
    return moved


def wait_indexed(client: redis.Redis, name: str, timeout: float = 300.0) -> None:
    """Block until index ``name`` on this node has finished its background scan of existing keys."""
    deadline = time.monotonic() + timeout
    while True:
        info = _info_dict(client.execute_command("FT.INFO", name))
        if int(info.get("indexing", 0)) == 0 and float(info.get("percent_indexed", 1)) >= 1.0:
            return
        if time.monotonic() > deadline:
            raise ReshardError(f"index {name!r} still scanning its keys after {timeout}s: searches are partial")
        time.sleep(0.05)


def repair_indexes(cluster: RedisCluster, *, timeout: float = 300.0) -> list[tuple[str, str, str]]:
    """After slots moved by another tool (``redis-cli --cluster reshard``): every index found on a node that no
    longer owns its name's slot is re-created on the owner from its ``FT.INFO`` (unless the owner has it), the
    owner's scan of the keys awaited, and the stale copy dropped. Returns ``(index, from node, to node)`` per index.
    """
    cluster.nodes_manager.initialize()
    repaired: list[tuple[str, str, str]] = []
    for node in cluster.get_primaries():
        client = cluster.get_redis_connection(node)
        for name in (as_str(n) for n in client.execute_command("FT._LIST")):
            slot = redis.cluster.key_slot(name.encode())
            owner = cluster.nodes_manager.get_node_from_slot(slot)
            if owner.name == node.name:
                continue
            owner_client = cluster.get_redis_connection(owner)
            owner_id = _node_id(owner_client)
            if name not in slot_indexes(owner_client, slot):
                schema = schema_from_info(_while_importing(client, slot, owner_id, "FT.INFO", name))
                pipe = owner_client.pipeline(transaction=False)
                _queue_create(pipe, schema)
                pipe.execute()
            wait_indexed(owner_client, name, timeout)
            _while_importing(client, slot, owner_id, "FT.DROPINDEX", name)
            repaired.append((name, node.name, owner.name))
    return repaired


def attributes(info: Any) -> Sequence[Any]:
    """The ``attributes`` of an ``FT.INFO`` reply, decoded: what an index indexes, to compare two copies."""
    return _decoded(_info_dict(info)["attributes"])
