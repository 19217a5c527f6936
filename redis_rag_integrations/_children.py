"""Child processes that never outlive us: the embedded Redis and the local LLM server share these pieces.

Three ties, because each alone has a gap: ``stop()`` (the normal path), an ``atexit`` hook over every live child
(the forgotten path), and Linux's ``PR_SET_PDEATHSIG`` so the kernel signals the child even when Python dies
with SIGKILL (the path where no Python code runs at all).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

_PR_SET_PDEATHSIG = 1


class Stoppable(Protocol):
    def stop(self, timeout: float = ...) -> None: ...


_live: set[Any] = set()


def track(child: Stoppable) -> None:
    """Stop ``child`` at interpreter exit unless it was stopped before."""
    _live.add(child)


def untrack(child: Stoppable) -> None:
    _live.discard(child)


@atexit.register
def _stop_all() -> None:
    for child in list(_live):
        with contextlib.suppress(Exception):
            child.stop(timeout=3)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send ``sig`` to the child when the thread that forked it dies.

    PDEATHSIG fires when the forking *thread* exits, so it is only used from the main thread (None elsewhere).
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; always reaps the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def install_sigterm_handler() -> None:
    """Turn SIGTERM into a normal exit so ``atexit`` runs (Python skips it on an unhandled signal)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


class Startable(Protocol):
    @property
    def running(self) -> bool: ...

    def start(self) -> Any: ...


C = TypeVar("C", bound=Startable)


class SharedChild(Generic[C]):
    """The one child of a kind per process (the embedded Redis, the local LLM server): started on first use,
    started again if it died, stopped at exit by the ties above."""

    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self.current: C | None = None  # what runs now, without starting anything

    def get(self) -> C:
        with self._lock:
            if self.current is None or not self.current.running:
                self.current = self._factory().start()
            return self.current
