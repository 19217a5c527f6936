"""The zero-setup default: one local Redis per data directory, shared by every process of the user.

With no ``REDIS_URL``, data written by one process must be there for the next (a notebook, then ``redis-rag ingest``,
then a script), so a private server per process is the wrong default. Instead:

* **One server per data directory** (``REDIS_RAG_DATA_DIR``, default ``$XDG_DATA_HOME/redis-rag`` or
  ``~/.local/share/redis-rag``), started on first use by whichever process needs it and found by the others through
  ``server.json`` in that directory (port, password, pids; mode 0600). ``server.lock`` (``flock``) is held while a
  process looks for the server or starts one, and while the server decides to stop: two processes starting at once
  end up on one server, never two servers on one directory, and no process is handed a server that is stopping.
* **Loopback only, with a generated password**, so other local users cannot read or write the data.
* **Gone by itself**: a small supervisor process owns the server (the kernel stops the server if the supervisor
  dies) and stops it after ``local_server_idle_timeout`` seconds without any client connection. The data is on disk
  (AOF, fsynced at shutdown); the next use starts it again. ``redis-rag server status`` / ``stop`` show and stop it.

``REDIS_RAG_LOCAL_SERVER=private`` keeps the old behaviour: a server of this process only (``EmbeddedRedis()``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .errors import EmbeddedRedisError
from .settings import Settings, get_settings

STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOG_FILE = "supervisor.log"
#: Redis's own files live in a folder of their own, so the data directory can hold our bookkeeping beside them.
REDIS_SUBDIR = "redis"


def data_dir(settings: Settings | None = None) -> Path:
    """The persistent server's data directory (absolute): the setting, else the platform's per-user data folder."""
    settings = settings or get_settings()
    if settings.data_dir is not None:
        return Path(settings.data_dir).expanduser().resolve()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return (base / "redis-rag").resolve()


@dataclass(frozen=True)
class LocalServer:
    """What ``server.json`` records about the running server of a data directory."""

    data_dir: str
    port: int
    password: str
    supervisor_pid: int
    redis_pid: int
    idle_timeout: float
    started_at: float

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    @property
    def masked_url(self) -> str:
        return f"redis://:***@127.0.0.1:{self.port}/0"

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def alive(self) -> bool:
        """True when the recorded server answers with the recorded password and pid (not a stranger on the port)."""
        client = self.client(timeout=1.0)
        try:
            return int(client.info("server")["process_id"]) == self.redis_pid
        except (redis.RedisError, OSError, KeyError, ValueError):
            return False
        finally:
            client.close()


def default_url(settings: Settings | None = None) -> str:
    """The URL used when ``REDIS_URL`` is unset: the persistent local server (started if needed) or, with
    ``local_server="private"``, this process's own embedded server."""
    settings = settings or get_settings()
    if settings.local_server == "private":
        from .server import shared_embedded_server

        return shared_embedded_server().url
    return ensure(data_dir(settings), idle_timeout=settings.local_server_idle_timeout).url


def ensure(directory: Path, *, idle_timeout: float = 900.0, timeout: float = 60.0) -> LocalServer:
    """The running server of ``directory``, started (detached, supervised) when there is none."""
    directory = Path(directory).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory, timeout=timeout):
        found = _read_state(directory)
        if found is not None and found.alive():
            return found
        return _spawn(directory, idle_timeout, timeout)


def status(directory: Path) -> LocalServer | None:
    """The running server of ``directory``, or None; never starts one."""
    directory = Path(directory).expanduser().resolve()
    found = _read_state(directory)
    return found if found is not None and found.alive() else None


