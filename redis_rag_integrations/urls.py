"""``redis_url()``: the one answer to "which Redis do we talk to?"."""

from __future__ import annotations

import redis

from .connection import connection_failed, get_client, mask_url, require_modules
from .local_server import default_url
from .settings import Settings, get_settings


def redis_url(settings: Settings | None = None, *, require: tuple[str, ...] = ("search",)) -> str:
    """``REDIS_URL`` (checked: reachable, with the search module) when set, otherwise the local server.

    The local server is the persistent one of the data directory, shared by every process and started on first use
    (:mod:`.local_server`), or with ``REDIS_RAG_LOCAL_SERVER=private`` a server of this process, stopped at exit.
    Raises :class:`~redis_rag_integrations.errors.RedisConnectionFailed` within the connect timeout when the
    URL is unreachable, :class:`~redis_rag_integrations.errors.MissingModuleError` when the server lacks a
    module in ``require``, and ``ValueError`` for a malformed URL.
    """
    settings = settings or get_settings()
    if settings.redis_url is None:
        return default_url(settings)
    url = settings.redis_url
    client = get_client(url, settings=settings)
    try:
        client.ping()
        require_modules(client, url, require)
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise connection_failed(url, exc) from exc
    except redis.AuthenticationError as exc:  # pragma: no cover - subclass of ConnectionError in redis-py
        raise connection_failed(mask_url(url), exc) from exc
    finally:
        client.close()
    return url
