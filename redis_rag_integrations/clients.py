"""One holder for every component's Redis clients: per URL, one sync client, and one asyncio client *per event loop*.

Why per loop: an asyncio client belongs to the event loop on which it connected. A component that kept one async
client forever worked in the first ``asyncio.run(...)`` and failed in the second ("Event loop is closed"), or,
behind a cache's fault guard, missed silently from then on. So no component stores an async client: each async
call asks its :class:`RedisClients` for the running loop's client (:meth:`RedisClients.aclient`), and objects bound
to a client (redisvl's ``AsyncSearchIndex``, ``register_script`` handles, an ``asyncio.Lock``) are kept next to it
(:meth:`RedisClients.on_loop`), so they follow the client from loop to loop.

The table of loops is weakly keyed by the loop and guarded by a lock, so threads each running their own loop get
their own clients. A loop's clients end with it: the first time a loop asks, an async generator is started on it;
``asyncio.run`` (and any runner calling ``loop.shutdown_asyncgens()``) finalises that generator before closing the
loop, which closes the loop's clients and forgets the loop. A loop closed without that step is pruned the next time
another loop registers (its clients can no longer be closed on it, only dropped), so a closed loop's client is
never reused.

Sync clients (thread-safe, pooled) are shared per key for the whole process: a component's ``close()`` does not
close them, since other components use them too; :func:`close_all` does. Keys are the resolved URL plus the settings
that change a client (timeouts, ``decode_responses``).

No I/O at import, nor when a holder is made: the URL is resolved (the embedded server started, ``REDIS_URL``
checked) on first use, in a worker thread when that first use is async. Cluster detection for async clients runs
on the async client itself (:func:`redis_rag_integrations.connection.aget_async_client`), never blocking a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any, TypeVar

from . import connection
from .connection import AsyncClient, SyncClient
from .settings import Settings, get_settings
from .urls import redis_url

T = TypeVar("T")
_Key = tuple[Hashable, ...]

_lock = threading.RLock()
_sync_clients: dict[_Key, SyncClient] = {}


class _LoopState:
    """What one event loop holds: its shared async clients by key, and each holder's loop-bound objects."""

    def __init__(self) -> None:
        self.clients: dict[_Key, AsyncClient] = {}
        self.per_holder: weakref.WeakKeyDictionary[RedisClients, dict[str, tuple[AsyncClient, Any]]] = (
            weakref.WeakKeyDictionary()
        )
        self.closer: Any = None  # the async generator whose finalisation closes the clients
        self.dead = False  # the loop closed without finalising it: nothing can be awaited on it any more

    def owned(self) -> list[AsyncClient]:
        """The clients this state made (never a caller's own async client), each once."""
        made = list(self.clients.values())
        made.extend(objects[_TWIN][1] for objects in self.per_holder.values() if _TWIN in objects)
        return list({id(c): c for c in made}.values())


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
_TWIN = "client:twin"


async def _close_with_loop(state: _LoopState) -> AsyncIterator[None]:
    """Suspended at ``yield`` until the loop shuts its async generators down, then closes the loop's clients."""
    try:
        yield
    finally:
        with _lock:
            clients = state.owned()
            state.clients.clear()
            state.per_holder.clear()
            for loop, found in list(_loops.items()):
                if found is state:
                    del _loops[loop]
        if not state.dead:
            await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


def _prune_closed_loops() -> None:
    """Forget loops closed without finalising their generator (their clients cannot be awaited any more)."""
    for loop, state in list(_loops.items()):
        if loop.is_closed():
            state.dead = True
            if state.closer is not None:  # run its finally now, without awaiting (it awaits nothing when dead)
                closing = state.closer.aclose()
                with contextlib.suppress(StopIteration):
                    closing.send(None)
                    closing.close()  # pragma: no cover - a dead state's finally never suspends
            _loops.pop(loop, None)


def _loop_state() -> _LoopState:
    """The running loop's state, registered (with its closer started) on the loop's first call."""
    loop = asyncio.get_running_loop()
    with _lock:
        state = _loops.get(loop)
        if state is None:
            _prune_closed_loops()
            state = _loops[loop] = _LoopState()
    if state.closer is None:  # one loop runs one task at a time: no other task can be between check and set
        state.closer = _close_with_loop(state)
        first = state.closer.__anext__()  # its first step registers it with this loop's shutdown_asyncgens()
        with contextlib.suppress(StopIteration):
            first.send(None)  # runs to the ``yield`` without suspending
    return state


