"""The connection pools of plain ``redis://`` / ``rediss://`` / ``unix://`` clients: fair waits, timeouts that say why.

Two things redis-py's blocking pools do not do, and why they matter here:

- **First come, first served (asyncio).** redis-py's asyncio ``BlockingConnectionPool`` wakes waiters through a
  condition variable: a coroutine that gives a connection back and asks again at once takes it before the woken
  waiter runs. With 512 coroutines on 100 connections one waiter was overtaken for more than ``pool_timeout`` and
  failed ("No connection available", ``benchmarks/results/load-soak.md``; ``tests/test_pool_fairness.py`` counts
  169 overtakes of one waiter on a pool of 2). :class:`FairAsyncPool` puts a :class:`_FifoGate` in front of the
  pool: at most ``max_connections`` callers pass it, the others queue in arrival order, and a freed place is
  handed to the longest waiter directly, so a newcomer can never take it first. (Python 3.11's
  ``asyncio.Semaphore`` also queues newcomers behind waiters; the gate spells the hand-off out, including a waiter
  cancelled just after its place was handed over, in a few lines whose order the tests check.) The synchronous
  pool waits on a ``queue.LifoQueue`` (threads woken in order; 64 threads never timed out): it only gets the
  clearer timeout.
- **Timeouts that name their setting.** A hung server, a host that does not accept, a pool that stays busy: redis-py
  says "Timeout reading from socket", "Timeout connecting to server", "No connection available.". The pools'
  connections raise :class:`~.errors.CommandTimeout` / :class:`~.errors.ConnectTimeout` and the pools
  :class:`~.errors.PoolWaitTimeout` instead: subclasses of the redis-py classes raised before (so ``except
  redis.TimeoutError`` / ``redis.ConnectionError`` and redis-py's retry policy see no difference), whose message
  names what timed out, the limit, the setting and ``REDIS_RAG_*`` variable that raises it, and the server
  (password masked). One place for every component: they all get their clients from :mod:`.connection`.

Cluster and sentinel clients keep redis-py's own pools and texts (their pools are built inside redis-py).
"""

from __future__ import annotations

import asyncio
import functools
import queue
import sys
from collections import deque
from typing import Any

import redis
import redis.asyncio as aioredis

from .errors import CommandTimeout, ConnectTimeout, PoolWaitTimeout, RedisRagError
from .failures import command_timeout_text, connect_timeout_text, pool_wait_text, server_url

__all__ = ["FairAsyncPool", "NamedTimeoutPool", "named_timeouts"]

if sys.version_info >= (3, 11, 3):  # as redis-py does: async-timeout (its dependency) before 3.11.3
    from asyncio import timeout as _timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout


def _command_name(first: Any) -> str | None:
    """The command's name only (its arguments may be user data or credentials: ``AUTH``), from the first argument
    sent; worked out only when a timeout is reported, never on the way out."""
    if first is None:
        return None
    name = first.decode(errors="replace") if isinstance(first, bytes) else str(first)
    return name.split(" ", 1)[0][:40] or None


def _address(connection: object) -> dict[str, Any]:
    """What :func:`server_url` needs of a connection (redis-py keeps some of it behind properties)."""
    return {k: getattr(connection, k, None) for k in ("host", "port", "db", "username", "password", "path")}


_TLS = (redis.SSLConnection, aioredis.SSLConnection)


def _url(connection: Any) -> str:
    return server_url(_address(connection), tls=isinstance(connection, _TLS))


def _command_timeout(connection: Any, exc: redis.TimeoutError) -> redis.TimeoutError:
    """What a connection raises when a reply does not come: ours, unless it already is ours."""
    if isinstance(exc, RedisRagError):
        return exc
    text = command_timeout_text(_url(connection), connection.socket_timeout, _command_name(connection._last_command))
    return CommandTimeout(text)


def _connect_timeout(connection: Any, exc: redis.TimeoutError) -> redis.TimeoutError:
    if isinstance(exc, RedisRagError):  # a reply timed out during the handshake: already a CommandTimeout
        return exc
    return ConnectTimeout(connect_timeout_text(_url(connection), connection.socket_connect_timeout))


def _pool_wait(pool: Any) -> PoolWaitTimeout:
    tls = issubclass(pool.connection_class, _TLS)
    return PoolWaitTimeout(pool_wait_text(server_url(pool.connection_kwargs, tls), pool.timeout, pool.max_connections))


#: The connection method that opens the socket and says hello: ``connect_check_health`` since redis-py 6 (a
#: reconnect inside ``send_packed_command`` calls it without ``connect``), ``connect`` on 5.x.
_CONNECT = "connect_check_health" if hasattr(redis.Connection, "connect_check_health") else "connect"


