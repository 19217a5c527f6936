"""What the live-cluster tests do to a :class:`cluster.LocalRedisCluster`: find owners and replicas, fail a primary
over (a crash or ``CLUSTER FAILOVER``), bring a killed node back as a replica, pick tenants on distinct shards.

Roles change under a failover, so everything here asks the live nodes (``ROLE``, ``CLUSTER SLOTS``) instead of
trusting the layout the cluster was started with.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from cluster import LocalRedisCluster, log_tail
from redis.cluster import key_slot

from redis_rag_integrations.tenancy import Tenant


def node_client(port: int) -> redis.Redis:
    """A plain client of one node (no redirection followed)."""
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)


def until(what: str, ready: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(0.05)


def _ask(cluster: LocalRedisCluster, fn: Callable[[redis.Redis], object]) -> object:
    """``fn`` on the first live node that answers."""
    for node in cluster.nodes:
        if not node.alive:
            continue
        client = node.client(socket_timeout=2, socket_connect_timeout=1)
        try:
            return fn(client)
        except (redis.ConnectionError, redis.TimeoutError):
            continue
        finally:
            client.close()
    raise AssertionError("no cluster node answers")


def slot_owner_port(cluster: LocalRedisCluster, slot: int) -> int:
    """The port of the primary serving ``slot``, as the cluster reports it now."""
    for first, last, primary, *_ in _ask(cluster, lambda c: c.execute_command("CLUSTER", "SLOTS")):  # type: ignore[union-attr]
        if int(first) <= slot <= int(last):
            return int(primary[1])
    raise AssertionError(f"slot {slot} is served by no node")


def role(cluster: LocalRedisCluster, port: int) -> str:
    client = cluster.node(port).client(socket_timeout=2)
    try:
        reply = client.execute_command("ROLE")
        return reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    finally:
        client.close()


def replica_of(cluster: LocalRedisCluster, primary_port: int) -> int:
    """A live replica of the primary on ``primary_port`` whose replication link is up."""
    for node in cluster.nodes:
        if not node.alive or node.port == primary_port:
            continue
        client = node.client(socket_timeout=2)
        try:
            info = client.info("replication")
        finally:
            client.close()
        if info["role"] == "slave" and int(info["master_port"]) == primary_port and info["master_link_status"] == "up":
            return node.port
    raise AssertionError(f"the primary on port {primary_port} has no linked replica")


def cluster_ok(cluster: LocalRedisCluster) -> bool:
    """Every live node says ``cluster_state:ok`` and agrees on who serves every slot."""
    maps = []
    for node in cluster.nodes:
        if not node.alive:
            continue
        client = node.client(socket_timeout=2)
        try:
            if client.cluster("info").get("cluster_state") != "ok":
                return False
            maps.append(sorted((int(r[0]), int(r[2][1])) for r in client.execute_command("CLUSTER", "SLOTS")))
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        finally:
            client.close()
    return all(m == maps[0] for m in maps)


def wait_primary(cluster: LocalRedisCluster, port: int, timeout: float = 30.0) -> None:
    """Until the node on ``port`` is a primary and the live nodes agree the cluster is ok."""
    try:
        until(
            f"node {port} promoted, cluster ok",
            lambda: role(cluster, port) == "master" and cluster_ok(cluster),
            timeout,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; its log: {log_tail(cluster.node(port).dir, 12)}") from None


def bring_back(cluster: LocalRedisCluster, port: int, timeout: float = 30.0) -> None:
    """Restart a killed node (same port and ``nodes.conf``): it learns it was failed over and rejoins as a replica
    of its old replica; wait until its replication link is up and the cluster is ok."""
    cluster.launch(cluster.node(port))

    def linked() -> bool:
        client = cluster.node(port).client(socket_timeout=2)
        try:
            info = client.info("replication")
            return info["role"] == "slave" and info.get("master_link_status") == "up"
        except redis.ResponseError:  # LOADING
            return False
        finally:
            client.close()

    until(f"node {port} back as a linked replica", lambda: linked() and cluster_ok(cluster), timeout)


def tenants_on_distinct_shards(cluster: LocalRedisCluster, count: int, stem: str) -> list[Tenant]:
    """``count`` tenants named ``{stem}-{i}`` whose slots are served by ``count`` different primaries."""
    owners: dict[int, Tenant] = {}
    for i in range(10_000):
        tenant = Tenant(f"{stem}-{i}")
        port = slot_owner_port(cluster, key_slot(tenant.tag.encode()))
        owners.setdefault(port, tenant)
        if len(owners) == count:
            return list(owners.values())
    raise AssertionError(f"could not place {count} tenants on distinct primaries")
