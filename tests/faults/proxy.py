"""A loopback TCP proxy in front of a real Redis that can misbehave on demand.

Why a proxy and not a mock: the faults under test live below redis-py (a socket that accepts and never answers, a
reply that arrives late or is cut after its first byte), and only a real socket shows what the client, its
connection pool and its retry policy do with them. Redis itself stays real and answers every command it receives.

Modes, switched at any time and applied to connections already open:
- ``pass``: bytes flow both ways;
- ``swallow``: what clients send is read and dropped, nothing ever comes back (a hung server or a black hole);
- ``delay``: every reply chunk is held ``delay`` seconds before it is forwarded (a slow server or network).
:meth:`FaultProxy.cut_next_reply` makes the next reply stop after ``n`` bytes and closes that connection (the
command has run on the server; the client only sees a torn reply), then the proxy passes again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal

Mode = Literal["pass", "swallow", "delay"]


class FaultProxy:
    """``127.0.0.1:<port>`` -> ``127.0.0.1:<upstream_port>``, one pair of pump threads per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode: Mode = "pass"
        self.delay = 0.0
        self._cut_after: int | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_next_reply(self, after_bytes: int = 1) -> None:
        """The next reply (on any connection) is cut after ``after_bytes`` bytes and its connection closed."""
        with self._lock:
            self._cut_after = after_bytes

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:  # the server is down: refuse as it would
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, target, replies in ((client, upstream, False), (upstream, client, True)):
                args = (source, target, replies, client, upstream)
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, replies: bool, *pair: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if self.mode == "swallow":
                    continue  # read and dropped, in both directions: the client waits forever
                if replies and self.mode == "delay":
                    time.sleep(self.delay)
                if replies:
                    with self._lock:
                        cut, self._cut_after = self._cut_after, None
                    if cut is not None:
                        target.sendall(data[:cut])
                        break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