def stop(directory: Path, timeout: float = 30.0) -> LocalServer | None:
    """Stop the server of ``directory`` (its data flushed to disk) and return what ran, or None if nothing did."""
    directory = Path(directory).expanduser().resolve()
    found = status(directory)
    if found is None:
        return None
    # The supervisor stops Redis under the lock (so nobody is handed a stopping server) and clears the state.
    with contextlib.suppress(ProcessLookupError):
        os.kill(found.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(found.redis_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _pid_alive(found.redis_pid):  # the supervisor did not do it: ask Redis itself
        with contextlib.suppress(redis.RedisError):
            found.client().shutdown()
    return found


# ------------------------------------------------------------------------------------------------- bookkeeping
@contextlib.contextmanager
def _locked(directory: Path, *, timeout: float) -> Iterator[None]:
    """Hold ``server.lock`` (an advisory ``flock``, released by the kernel if the holder dies)."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    raise EmbeddedRedisError(
                        f"could not lock {directory / LOCK_FILE} within {timeout}s: another process holds it"
                    ) from exc
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_state(directory: Path) -> LocalServer | None:
    try:
        return LocalServer(**json.loads((directory / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_state(directory: Path, server: LocalServer) -> None:
    tmp = directory / f".{STATE_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(server), fh)
    os.replace(tmp, directory / STATE_FILE)


def _remove_state(directory: Path, server: LocalServer) -> None:
    current = _read_state(directory)
    if current is not None and current.redis_pid == server.redis_pid:
        (directory / STATE_FILE).unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _spawn(directory: Path, idle_timeout: float, timeout: float) -> LocalServer:
    """Start the supervisor detached (its own session, no tie to us) and wait for its ``ready`` line."""
    log = open(directory / LOG_FILE, "ab")  # noqa: SIM115 - handed to the child, closed right after
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "redis_rag_integrations.local_server", str(directory), str(idle_timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # not in our process group: Ctrl-C in the user's terminal is not for it
            close_fds=True,
        )
    finally:
        log.close()
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    finally:
        proc.stdout.close()
    if line != "ready":
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        tail = (directory / LOG_FILE).read_text(errors="replace").strip().splitlines()[-5:]
        raise EmbeddedRedisError(
            f"the local Redis for {directory} did not start ({line or 'no answer within ' + str(timeout) + 's'}): "
            + " | ".join(tail)
        )
    # The supervisor lives on; a thread reaps it when it exits so it never lingers as a zombie of this process.
    threading.Thread(target=proc.wait, name="redis-rag-local-server-reaper", daemon=True).start()
    found = _read_state(directory)
    if found is None:
        raise EmbeddedRedisError(f"the local Redis for {directory} started but wrote no {STATE_FILE}")
    return found


# ------------------------------------------------------------------------------------------------- supervisor
def supervise(directory: Path, idle_timeout: float) -> int:
    """Run the server of ``directory`` until SIGTERM or ``idle_timeout`` seconds without a client."""
    from .server import EmbeddedRedis

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    server = EmbeddedRedis(data_dir=directory / REDIS_SUBDIR, password=secrets.token_urlsafe(24))
    try:
        server.start()
    except EmbeddedRedisError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    assert server.port is not None and server.pid is not None and server.password is not None
    me = LocalServer(
        data_dir=str(directory),
        port=server.port,
        password=server.password,
        supervisor_pid=os.getpid(),
        redis_pid=server.pid,
        idle_timeout=idle_timeout,
        started_at=time.time(),
    )
    _write_state(directory, me)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the starter stopped listening: nothing more goes to its pipe
    client = me.client()
    try:
        while True:
            idle = _watch(client, idle_timeout, stopping)
            # Under the lock: a process looking the server up waits, then finds none and starts a fresh one; never
            # a second server on this directory while this one still flushes its AOF.
            with contextlib.ExitStack() as held:
                with contextlib.suppress(EmbeddedRedisError):
                    held.enter_context(_locked(directory, timeout=10))
                if idle and not stopping.is_set() and _activity(client) != idle:
                    continue  # somebody was handed the server while we decided: keep serving
                _remove_state(directory, me)
                server.stop()
                return 0
    finally:
        client.close()
        server.stop()


def _activity(client: redis.Redis) -> tuple[int, int] | None:
    """(clients connected besides us, connections ever received): any change means somebody used the server."""
    try:
        info = client.info()
        return int(info["connected_clients"]) - 1, int(info["total_connections_received"])
    except (redis.RedisError, OSError, KeyError):
        return None


def _watch(client: redis.Redis, idle_timeout: float, stopping: threading.Event) -> tuple[int, int] | None:
    """Wait until asked to stop or the server is gone (None), or until ``idle_timeout`` s passed with no client
    connected but us and no new connection (the last activity seen, to check again under the lock)."""
    poll = min(5.0, max(0.1, idle_timeout / 5))
    last = _activity(client)
    idle_since = time.monotonic()
    while not stopping.wait(poll):
        now = _activity(client)
        if now is None:
            return None
        if now[0] > 0 or now != last:
            idle_since = time.monotonic()
        last = now
        if time.monotonic() - idle_since >= idle_timeout:
            return now
    return None


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1]), float(sys.argv[2])))