class _SyncNamedTimeouts:
    """Mixin for redis-py's synchronous connection classes (see the module docstring)."""

    _last_command: Any = None  # the first argument of the last single command (a pipeline's batch: None)

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        self._last_command = None
        super().send_packed_command(*args, **kwargs)  # type: ignore[misc]

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        super().send_command(*args, **kwargs)  # type: ignore[misc]
        self._last_command = args[0] if args else None

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError as exc:
            raise _command_timeout(self, exc) from exc


def _sync_connect(self: Any, *args: Any, **kwargs: Any) -> None:
    try:
        getattr(super(_SyncNamedTimeouts, self), _CONNECT)(*args, **kwargs)
    except redis.TimeoutError as exc:
        raise _connect_timeout(self, exc) from exc


setattr(_SyncNamedTimeouts, _CONNECT, _sync_connect)


class _AsyncNamedTimeouts:
    """The asyncio twin of :class:`_SyncNamedTimeouts`."""

    _last_command: Any = None

    async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        self._last_command = None
        await super().send_packed_command(*args, **kwargs)  # type: ignore[misc]

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        await super().send_command(*args, **kwargs)  # type: ignore[misc]
        self._last_command = args[0] if args else None

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError as exc:
            raise _command_timeout(self, exc) from exc


async def _async_connect(self: Any, *args: Any, **kwargs: Any) -> None:
    try:
        await getattr(super(_AsyncNamedTimeouts, self), _CONNECT)(*args, **kwargs)
    except redis.TimeoutError as exc:
        raise _connect_timeout(self, exc) from exc


setattr(_AsyncNamedTimeouts, _CONNECT, _async_connect)


@functools.cache
def _named_class(connection_class: type) -> type:
    aio = issubclass(connection_class, aioredis.connection.AbstractConnection)
    mixin = _AsyncNamedTimeouts if aio else _SyncNamedTimeouts
    return type(f"Named{connection_class.__name__}", (mixin, connection_class), {})


def named_timeouts(connection_class: type) -> type:
    """``connection_class`` with timeouts that name their setting (one subclass per redis-py class, made once)."""
    if issubclass(connection_class, _SyncNamedTimeouts | _AsyncNamedTimeouts):
        return connection_class
    return _named_class(connection_class)


class NamedTimeoutPool(redis.BlockingConnectionPool):
    """redis-py's synchronous blocking pool whose connections and waits raise the package's timeout errors."""

    def __init__(self, *args: Any, connection_class: type = redis.Connection, **kwargs: Any) -> None:
        super().__init__(*args, connection_class=named_timeouts(connection_class), **kwargs)

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().get_connection()
        except redis.ConnectionError as exc:
            if not isinstance(exc.__context__, queue.Empty):
                raise
            raise _pool_wait(self) from exc


class _FifoGate:
    """At most ``size`` holders; the others wait in arrival order, and a freed place goes to the longest waiter.

    Why a hand-off and not a counter: if :meth:`leave` only incremented a counter, a coroutine arriving before the
    woken waiter runs could take the place. Here :meth:`leave` gives the place to the first waiter still waiting
    (its future's result), so the count of free places never rises while anyone waits, and :meth:`enter` lets a
    newcomer in directly only when nobody waits. A waiter cancelled or timed out after its place was handed to it
    passes the place on.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self, timeout: float | None) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(place)
        try:
            async with _timeout(timeout):
                await place
        except BaseException:
            if place.done() and not place.cancelled():
                self.leave()  # handed to us just as we gave up: the next waiter gets it
            else:
                place.cancel()
                if place in self._waiters:
                    self._waiters.remove(place)
            raise

    def leave(self) -> None:
        while self._waiters:
            place = self._waiters.popleft()
            if not place.done():
                place.set_result(None)
                return
        self._free += 1


class FairAsyncPool(aioredis.ConnectionPool):
    """An asyncio pool of ``max_connections`` whose callers wait (up to ``timeout`` s) first come, first served.

    Each connection handed out holds one place of the gate until it is released; :meth:`get_connection` takes the
    place before asking the pool underneath, which therefore always has a connection to give (or to make).
    """

    def __init__(
        self,
        max_connections: int = 100,
        timeout: float | None = 10.0,
        connection_class: type = aioredis.Connection,
        **connection_kwargs: Any,
    ) -> None:
        super().__init__(
            connection_class=named_timeouts(connection_class), max_connections=max_connections, **connection_kwargs
        )
        self.timeout = timeout
        self._gate = _FifoGate(max_connections)
        self._holding: set[Any] = set()  # connections handed out through the gate (each holds one place)

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            await self._gate.enter(self.timeout)
        except asyncio.TimeoutError as exc:  # the builtin TimeoutError since Python 3.11
            raise _pool_wait(self) from exc
        try:
            connection = await super().get_connection()
        except BaseException:
            # the pool released any connection it had taken (not one of ours yet): give the place back here
            self._gate.leave()
            raise
        self._holding.add(connection)
        return connection

    async def release(self, connection: Any) -> None:
        try:
            await super().release(connection)
        finally:
            if connection in self._holding:
                self._holding.discard(connection)
                self._gate.leave()
