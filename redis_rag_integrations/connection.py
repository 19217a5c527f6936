"""One place that turns a URL into a checked Redis client, sync or async.

Every component gets its client here, so all of them share the same socket timeouts (a hung Redis must never hang
the application), the same cluster / sentinel handling (delegated to redisvl's connection factory) and the same
clear errors for the three ways a ``REDIS_URL`` goes wrong: malformed, unreachable, or without the search module.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redisvl.redis.connection import RedisConnectionFactory

from .errors import MissingModuleError, RedisConnectionFailed
from .settings import Settings, get_settings

SyncClient = redis.Redis | RedisCluster
AsyncClient = AsyncRedis | AsyncRedisCluster

_checked_urls: set[tuple[str, frozenset[str]]] = set()
_checked_lock = threading.Lock()


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` so it can go into error messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password:
        user = parts.username or ""
        host = parts.hostname or ""
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _client_kwargs(settings: Settings, decode_responses: bool) -> dict[str, Any]:
    return {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "decode_responses": decode_responses,
        "health_check_interval": 30,
    }


def _validate_url_syntax(url: str) -> None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ValueError(f"malformed Redis URL {mask_url(url)!r}: {exc}. Example: redis://localhost:6379/0") from exc
    if parts.scheme in ("redis", "rediss") and not parts.hostname:
        raise ValueError(f"malformed Redis URL {mask_url(url)!r}: no host. Example: redis://localhost:6379/0")


def get_client(
    url: str | None = None, *, settings: Settings | None = None, decode_responses: bool = False
) -> SyncClient:
    """A synchronous client for ``url`` (default: :func:`redis_rag_integrations.redis_url`), with timeouts.

    Standalone, cluster (``?cluster=true`` or several hosts) and sentinel (``redis+sentinel://``) URLs work.
    Connection failures raise :class:`RedisConnectionFailed` naming the URL.
    """
    from .urls import redis_url as default_url

    settings = settings or get_settings()
    url = url or default_url(settings)
    _validate_url_syntax(url)
    try:
        return RedisConnectionFactory.get_redis_connection(url, **_client_kwargs(settings, decode_responses))
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise connection_failed(url, exc) from exc


def get_async_client(
    url: str | None = None, *, settings: Settings | None = None, decode_responses: bool = False
) -> AsyncClient:
    """The asyncio twin of :func:`get_client` (connects lazily, on its first command)."""
    from .urls import redis_url as default_url

    settings = settings or get_settings()
    url = url or default_url(settings)
    _validate_url_syntax(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return RedisConnectionFactory.get_async_redis_connection(url, **_client_kwargs(settings, decode_responses))


def connection_failed(url: str, exc: BaseException) -> RedisConnectionFailed:
    return RedisConnectionFailed(
        f"cannot reach Redis at {mask_url(url)}: {exc}. Check that the server is running and the URL is right, "
        "or unset REDIS_URL to use the embedded Redis."
    )


def server_modules(client: SyncClient) -> dict[str, int]:
    """``{module name: version}`` as MODULE LIST reports it (``search``, ``ReJSON``, ``vectorset``...)."""
    modules: dict[str, int] = {}
    for entry in client.module_list():
        item = {(k.decode() if isinstance(k, bytes) else k): v for k, v in entry.items()}
        name = item.get("name", b"")
        modules[name.decode() if isinstance(name, bytes) else str(name)] = int(item.get("ver", 0))
    return modules


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
    except redis.ResponseError:  # MODULE LIST disabled (some managed services): trust FT._LIST instead
        present = {}
        try:
            client.execute_command("FT._LIST")
            present["search"] = 0
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
