"""Agent memory on Redis for LangChain 1.x ``create_agent`` / LangGraph: checkpointers (short-term) and a store
(long-term), built in one place on the same Redis as the rest of the package.

Short-term memory is the official ``langgraph-checkpoint-redis`` saver, with fixes. Its sync ``list()`` (what
``get_state_history`` reads) returns the pending ``Send`` packets of a checkpoint as plain dicts, while
``get_tuple()`` revives them. LangGraph then drops them ("Ignoring invalid packet type dict in pending sends"), so
the history shows the step before a tool call with ``next == ()`` instead of ``("tools",)``, and replaying or
forking from that checkpoint skips the tool. :class:`RedisCheckpointSaver` revives them the way ``get_tuple()``
does. Both savers' ``list()`` / ``alist()`` return exactly what LangGraph's ``InMemorySaver`` does (the library's
TAG query mixed threads and namespaces, dropped ``before`` and refused custom metadata filters: see
:mod:`~redis_rag_integrations.langchain.checkpoint_list`). Long-term memory is
:class:`~redis_rag_integrations.langchain.memory_store.RedisMemoryStore` (why not the official ``RedisStore``: see
that module).

Usage::

    agent = create_agent(model, tools, checkpointer=checkpointer(), store=memory_store())
    agent.invoke({"messages": [...]}, {"configurable": {"thread_id": "user-42"}})

    async with async_checkpointer() as saver:          # one per event loop
        agent = create_agent(model, tools, checkpointer=saver)
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import redis
from langchain_core.embeddings import Embeddings
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.redis import RedisSaver
from langgraph.checkpoint.redis.aio import AsyncRedisSaver

from ..cache.options import validate_ttl
from ..connection import connection_failed, get_async_client, get_client
from ..embeddings import Embedder, default_embedder
from ..errors import RedisRagError
from ..settings import Settings, get_settings
from ..tenancy import TenantLike
from ..urls import redis_url as resolve_url
from .cache import as_embedder
from .checkpoint_list import ListPlan, plain_thread, registry_writes, thread_keys, writes_registry
from .memory_store import RedisMemoryStore

__all__ = [
    "AsyncRedisCheckpointSaver",
    "CorruptCheckpointError",
    "RedisCheckpointSaver",
    "async_checkpointer",
    "checkpointer",
    "memory_store",
]

_FAULTS = (redis.ConnectionError, redis.TimeoutError, OSError)


class CorruptCheckpointError(RedisRagError, ValueError):
    """A thread's stored checkpoint cannot be read back (not the JSON the saver wrote: a bad restore, a foreign
    writer). The saver itself raised a bare ``JSONDecodeError`` from deep inside LangGraph."""


#: What the saver raises reading stored data of another shape than it wrote (JSONDecodeError is a ValueError; the
#: async saver calls .get() on what it finds). Only its read paths are wrapped, so no other error is relabelled.
_DECODING = (ValueError, TypeError, KeyError, AttributeError)


def _corrupt(config: RunnableConfig | None, exc: Exception) -> CorruptCheckpointError:
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    return CorruptCheckpointError(
        f"the checkpoint of thread {thread!r} in Redis cannot be read ({type(exc).__name__}: {exc}). Delete the thread "
        f"with saver.delete_thread({thread!r}) (its history is lost) or restore its keys from a backup"
    )


class RedisCheckpointSaver(RedisSaver):
    """``RedisSaver`` whose ``list()`` is exact (:mod:`.checkpoint_list`) and returns checkpoints as ``get_tuple()``
    does (pending sends revived)."""

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        plan = ListPlan(config, filter, before, limit)
        try:
            self._search(plan)
            if (batch := plan.batch()) is not None:
                plan.pick(self._revived(found) for found in super().list(**batch))
        except _DECODING as exc:
            raise _corrupt(config, exc) from exc
        for selected, found in plan.selected():  # the rest read as the caller iterates; a deleted one is skipped
            if (found := found or self.get_tuple(selected)) is not None:
                yield found

    def _search(self, plan: ListPlan) -> None:
        while not plan.done:
            docs = self.checkpoints_index.search(plan.query()).docs
            plan.take(docs, [self._redis.json().get(key) for key in plan.unreadable(docs)])

    def delete_thread(self, thread_id: str) -> None:
        """The library's delete (when its TAG query finds the thread), then every checkpoint of exactly this
        thread it left (an id with ',' or outer spaces; past its 10,000 results), with their writes."""
        if plain_thread(thread_id):
            super().delete_thread(thread_id)
        plan = ListPlan({"configurable": {"thread_id": thread_id}}, None, None, None)
        self._search(plan)
        keys, registries = thread_keys(self, plan.chosen())
        for registry in registries:
            keys.extend([*self._redis.zrange(registry, 0, -1), registry])
        for key in keys:  # one by one: on a cluster they live in different slots
            self._redis.delete(key)

    def _revived(self, found: CheckpointTuple) -> CheckpointTuple:
        """The library's list() leaves pending sends as dicts (its get_tuple revives them)."""
        values = self._recursive_deserialize(found.checkpoint.get("channel_values") or {})
        return found._replace(checkpoint={**found.checkpoint, "channel_values": values})

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The library's, with the pending writes its write registry holds (:func:`.checkpoint_list.registry_writes`:
        it skipped them when the checkpoint's ``has_writes`` flag was false; the async saver reads the same way)."""
        try:
            found = super().get_tuple(config)
            if found is None or found.pending_writes:
                return found
            keys = self._redis.zrange(writes_registry(found.config), 0, -1)
            if not keys:
                return found
            with self._redis.pipeline(transaction=False) as pipe:  # keys in several slots: not a transaction
                for key in keys:
                    pipe.json().get(key)
                documents = pipe.execute()
            return found._replace(pending_writes=registry_writes(self.serde, documents))
        except _DECODING as exc:
            raise _corrupt(config, exc) from exc


