"""Where a search index lives on Redis Cluster: refuse indexes that would span shards, route FT.* to their node.

What the engines do (measured here with search 2.10.5 on a 3-primary cluster, redis-py 8.1):

* Without a search coordinator, ``FT.CREATE`` makes the index on the one shard that owns the slot of the index
  *name*, and that index sees only that shard's keys: an index over ``docs:*`` returned 98 of 300 records,
  silently. An index whose name and key prefix sit under one hash tag (a tenant, :mod:`.tenancy`) sees them all.
* redis-py's cluster client does not route FT.* by index name: its static command policy for the search module
  is "keyless", so ``FT.SEARCH`` / ``FT.INFO`` / ``FT.CREATE`` go to a random primary (redisvl sends searches to
  the default node). Search 2.10 declares the index name as the command's key, so a wrong node answers ``MOVED``
  and redis-py follows it: right answer, but two of three calls pay a redirect, and every fifth redirect makes
  redis-py reload the whole slot map. ``FT._LIST`` fails outright ("Missing key": no node to send it to).
  So :func:`index_node` names the node and the hot path passes it as ``target_nodes``.
* A coordinator (Redis 8's query engine in cluster mode; Redis Software / Cloud) keeps one global index over all
  shards, so an index without a hash tag is fine there. :func:`has_coordinator` detects one; it cannot run here.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable
from typing import Any

from redis.exceptions import ClusterDownError, ResponseError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .connection import is_cluster
from .decoding import as_str
from .errors import RedisRagError

#: Commands only a search coordinator registers: the shard-local twins it fans out to, and its topology commands.
COORDINATOR_COMMANDS = ("_FT.SEARCH", "SEARCH.CLUSTERINFO")
#: The search module's version from Redis 8 on (``80xxx``): its query engine runs the coordinator in cluster mode.
COORDINATED_SEARCH_VERSION = 80000


#: A targeted node that cannot answer: dead, unreachable, or no longer known for the slot.
_NODE_GONE = (RedisConnectionError, RedisTimeoutError, ClusterDownError, SlotNotCoveredError)


class SpansShardsError(RedisRagError, ValueError):
    """An index whose keys would spread over several shards of a cluster that has no search coordinator."""


def hash_tag(key: str) -> str | None:
    """The part of ``key`` Redis Cluster hashes when it has a hash tag (first ``{``, then the first ``}``, non-empty
    in between), else ``None`` (the whole key is hashed)."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    return key[start + 1 : end] if end > start + 1 else None


def prefix_tag(prefix: str) -> str | None:
    """The hash tag every key starting with ``prefix`` shares, or ``None`` when keys under it may hash anywhere.

    A key's tag is fixed by its first ``{`` and the next ``}``: the prefix pins it only if it holds both (with
    something between). ``docs{a`` pins nothing (the tag ends inside the id), ``{}docs`` neither (empty tag).
    """
    start = prefix.find("{")
    if start < 0:
        return None
    end = prefix.find("}", start + 1)
    return prefix[start + 1 : end] if end > start + 1 else None


def check_single_slot(index_name: str, prefixes: Iterable[str]) -> None:
    """Refuse (:class:`SpansShardsError`) an index that a cluster without coordinator would serve partially: every
    key prefix must pin one hash tag, the same as the index name's, so the index sits with all of its keys."""
    name_tag = hash_tag(index_name)
    for prefix in prefixes:
        tag = prefix_tag(prefix)
        if tag is None or tag != name_tag:
            raise SpansShardsError(
                f"index {index_name!r} over keys {prefix}* would span the cluster's shards: this Redis Cluster has "
                "no search coordinator, so an index sees only the keys of its own shard and searches would "
                "silently miss the others. Pass tenant=... (the index and its keys then share one hash tag and "
                "one shard), or put one hash tag in both the index name and the key prefix."
            )


def index_node(client: Any, index_name: str) -> Any:
    """The cluster node that holds index ``index_name`` (the primary owning its name's slot)."""
    return client.get_node_from_key(index_name)


def ft_call(client: Any, index_name: str, *args: Any, **options: Any) -> Any:
    """``FT.<cmd> index_name ...`` on the node that owns the index (on a standalone client: as it is).

    ``args`` starts with the command name, then ``index_name``. Why target the node: see the module docstring.
    redis-py still follows a ``MOVED`` reply (a slot that moved since its last map). But it does not retry a call
    given ``target_nodes``: when that node is gone (a failover under way, a stale slot map), the call is made once
    more without it, through redis-py's own routing, which reloads the map, retries and follows ``MOVED``.
    """
    if not is_cluster(client):
        return client.execute_command(*args, **options)
    try:
        return client.execute_command(*args, target_nodes=index_node(client, index_name), **options)
    except _NODE_GONE:
        return client.execute_command(*args, **options)


