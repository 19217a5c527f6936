"""A Redis Sentinel deployment on loopback for tests: one primary, one replica (both the embedded server, with the
search and JSON modules) and one sentinel (the same ``redis-server`` binary, run with ``--sentinel``).

Every process is tied to the test process like the embedded Redis (``_children``: ``stop()``, ``atexit``,
``PR_SET_PDEATHSIG``). Ready means: the replica's link to the primary is up and the sentinel knows both.
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

from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations._children import die_with_parent, free_port, terminate, track, untrack
from redis_rag_integrations.server import find_binaries

SERVICE = "mymaster"


class LocalSentinel:
    """Primary + replica + sentinel. ``url`` is the ``redis+sentinel://`` URL of the service."""

    def __init__(self, password: str | None = None, timeout: float = 30.0) -> None:
        self.password = password
        self.timeout = timeout
        self.primary: EmbeddedRedis | None = None
        self.replica: EmbeddedRedis | None = None
        self.sentinel_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        from urllib.parse import quote

        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis+sentinel://{auth}127.0.0.1:{self.sentinel_port}/{SERVICE}/0"

    def start(self) -> LocalSentinel:
        track(self)
        try:
            auth = ["--masterauth", self.password] if self.password else []
            self.primary = EmbeddedRedis(appendonly=False, password=self.password, extra_args=auth).start()
            self.replica = EmbeddedRedis(
                appendonly=False,
                password=self.password,
                extra_args=[*auth, "--replicaof", "127.0.0.1", str(self.primary.port)],
            ).start()
            self._wait(lambda: self.node_client(self.replica).info("replication").get("master_link_status") == "up")
            self._start_sentinel()
            self._wait(lambda: len(self.sentinel_client().sentinel_slaves(SERVICE)) == 1)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sentinel(self) -> None:
        server, _ = find_binaries()
        self._dir = Path(tempfile.mkdtemp(prefix="redis-rag-sentinel-"))
        self.sentinel_port = free_port()
        assert self.primary is not None
        lines = [
            f"port {self.sentinel_port}",
            "bind 127.0.0.1",
            "daemonize no",
            f"dir {self._dir}",
            "logfile sentinel.log",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 1",
            f"sentinel down-after-milliseconds {SERVICE} 2000",
            f"sentinel failover-timeout {SERVICE} 10000",
        ]
        if self.password:
            lines += [f'sentinel auth-pass {SERVICE} "{self.password}"', f'requirepass "{self.password}"']
        conf = self._dir / "sentinel.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._proc = subprocess.Popen(
            [str(server), str(conf), "--sentinel"],
            cwd=self._dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGTERM),
            start_new_session=True,
        )

    def sentinel_client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.sentinel_port, password=self.password, socket_timeout=2, decode_responses=True
        )

    def node_client(self, server: EmbeddedRedis | None) -> redis.Redis:
        assert server is not None
        return redis.Redis(host="127.0.0.1", port=server.port, password=self.password, socket_timeout=2)

    def primary_port(self) -> int:
        _host, port = self.sentinel_client().sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def failover(self) -> int:
        """``SENTINEL FAILOVER`` and wait until the replica is the primary the sentinel names; its port."""
        assert self.replica is not None and self.replica.port is not None
        sentinel = self.sentinel_client()
        # NOGOODSLAVE while the sentinel's link to a just-discovered replica is not yet up: ask again.
        self._wait(lambda: sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE))
        port = self.replica.port
        self._wait(lambda: self.primary_port() == port)
        # Done, not just promoted: SENTINEL MASTERS (what clients ask) names the new primary with no failover
        # flag, and the old primary replicates from it.
        self._wait(lambda: self._settled(sentinel.sentinel_masters()[SERVICE], port))
        self._wait(lambda: self.node_client(self.primary).info("replication").get("master_link_status") == "up")
        return port

    @staticmethod
    def _settled(state: dict[str, object], port: int) -> bool:
        return int(str(state["port"])) == port and "failover" not in str(state.get("flags", ""))

    def _wait(self, ready: object) -> None:
        deadline = time.monotonic() + self.timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"sentinel exited: {self._log_tail()}")
            try:
                if ready():  # type: ignore[operator]
                    return
            except (redis.RedisError, OSError) as exc:
                last = exc
            time.sleep(0.1)
        raise RuntimeError(f"sentinel deployment not ready within {self.timeout}s ({last}); {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self._dir / "sentinel.log" if self._dir else None
        return " | ".join(log.read_text(errors="replace").splitlines()[-5:]) if log and log.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            terminate(self._proc, timeout)
            self._proc = None
        for server in (self.replica, self.primary):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop(timeout)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        untrack(self)

    def __enter__(self) -> LocalSentinel:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
