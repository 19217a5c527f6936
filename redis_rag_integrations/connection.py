"""One place that turns a URL into a checked Redis client, sync or async.

Every component gets its client here, so all of them share the same socket timeouts (a hung Redis must never hang
the application), the same cluster / sentinel handling (delegated to redisvl's connection factory) and the same
clear errors for the three ways a ``REDIS_URL`` goes wrong: malformed, unreachable, or without the search module.

Cluster detection: redisvl builds a cluster client only for ``?cluster=true`` or a several-host URL, but what a user
copies from a dashboard is the plain URL of one node, and a plain client on a cluster node fails with MOVED on most
keys (and SCAN sees one shard only, silently). So a plain URL is asked once (``INFO cluster``, cached per URL) and
gets a cluster client when the server is a cluster node. An ACL user without ``INFO`` (the package's roles have
none) is asked ``HELLO`` (its ``mode``), then ``CLUSTER INFO``; denied all, the server is taken for a standalone one.

Sentinel URLs (``redis+sentinel://``, ``rediss+sentinel://``) go to :mod:`.sentinel`; TLS, credentials and the
NOPERM parser come from :mod:`.client_options`. Errors never carry a password: URLs are shown through
:func:`mask_url`, and a failed TLS handshake or a refused password gets an error class of its own.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.asyncio import Connection as AsyncConnection
from redis.asyncio import ConnectionPool as AsyncConnectionPool
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio import SSLConnection as AsyncSSLConnection
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.cluster import RedisCluster
from redisvl.redis.connection import RedisConnectionFactory
from redisvl.redis.utils import is_cluster_url

from . import client_options, pools, sentinel
from .acl import PermissionDenied
from .errors import MissingModuleError
from .failures import connection_failed, mask_url
from .hello import ahello, hello
from .settings import Settings, get_settings

SyncClient = redis.Redis | RedisCluster
AsyncClient = AsyncRedis | AsyncRedisCluster

_checked_urls: set[tuple[str, frozenset[str]]] = set()
_checked_lock = threading.Lock()
_cluster_by_url: dict[str, bool] = {}  # plain URL -> whether its server is a cluster node (asked once)

# What a synchronous cluster client's connections carry over to its asyncio twin: credentials, timeouts, decoding,
# TLS. Not its Retry or event objects, which are of the synchronous kind.
_TWIN_OPTIONS = frozenset(
    {
        "username", "password", "credential_provider", "client_name", "lib_name", "lib_version",
        "decode_responses", "encoding", "encoding_errors", "protocol", "health_check_interval",
        "socket_timeout", "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options",
    }
)  # fmt: skip
_ASYNC_CLUSTER_OPTIONS = frozenset(inspect.signature(AsyncRedisCluster.__init__).parameters)


def is_cluster(client: Any) -> bool:
    """Whether ``client`` (sync or asyncio, or a test double of one) talks to a Redis Cluster.

    Why one function: pipelines, scripts and scans all take another path on a cluster (no MULTI across slots, no
    undeclared keys in a script, one shard per SCAN), and every module must agree on what a cluster client is.
    """
    return isinstance(client, RedisCluster | AsyncRedisCluster) or hasattr(client, "nodes_manager")


def _client_kwargs(settings: Settings, decode_responses: bool, url: str = "") -> dict[str, Any]:
    """The cluster-safe options (no parser argument: redis-py's cluster clients take none)."""
    return client_options.client_options(settings, url, decode_responses, parser=False)


def _pooled(url: str, settings: Settings, decode_responses: bool, *, aio: bool) -> SyncClient | AsyncClient | None:
    """A client of ``url`` on a *blocking* pool of ``settings.max_connections``, or ``None`` for URLs the factory
    must handle (sentinel, cluster, a ``cluster`` query argument).

    Why: redis-py's default pool holds 100 connections and raises ``MaxConnectionsError`` ("Too many connections")
    on the 101st concurrent command -- 512 coroutines sharing one store failed most of their calls
    (``benchmarks/load.py``). A blocking pool makes the extra callers wait for a free connection (up to
    ``settings.pool_timeout``) instead, the asyncio ones in arrival order (:mod:`.pools`). RESP2 as the redisvl
    factory sets it: raw search replies are parsed as such.
    """
    parts = urlsplit(url)
    if (
        parts.scheme not in ("redis", "rediss", "unix")
        or is_cluster_url(url)
        or "cluster" in dict(parse_qsl(parts.query))
    ):
        return None
    kwargs = {
        **client_options.client_options(settings, url, decode_responses, aio=aio),
        "protocol": 2,
        "max_connections": settings.max_connections,
        "timeout": settings.pool_timeout,
    }
    if aio:  # first come, first served; timeouts that name their setting (see pools)
        return AsyncRedis.from_pool(pools.FairAsyncPool.from_url(url, **kwargs))
    return redis.Redis.from_pool(pools.NamedTimeoutPool.from_url(url, **kwargs))


def _validate_url_syntax(url: str) -> None:
    if not isinstance(url, str) or not url:
        raise ValueError(
            f"no Redis URL given ({url!r}): pass one, or call redis_rag_integrations.get_client() for the default"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ValueError(f"malformed Redis URL {mask_url(url)!r}: {exc}. Example: redis://localhost:6379/0") from exc
    if parts.scheme in ("redis", "rediss") and not parts.hostname:
        raise ValueError(f"malformed Redis URL {mask_url(url)!r}: no host. Example: redis://localhost:6379/0")


def get_client(url: str, *, settings: Settings | None = None, decode_responses: bool = False) -> SyncClient:
    """A synchronous client for ``url``, with timeouts (components share theirs through :mod:`.clients`).

    Standalone, cluster (``?cluster=true``, several hosts, or the plain URL of any cluster node) and sentinel
    (``redis+sentinel://``) URLs work. Connection failures raise :class:`RedisConnectionFailed` naming the URL.
    The URL is given, never defaulted here: resolving the default (:mod:`.urls`) needs a client from this module.
    """
    settings = settings or get_settings()
    _validate_url_syntax(url)
    if sentinel.is_sentinel_url(url):
        return sentinel.sentinel_client(url, _sentinel_kwargs(settings, url, decode_responses, aio=False), aio=False)
    kwargs = _client_kwargs(settings, decode_responses, url)
    try:
        if _may_be_cluster_node(url) and _cluster_by_url.get(url):
            return _cluster_client(url, kwargs)
        client = _pooled(url, settings, decode_responses, aio=False) or client_options.denial_aware_cluster(
            RedisConnectionFactory.get_redis_connection(url, **kwargs)
        )
        if _may_be_cluster_node(url) and url not in _cluster_by_url:
            _cluster_by_url[url] = _is_cluster_node(client)
            if _cluster_by_url[url]:
                client.close()
                return _cluster_client(url, kwargs)
        return client
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise connection_failed(url, exc) from exc


def get_async_client(url: str, *, settings: Settings | None = None, decode_responses: bool = False) -> AsyncClient:
    """The asyncio twin of :func:`get_client` (connects lazily, on its first command), for synchronous callers.

    A plain URL not seen before is asked once, synchronously, whether it names a cluster node (one ``INFO``
    within the connect timeout): a blocking round trip, so code running on an event loop should await
    :func:`aget_async_client` instead. If the server cannot be reached then, the client stays plain and lazy, so
    the failure surfaces on first use.
    """
    settings = settings or get_settings()
    _validate_url_syntax(url)
    if _may_be_cluster_node(url) and url not in _cluster_by_url:
        try:
            probe = redis.Redis.from_url(url, **_client_kwargs(settings, False, url))
            try:
                _cluster_by_url[url] = _is_cluster_node(probe)
            finally:
                probe.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass  # unknown: stay plain, and ask again next time
    return _async_connection(url, settings, decode_responses)


async def aget_async_client(
    url: str, *, settings: Settings | None = None, decode_responses: bool = False
) -> AsyncClient:
    """:func:`get_async_client` for code on an event loop: a plain URL not seen before is asked whether it names
    a cluster node with the asyncio client itself (the loop keeps running meanwhile), and the client comes back
    :func:`ready` on the running loop. An unreachable server leaves it plain; the failure surfaces on first use.
    """
    settings = settings or get_settings()
    _validate_url_syntax(url)
    if _may_be_cluster_node(url) and url not in _cluster_by_url:
        client = _async_connection(url, settings, decode_responses)
        try:
            _cluster_by_url[url] = _cluster_enabled(await client.info("cluster"))
        except redis.exceptions.NoPermissionError:  # INFO denied by the ACL: HELLO is in every role
            try:
                _cluster_by_url[url] = (await ahello(client)).get("mode") == "cluster"
            except redis.ResponseError:  # HELLO denied too: CLUSTER INFO
                try:
                    _cluster_by_url[url] = _answers_cluster_info(await client.execute_command("CLUSTER INFO"))
                except redis.ResponseError:  # not a cluster ("cluster support disabled"), or denied too
                    _cluster_by_url[url] = False
        except redis.ResponseError:  # INFO refused otherwise (some managed services): not a cluster we can detect
            _cluster_by_url[url] = False
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return client  # unknown: stay plain, and ask again when another client is made
        if not _cluster_by_url[url]:
            return client
        await client.aclose()
    return await ready(_async_connection(url, settings, decode_responses))


def _async_connection(url: str, settings: Settings, decode_responses: bool) -> AsyncClient:
    """An asyncio client (no I/O), a cluster client when ``url`` is known to name a cluster node."""
    if sentinel.is_sentinel_url(url):
        return sentinel.sentinel_client(url, _sentinel_kwargs(settings, url, decode_responses, aio=True), aio=True)
    if _may_be_cluster_node(url) and _cluster_by_url.get(url):
        url = _with_cluster_flag(url)
    elif (client := _pooled(url, settings, decode_responses, aio=True)) is not None:
        return client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        made = RedisConnectionFactory.get_async_redis_connection(url, **_client_kwargs(settings, decode_responses, url))
    return client_options.denial_aware_cluster(made)


def _cluster_client(url: str, kwargs: dict[str, Any]) -> SyncClient:
    """A sync cluster client of the node ``url`` names, with the NOPERM parser on its nodes."""
    return client_options.denial_aware_cluster(
        RedisConnectionFactory.get_redis_connection(_with_cluster_flag(url), **kwargs)
    )


def _sentinel_kwargs(settings: Settings, url: str, decode_responses: bool, *, aio: bool) -> dict[str, Any]:
    return {**client_options.client_options(settings, url, decode_responses, aio=aio), "protocol": 2}


async def ready(client: AsyncClient) -> AsyncClient:
    """``client``, with an asyncio cluster client's slot map loaded on the running loop.

    Await this before the first transactional pipeline on an asyncio ``RedisCluster``: redis-py (8.1) queues each
    command of such a pipeline through ``asyncio.run`` on a helper thread, and a client not yet initialised
    initialises there, binding its connections to that thread's short-lived loop; every later command then
    fails with "Event loop is closed". Cheap once initialised.
    """
    if isinstance(client, AsyncRedisCluster):
        await client.initialize()
    return client


def async_twin(client: SyncClient) -> AsyncClient:
    """An asyncio client for the same server(s) and credentials as the synchronous ``client``.

    For a caller that hands over one ready client: the async API must reach the same Redis, never the default.
    """
    if isinstance(client, RedisCluster):
        given = client.nodes_manager.connection_kwargs
        options = {k: v for k, v in given.items() if k in _TWIN_OPTIONS or k.startswith("ssl")}
        options = {k: v for k, v in options.items() if k in _ASYNC_CLUSTER_OPTIONS}
        if given.get("connection_class") is redis.SSLConnection:
            options["ssl"] = True
        nodes = [AsyncClusterNode(node.host, node.port) for node in client.get_primaries()]
        return client_options.denial_aware_cluster(AsyncRedisCluster(startup_nodes=nodes, **options))
    if isinstance(client, redis.Redis):
        pool = client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        if "parser_class" in kwargs:  # ours: the sync parser cannot read an asyncio socket
            kwargs["parser_class"] = client_options.async_parser()
        manager = getattr(pool, "sentinel_manager", None)
        if manager is not None:  # a sentinel client: the twin asks the same sentinels for the primary
            hosts = [tuple(s.connection_pool.connection_kwargs[k] for k in ("host", "port")) for s in manager.sentinels]
            kwargs.pop("connection_class", None)
            if "SSL" in pool.connection_class.__name__:
                kwargs["ssl"] = True
            return AsyncSentinel(hosts, sentinel_kwargs=manager.sentinel_kwargs).master_for(pool.service_name, **kwargs)
        ssl_class = pool.connection_class is redis.SSLConnection or issubclass(
            pool.connection_class, redis.SSLConnection
        )
        connection_class = AsyncSSLConnection if ssl_class else AsyncConnection
        return AsyncRedis.from_pool(AsyncConnectionPool(connection_class=connection_class, **kwargs))
    raise TypeError(f"expected a redis.Redis or redis.cluster.RedisCluster client, got {type(client).__name__}")


def client_url(client: SyncClient) -> str:
    """A password-free URL naming the server of a ready ``client`` (for error messages and per-server caches)."""
    if isinstance(client, RedisCluster):
        node = client.get_default_node()
        return f"redis://{node.host}:{node.port}?cluster=true"
    named = sentinel.sentinel_url_of(client)
    if named is not None:
        return named
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _may_be_cluster_node(url: str) -> bool:
    """A URL naming one standalone-looking server (not sentinel, not already a cluster URL, not a unix socket)."""
    return urlsplit(url).scheme in ("redis", "rediss") and not is_cluster_url(url)


def _is_cluster_node(client: redis.Redis) -> bool:
    try:
        return _cluster_enabled(client.info("cluster"))
    except redis.exceptions.NoPermissionError:  # INFO denied by the ACL: HELLO is in every role
        try:
            return hello(client).get("mode") == "cluster"
        except redis.ResponseError:  # HELLO denied too: CLUSTER INFO
            try:
                return _answers_cluster_info(client.execute_command("CLUSTER INFO"))
            except redis.ResponseError:  # "cluster support disabled", or denied too: take it for standalone
                return False
    except redis.ResponseError:  # INFO refused otherwise (some managed services): not a cluster we can detect
        return False


def _answers_cluster_info(reply: Any) -> bool:
    """A ``CLUSTER INFO`` answer means a cluster node: a standalone server refuses the command ("This instance has
    cluster support disabled"). Its fields say nothing like ``cluster_enabled`` (that is ``INFO``'s)."""
    return bool(reply)


def _cluster_enabled(info: dict[str, Any]) -> bool:
    return bool(int(info.get("cluster_enabled", 0)))


def _with_cluster_flag(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "cluster"] + [("cluster", "true")]
    path = "" if parts.path.strip("/") in ("", "0") else parts.path  # a cluster has only db 0
    return urlunsplit(parts._replace(path=path, query=urlencode(query)))


def server_modules(client: SyncClient) -> dict[str, int]:
    """``{module name: version}`` as MODULE LIST reports it (``search``, ``ReJSON``, ``vectorset``...)."""
    modules: dict[str, int] = {}
    for entry in client.module_list():
        item = {(k.decode() if isinstance(k, bytes) else k): v for k, v in entry.items()}
        name = item.get("name", b"")
        modules[name.decode() if isinstance(name, bytes) else str(name)] = int(item.get("ver", 0))
    return modules


def _hello_modules(client: SyncClient) -> dict[str, int] | None:
    try:
        return dict(hello(client)["modules"])
    except (redis.ResponseError, KeyError, TypeError, ValueError):
        return None


def require_modules(client: SyncClient, url: str, modules: tuple[str, ...] = ("search",)) -> None:
    """Fail with :class:`MissingModuleError` unless the server has every module in ``modules``.

    Checked once per (url, modules) per process: the answer does not change while the server runs.
    """
    key = (url, frozenset(modules))
    with _checked_lock:
        if key in _checked_urls:
            return
    try:
        present = server_modules(client)
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise connection_failed(url, exc) from exc
    except redis.ResponseError:  # MODULE LIST denied (ACL roles, managed services): HELLO lists them too
        present = _hello_modules(client)
    if present is None:  # HELLO denied as well: trust FT._LIST
        present = {}
        try:
            client.execute_command("FT._LIST")
            present["search"] = 0
        except redis.exceptions.NoPermissionError as exc:  # denied is not missing: say what to grant
            raise (exc if isinstance(exc, PermissionDenied) else PermissionDenied(str(exc))) from exc
        except redis.ResponseError:
            pass
    missing = [m for m in modules if m not in present]
    if missing:
        raise MissingModuleError(
            f"the Redis server at {mask_url(url)} has no {', '.join(missing)} module (it has: "
            f"{', '.join(sorted(present)) or 'none'}). Vector search needs the Redis query engine: use Redis 8, "
            "Redis Stack or Redis Cloud, or unset REDIS_URL to use the embedded Redis."
        )
    with _checked_lock:
        _checked_urls.add(key)