async def aft_call(client: Any, index_name: str, *args: Any, **options: Any) -> Any:
    if not is_cluster(client):
        return await client.execute_command(*args, **options)
    if getattr(client, "_initialize", False):  # an asyncio cluster client learns its slot map on first use
        await client.initialize()
    try:
        return await client.execute_command(*args, target_nodes=index_node(client, index_name), **options)
    except _NODE_GONE:
        return await client.execute_command(*args, **options)


def ft_pipeline(client: Any, index_name: str, commands: Iterable[tuple[Any, ...]], cluster: bool) -> list[Any]:
    """Several ``FT.*`` commands on index ``index_name`` in one round trip (a pipeline, no transaction); on a
    cluster (``cluster``: the caller's flag, asked once) all to the index's node, one write and one read there.

    When that node is gone the commands are sent one by one through :func:`ft_call` (redis-py's own routing): a
    failover's slower path, never a wrong answer. An error reply raises, as :func:`ft_call` would.
    """
    commands = list(commands)
    pipe = client.pipeline(transaction=False)
    if not cluster:
        for cmd in commands:
            pipe.execute_command(*cmd)
        return pipe.execute()
    node = index_node(client, index_name)
    for cmd in commands:
        pipe.execute_command(*cmd, target_nodes=node)
    try:
        return pipe.execute()
    except _NODE_GONE:
        return [ft_call(client, index_name, *cmd) for cmd in commands]


async def aft_pipeline(client: Any, index_name: str, commands: Iterable[tuple[Any, ...]], cluster: bool) -> list[Any]:
    commands = list(commands)
    if not cluster:
        pipe = client.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        return await pipe.execute()
    if getattr(client, "_initialize", False):  # an asyncio cluster client learns its slot map on first use
        await client.initialize()
    node = index_node(client, index_name)
    pipe = client.pipeline(transaction=False)
    for cmd in commands:
        pipe.execute_command(*cmd, target_nodes=node)
    try:
        return await pipe.execute()
    except _NODE_GONE:
        return [await aft_call(client, index_name, *cmd) for cmd in commands]


# --- coordinator detection -------------------------------------------------------------------------------------


def coordinator_in_command_info(reply: Any) -> bool:
    """Whether a ``COMMAND INFO _FT.SEARCH SEARCH.CLUSTERINFO`` reply knows any of them (unknown ones are nil)."""
    if isinstance(reply, dict):  # redis-py parses COMMAND INFO into {name: info}
        return any(v for v in reply.values())
    return any(entry for entry in reply or [])


def coordinator_in_modules(reply: Any) -> bool:
    """Whether a ``MODULE LIST`` reply shows a search module that coordinates in cluster mode.

    Redis 8's built-in query engine reports ``search`` at version 80000 or more and runs the coordinator on a
    cluster; the separate coordinator module of older stacks has ``coord`` in its name. Search 2.10 (``21005``,
    this machine) has none.
    """
    for module in reply or []:
        fields = module if isinstance(module, dict) else dict(zip(module[::2], module[1::2], strict=False))
        fields = {as_str(k): v for k, v in fields.items()}
        name = as_str(fields.get("name", "")).lower()
        try:
            version = int(fields.get("ver", 0))
        except (TypeError, ValueError):
            version = 0
        if "coord" in name or (name in ("search", "ft") and version >= COORDINATED_SEARCH_VERSION):
            return True
    return False


def _raw(node: Any, *args: Any) -> Any:
    """The reply of ``args`` on one node, unparsed: redis-py's ``COMMAND`` callback fails on the nil entries of
    unknown commands (TypeError), which is exactly the answer asked for here."""
    pool = node.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        pool.release(conn)


_detected: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def has_coordinator(client: Any) -> bool:
    """Whether ``client``'s cluster has a search coordinator (one global index over all shards).

    A standalone server answers ``False``: one node sees all its keys anyway. On a cluster: ``COMMAND INFO`` of
    the coordinator's own commands; if an ACL denies ``COMMAND``, ``MODULE LIST``; if that is denied too, ``False``,
    the safe answer (tenant indexes are right with or without a coordinator; only untagged indexes are refused).
    Asked once per client.
    """
    if not is_cluster(client):
        return False
    try:
        return _detected[client]
    except (KeyError, TypeError):
        pass
    node = client.get_default_node().redis_connection
    try:
        found = coordinator_in_command_info(_raw(node, "COMMAND", "INFO", *COORDINATOR_COMMANDS))
    except ResponseError:
        try:
            found = coordinator_in_modules(_raw(node, "MODULE", "LIST"))
        except ResponseError:
            found = False
    with contextlib.suppress(TypeError):  # a client that takes no weak reference is asked again next time
        _detected[client] = found
    return found