def _fault_in(exc: BaseException) -> BaseException | None:
    """The connection fault behind ``exc``, if any: redisvl wraps it (``RedisSearchError`` from creating an index)."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain; never loop on a cycle of causes
        if seen is None or isinstance(seen, _FAULTS):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class AsyncRedisCheckpointSaver(AsyncRedisSaver):
    """``AsyncRedisSaver`` under our name, so both savers come from here, with the same exact ``alist`` and the
    same clear errors as the sync saver on a checkpoint that cannot be read and on a Redis that cannot be
    reached (its setup raised redisvl's ``RedisSearchError``, 'Error while fetching checkpoint index info')."""

    #: The URL named by the connection error (set by :func:`async_checkpointer`; masked when shown).
    rag_url: str | None = None

    async def asetup(self) -> None:
        try:
            await super().asetup()
        except Exception as exc:
            fault = _fault_in(exc)
            if fault is None or self.rag_url is None:
                raise
            raise connection_failed(self.rag_url, fault) from exc

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """As :meth:`RedisCheckpointSaver.get_tuple` (the library's async read already takes the registry's writes;
        this keeps both savers on the same rule if it stops doing so)."""
        try:
            found = await super().aget_tuple(config)
            if found is None or found.pending_writes:
                return found
            keys = await self._redis.zrange(writes_registry(found.config), 0, -1)
            if not keys:
                return found
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.json().get(key)
            documents = await pipe.execute()
            return found._replace(pending_writes=registry_writes(self.serde, documents))
        except _DECODING as exc:
            raise _corrupt(config, exc) from exc

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        plan = ListPlan(config, filter, before, limit)
        try:
            await self._asearch(plan)
            if (batch := plan.batch()) is not None:
                plan.pick([found async for found in super().alist(**batch)])
        except _DECODING as exc:
            raise _corrupt(config, exc) from exc
        for selected, found in plan.selected():
            if (found := found or await self.aget_tuple(selected)) is not None:
                yield found

    async def _asearch(self, plan: ListPlan) -> None:
        while not plan.done:
            docs = (await self.checkpoints_index.search(plan.query())).docs
            plan.take(docs, [await self._redis.json().get(key) for key in plan.unreadable(docs)])

    async def adelete_thread(self, thread_id: str) -> None:
        """As :meth:`RedisCheckpointSaver.delete_thread`."""
        if plain_thread(thread_id):
            await super().adelete_thread(thread_id)
        plan = ListPlan({"configurable": {"thread_id": thread_id}}, None, None, None)
        await self._asearch(plan)
        keys, registries = thread_keys(self, plan.chosen())
        for registry in registries:
            keys.extend([*await self._redis.zrange(registry, 0, -1), registry])
        for key in keys:
            await self._redis.delete(key)


def _ttl(ttl_seconds: int | None, refresh_on_read: bool) -> dict[str, Any] | None:
    """LangGraph counts checkpoint TTLs in minutes; the package's settings count seconds. The library turns the
    minutes back into seconds with ``int(minutes * 60)``, so a TTL below one second became 0 = no expiry (kept
    forever, silently) and a fraction was cut off: only a positive whole number of seconds is taken (as the caches
    take it, :func:`~redis_rag_integrations.cache.options.validate_ttl`), and the minutes are the smallest float
    the library turns back into exactly those seconds (``123 / 60 * 60`` is 122.99..., which it truncates to 122)."""
    seconds = validate_ttl(ttl_seconds)
    if seconds is None:
        return None
    minutes = seconds / 60
    while int(minutes * 60) < seconds:
        minutes = math.nextafter(minutes, math.inf)
    return {"default_ttl": minutes, "refresh_on_read": refresh_on_read}


def checkpointer(
    redis_url: str | None = None,
    *,
    ttl: int | None = None,
    refresh_on_read: bool = True,
    settings: Settings | None = None,
) -> RedisCheckpointSaver:
    """A ready (indexes created) sync checkpointer on ``redis_url`` (default: ``REDIS_URL`` or the embedded
    Redis), with the package's timeouts. ``ttl`` in seconds (default ``Settings.history_ttl``; unset = forever).
    An unreachable Redis raises :class:`~redis_rag_integrations.errors.RedisConnectionFailed` naming the URL."""
    settings = settings or get_settings()
    url = redis_url or resolve_url(settings)
    ttl_config = _ttl(ttl if ttl is not None else settings.history_ttl, refresh_on_read)
    try:
        saver = RedisCheckpointSaver(redis_client=get_client(url, settings=settings), ttl=ttl_config)
        saver.setup()
    except _FAULTS as exc:
        raise connection_failed(url, exc) from exc
    return saver


def async_checkpointer(
    redis_url: str | None = None,
    *,
    ttl: int | None = None,
    refresh_on_read: bool = True,
    settings: Settings | None = None,
) -> AsyncRedisCheckpointSaver:
    """An async checkpointer to enter with ``async with`` (which creates the indexes and binds it to the running
    event loop: one per loop). Same Redis, keys and TTL rules as :func:`checkpointer`."""
    settings = settings or get_settings()
    url = redis_url or resolve_url(settings)
    ttl_config = _ttl(ttl if ttl is not None else settings.history_ttl, refresh_on_read)
    client = get_async_client(url, settings=settings)  # our timeouts; lazily connected, on the loop that uses it
    saver = AsyncRedisCheckpointSaver(redis_client=client, ttl=ttl_config)
    saver.rag_url = url
    return saver


def memory_store(
    redis_url: str | None = None,
    *,
    embeddings: Embeddings | Embedder | None = None,
    name: str = "agent-memory",
    fields: list[str] | None = None,
    ttl_minutes: float | None = None,
    settings: Settings | None = None,
    tenant: TenantLike = None,
) -> RedisMemoryStore:
    """Long-term memory for ``create_agent(store=...)``, searchable by meaning with ``embeddings`` (default: the
    package's embedder) over the value ``fields`` (default: the whole value)."""
    settings = settings or get_settings()
    url = redis_url or resolve_url(settings)
    embedder = as_embedder(embeddings) if embeddings is not None else None
    if embedder is None:
        embedder = default_embedder(settings)
    index: dict[str, Any] = {"dims": embedder.dims, "embed": embedder, "fields": fields or ["$"]}
    ttl = {"default_ttl": ttl_minutes, "refresh_on_read": True} if ttl_minutes else None
    return RedisMemoryStore(url, name=name, index=index, ttl=ttl, settings=settings, tenant=tenant)  # type: ignore[arg-type]
