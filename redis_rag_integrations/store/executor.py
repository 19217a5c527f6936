"""Run a write plan on a sync or an asyncio client: the one place where the two differ.

Why: every write of the index (upsert on each path, delete, delete by document, versioned document writes) is a
*plan*, a generator that yields :data:`WriteOp` values and receives each one's result (:mod:`.writes`,
:mod:`.versioned`). The protocol is written once; :func:`apply` and :func:`aapply` only carry each op to Redis. An op
is a small value, not a callback, so a plan never touches a client and cannot block an event loop.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from redis.exceptions import NoScriptError

from .. import freshness, replication
from ..connection import is_cluster
from ..placement import aft_call, ft_call
from .bulk import Command, asend_overlapped, first_error, send_overlapped

T = TypeVar("T")


class Pipeline(NamedTuple):
    """Commands in one round trip; result: their replies. ``atomic``: MULTI/EXEC where the server allows it (not a
    cluster: a transaction cannot span slots). ``errors_in_place``: error replies returned, not raised."""

    commands: Sequence[Command]
    atomic: bool = False
    errors_in_place: bool = False


class Stream(NamedTuple):
    """Commands streamed on one connection, batches overlapped (:mod:`.bulk`); result: raw replies, errors in place."""

    commands: Iterable[Command]
    batch_size: int


class Scripts(NamedTuple):
    """``EVALSHA`` commands of ``script`` streamed like :class:`Stream`; the script reloaded once if the server
    lost it; the first error raised. Result: ``None``."""

    commands: Iterable[Command]
    batch_size: int
    script: str


class Eval(NamedTuple):
    """One script call by its SHA1, sent again as ``EVAL`` if the server does not have it. Result: its reply."""

    script: str
    sha: str
    keys: Sequence[str]
    args: Sequence[Any]


class Call(NamedTuple):
    """A client method (for commands redis-py splits across a cluster's slots, e.g. ``delete``). Result: its reply."""

    method: str
    args: Sequence[Any]


class Invalidate(NamedTuple):
    """Drop the cache entries built from these ids (:func:`..freshness.invalidate_documents`), in the namespace
    ``keys`` (untenanted, or the index's tenant). Result: count."""

    ids: Sequence[str]
    keys: freshness.FreshKeys = freshness.GLOBAL


class Search(NamedTuple):
    """One ``FT.SEARCH`` (or other ``FT.*``) command of index ``index_name``, sent to the index's node on a cluster
    (:func:`..placement.ft_call`). Result: the raw reply."""

    index_name: str
    command: Sequence[Any]


WriteOp = Pipeline | Stream | Scripts | Eval | Call | Invalidate | Search
#: A write plan: yields ops, receives each op's result, returns the write's outcome.
Plan = Generator[WriteOp, Any, T]


def apply(client: Any, plan: Plan[T], durability: replication.Durability | None = None) -> T:
    """Run ``plan`` on a sync client. ``durability``: once the plan is done, wait until that many replicas have it
    (:func:`..replication.wait`; raises :class:`..replication.ReplicationError`)."""
    result: Any = None
    while True:
        try:
            op = plan.send(result)
        except StopIteration as done:
            if durability is not None:
                replication.wait(client, durability)
            return done.value
        result = _run(client, op)


async def aapply(client: Any, plan: Plan[T], durability: replication.Durability | None = None) -> T:
    """Run ``plan`` on an asyncio client."""
    result: Any = None
    while True:
        try:
            op = plan.send(result)
        except StopIteration as done:
            if durability is not None:
                await replication.await_replicas(client, durability)
            return done.value
        result = await _arun(client, op)


def _run(client: Any, op: WriteOp) -> Any:
    if isinstance(op, Pipeline):
        return _queued(client, op).execute(raise_on_error=not op.errors_in_place)
    if isinstance(op, Stream):
        return send_overlapped(client, op.commands, op.batch_size)
    if isinstance(op, Scripts):
        sent: list[Command] = []
        replies = send_overlapped(client, _recording(op.commands, sent), op.batch_size)
        if retry := _retry_list(sent, replies):
            client.script_load(op.script)
            sent, replies = retry, send_overlapped(client, retry, op.batch_size)
        return _raise_first(sent, replies)
    if isinstance(op, Eval):
        try:
            return client.evalsha(op.sha, len(op.keys), *op.keys, *op.args)
        except NoScriptError:
            return client.eval(op.script, len(op.keys), *op.keys, *op.args)
    if isinstance(op, Call):
        return getattr(client, op.method)(*op.args)
    if isinstance(op, Invalidate):
        return freshness.invalidate_documents(client, op.ids, op.keys)
    return ft_call(client, op.index_name, *op.command)


async def _arun(client: Any, op: WriteOp) -> Any:
    if isinstance(op, Pipeline):
        return await _queued(client, op).execute(raise_on_error=not op.errors_in_place)
    if isinstance(op, Stream):
        return await asend_overlapped(client, op.commands, op.batch_size)
    if isinstance(op, Scripts):
        sent: list[Command] = []
        replies = await asend_overlapped(client, _recording(op.commands, sent), op.batch_size)
        if retry := _retry_list(sent, replies):
            await client.script_load(op.script)
            sent, replies = retry, await asend_overlapped(client, retry, op.batch_size)
        return _raise_first(sent, replies)
    if isinstance(op, Eval):
        try:
            return await client.evalsha(op.sha, len(op.keys), *op.keys, *op.args)
        except NoScriptError:
            return await client.eval(op.script, len(op.keys), *op.keys, *op.args)
    if isinstance(op, Call):
        return await getattr(client, op.method)(*op.args)
    if isinstance(op, Invalidate):
        return await freshness.ainvalidate_documents(client, op.ids, op.keys)
    return await aft_call(client, op.index_name, *op.command)


def _queued(client: Any, op: Pipeline) -> Any:
    pipe = client.pipeline(transaction=op.atomic and not is_cluster(client))
    for command in op.commands:
        pipe.execute_command(*command)
    return pipe


def _recording(commands: Iterable[Command], sent: list[Command]) -> Iterator[Command]:
    for command in commands:
        sent.append(command)
        yield command


def _retry_list(commands: Sequence[Command], replies: Sequence[Any]) -> list[Command]:
    """Commands whose script was not in the server's cache (restart, ``SCRIPT FLUSH``): safe to send again."""
    return [c for c, r in zip(commands, replies, strict=True) if isinstance(r, NoScriptError)]


def _raise_first(commands: Sequence[Command], replies: Sequence[Any]) -> None:
    if (error := first_error(replies, [str(c[3]) for c in commands])) is not None:
        raise error