class RedisClients:
    """Where one component gets its Redis clients (see the module docstring for why and how).

    Args:
        url: the Redis URL; ``None`` = the ready ``client``'s server, else :func:`redis_url` (``REDIS_URL`` checked,
            or the embedded server), resolved on first use.
        settings: timeouts and the default URL.
        decode_responses: ``str`` replies instead of ``bytes``.
        client: a ready synchronous client to use instead of a shared one. With no ``url``, the async API gets a
            twin of it per event loop (same servers and credentials), never the default Redis.
        async_client: a ready asyncio client, used as is on every call. It is bound to the event loop it first
            connects on: give one only to code that runs on that loop (otherwise leave it out and let the holder
            make one per loop). It is never closed here.
        require: the modules a default URL must offer (``("search",)``; ``()`` for plain keys).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        decode_responses: bool = False,
        client: SyncClient | None = None,
        async_client: AsyncClient | None = None,
        require: tuple[str, ...] = ("search",),
    ) -> None:
        self.settings = settings or get_settings()
        self._url = url
        self._decode = decode_responses
        self._given = client
        self._given_async = async_client
        self._twin = client is not None and url is None
        self._require = require

    # --- the URL ------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The URL of the Redis these clients reach (resolving the default may start the embedded server)."""
        if self._url is None:
            if self._given is not None:
                self._url = connection.client_url(self._given)
            else:
                self._url = redis_url(self.settings, require=self._require)
        return self._url

    async def aurl(self) -> str:
        """:attr:`url`, resolved in a worker thread when that needs I/O (never on the event loop)."""
        if self._url is None and self._given is None:
            return await asyncio.to_thread(lambda: self.url)
        return self.url

    def _key(self, url: str) -> _Key:
        """What makes two clients differ: the URL and every setting a client is built with (timeouts, TLS files,
        credentials: two users of one server must never share a connection)."""
        s = self.settings
        tls = (s.ssl_ca_certs, s.ssl_certfile, s.ssl_keyfile, s.ssl_cert_reqs, s.ssl_check_hostname)
        return (url, s.socket_timeout, s.connect_timeout, self._decode, *tls, s.redis_username, s.redis_password)

    # --- sync -----------------------------------------------------------------------------------------------------
    @property
    def client(self) -> SyncClient:
        """The synchronous client: the one given, or the process's shared one for this URL and settings."""
        if self._given is not None:
            return self._given
        key = self._key(self.url)
        with _lock:
            found = _sync_clients.get(key)
        if found is None:  # made outside the lock: it may probe the server (cluster detection)
            made = connection.get_client(self.url, settings=self.settings, decode_responses=self._decode)
            with _lock:
                found = _sync_clients.setdefault(key, made)
            if found is not made:
                made.close()
        return found

    # --- async ------------------------------------------------------------------------------------------------------
    async def aclient(self) -> AsyncClient:
        """The asyncio client for the running event loop, made on the loop's first call, ready to use."""
        state = _loop_state()
        if self._given_async is not None:
            return await connection.ready(self._given_async)
        if self._twin:
            objects = self._objects(state)
            if _TWIN not in objects:
                made = connection.async_twin(self.client)  # no I/O: built from the given client's settings
                objects[_TWIN] = (made, made)
            return await connection.ready(objects[_TWIN][1])
        key = self._key(await self.aurl())
        client = state.clients.get(key)
        if client is None:
            made = await connection.aget_async_client(key[0], settings=self.settings, decode_responses=self._decode)
            with _lock:
                client = state.clients.setdefault(key, made)
            if client is not made:  # another task of this loop made one meanwhile
                await made.aclose()
        return await connection.ready(client)

    def on_loop(self, name: str, client: AsyncClient, make: Callable[[AsyncClient], T]) -> T:
        """``make(client)`` for the running loop's ``client``, made once per loop and client: an object bound to
        the client (an ``AsyncSearchIndex``, ``register_script`` handles, an ``asyncio.Lock``...) follows it from
        loop to loop and is never used on another loop. Call it on the loop, with :meth:`aclient`'s answer."""
        objects = self._objects(_loop_state())
        found = objects.get(name)
        if found is None or found[0] is not client:
            found = objects[name] = (client, make(client))
        return found[1]

    def _objects(self, state: _LoopState) -> dict[str, tuple[AsyncClient, Any]]:
        with _lock:
            objects = state.per_holder.get(self)
            if objects is None:
                objects = state.per_holder[self] = {}
            return objects

    def current_async_client(self) -> AsyncClient:
        """The running loop's client, for synchronous code running on a loop (properties).

        No I/O once :attr:`client` or :attr:`url` was used (the URL is resolved, and whether it names a cluster
        node is known from the sync client's probe). Otherwise resolving the URL and that probe would block the
        loop here: async code that cannot rule this out awaits :meth:`aclient` instead.
        """
        if self._given_async is not None:
            return self._given_async
        state = _loop_state()
        if self._twin:
            objects = self._objects(state)
            if _TWIN not in objects:
                made = connection.async_twin(self.client)
                objects[_TWIN] = (made, made)
            return objects[_TWIN][1]
        key = self._key(self.url)
        with _lock:
            found = state.clients.get(key)
            if found is None:
                found = state.clients[key] = connection.get_async_client(
                    key[0], settings=self.settings, decode_responses=self._decode
                )
        return found

    def release(self) -> None:
        """What a component's ``close()`` calls: shared clients stay open for the other components (a given client
        belongs to its caller); this holder's loop-bound objects go with their loops."""

    def __repr__(self) -> str:
        url = connection.mask_url(self._url) if self._url else "<default>"
        return f"RedisClients({url}, twin={self._twin}, given_async={self._given_async is not None})"


def get_client(
    url: str | None = None, *, settings: Settings | None = None, decode_responses: bool = False
) -> SyncClient:
    """A new synchronous client for ``url`` (default: :func:`redis_url`), yours to close.

    Components share theirs through :class:`RedisClients`; this is for callers who want their own.
    """
    settings = settings or get_settings()
    return connection.get_client(url or redis_url(settings), settings=settings, decode_responses=decode_responses)


def get_async_client(
    url: str | None = None, *, settings: Settings | None = None, decode_responses: bool = False
) -> AsyncClient:
    """A new asyncio client for ``url`` (default: :func:`redis_url`), yours to close, bound to the loop it first
    connects on. Synchronous: call it outside a running loop; async code should ``await``
    :func:`redis_rag_integrations.connection.aget_async_client`, which never blocks the loop."""
    settings = settings or get_settings()
    url = url or redis_url(settings)
    return connection.get_async_client(url, settings=settings, decode_responses=decode_responses)


def close_all() -> None:
    """Close the process's shared synchronous clients (they reconnect if used again). Async clients close with
    their loops."""
    with _lock:
        clients = list(_sync_clients.values())
        _sync_clients.clear()
    for client in clients:
        client.close()
