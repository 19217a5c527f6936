"""Bulk command streams that keep the server busy: the next batch is packed and sent before the last is read.

Why not a redis-py pipeline per batch: ``Pipeline.execute`` packs a batch, sends it and then waits for every reply
before the caller can pack the next one, so the client and the server take turns. On the small machines this
package targets (client and Redis sharing two cores) packing 500 commands is a tenth of what the server spends
indexing them, and it was all idle server time. Here one connection carries at most two batches: while the
server indexes batch *n*, the client packs and sends batch *n + 1*, then reads the replies of batch *n*. Redis
answers in order, and a batch's replies are a few bytes per command, so the read side never backs up.

Replies are the server's raw ones (no redis-py response callbacks: ``SET`` gives ``b"OK"``, not ``True``). Error
replies come back in place (as ``ResponseError`` values) after every reply has been read, as with
``pipeline.execute(raise_on_error=False)``, so the connection is never left with unread replies. Any other failure
(timeout, connection lost) disconnects the connection before it goes back to the pool.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from redis.exceptions import NoPermissionError, ResponseError

Command = Sequence[Any]
#: Commands per batch on the wire. Small, because the overlap starts with the second batch: the first is packed
#: while the server waits. With two batches in flight, smaller batches cost no extra round trips.
STREAM_BATCH = 50


def _batches(commands: Iterable[Command], batch_size: int) -> Iterator[list[Command]]:
    """Consecutive batches of ``commands``; a generator is advanced only as each batch is about to be sent."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    it = iter(commands)
    return iter(lambda: list(islice(it, batch_size)), [])


def _read_into(connection: Any, count: int, replies: list[Any]) -> None:
    for _ in range(count):
        try:
            replies.append(connection.read_response())
        except ResponseError as exc:
            replies.append(exc)


def send_overlapped(client: Any, commands: Iterable[Command], batch_size: int = STREAM_BATCH) -> list[Any]:
    """Run ``commands`` on one connection of ``client``'s pool; replies (or ``ResponseError``) in order.

    ``commands`` may be a generator: it is advanced one batch at a time, while the previous batch is in flight,
    so building the commands overlaps the server's work too.
    """
    # Always a connection of our own from the pool, even for a single-connection client: its one connection
    # may be in use by another thread, and we hold ours across several batches.
    pool = client.connection_pool
    batches = _batches(commands, batch_size)
    connection = pool.get_connection()
    replies: list[Any] = []
    in_flight: deque[int] = deque()
    try:
        for batch in batches:
            connection.send_packed_command(connection.pack_commands(batch), check_health=not in_flight)
            in_flight.append(len(batch))
            if len(in_flight) > 1:
                _read_into(connection, in_flight.popleft(), replies)
        while in_flight:
            _read_into(connection, in_flight.popleft(), replies)
    except BaseException:
        connection.disconnect()  # unread replies would desynchronise the next user of this connection
        raise
    finally:
        pool.release(connection)
    return replies


async def _aread_into(connection: Any, count: int, replies: list[Any]) -> None:
    for _ in range(count):
        try:
            replies.append(await connection.read_response())
        except ResponseError as exc:
            replies.append(exc)


async def asend_overlapped(client: Any, commands: Iterable[Command], batch_size: int = STREAM_BATCH) -> list[Any]:
    """The asyncio twin of :func:`send_overlapped`, on a ``redis.asyncio`` client."""
    pool = client.connection_pool
    batches = _batches(commands, batch_size)
    connection = await pool.get_connection()
    replies: list[Any] = []
    in_flight: deque[int] = deque()
    try:
        for batch in batches:
            await connection.send_packed_command(connection.pack_commands(batch), check_health=not in_flight)
            in_flight.append(len(batch))
            if len(in_flight) > 1:
                await _aread_into(connection, in_flight.popleft(), replies)
        while in_flight:
            await _aread_into(connection, in_flight.popleft(), replies)
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
    return replies


def first_error(replies: Sequence[Any], keys: Sequence[str]) -> ResponseError | None:
    """The first error reply, naming the key of the command that caused it."""
    for reply, key in zip(replies, keys, strict=True):
        if isinstance(reply, NoPermissionError):  # an ACL refusal: kept as is (it names the command and the role)
            return reply
        if isinstance(reply, ResponseError):
            return ResponseError(f"writing {key}: {reply}")
    return None
