"""The keyword arguments every client of :mod:`.connection` gets: timeouts, TLS, credentials, the NOPERM parser.

One function, so sync, async, cluster and sentinel clients can never disagree about a timeout or a certificate.

TLS is a property of the URL (``rediss://``, ``rediss+sentinel://``); the settings add what a URL cannot carry:
the CA bundle, a client certificate and key (mutual TLS), whether the server's certificate is required, and
whether its host name is checked. TLS settings with a plain ``redis://`` URL are refused rather than ignored: the
user asked for encryption and would silently not get it.

Credentials may come from the URL or from ``redis_username`` / ``redis_password`` (a ``SecretStr``: kept out of
reprs, logs and errors, and out of the URL that error messages print); both at once is refused, since redis-py
would silently prefer the URL's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser, _HiredisParser, _RESP2Parser
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.utils import HIREDIS_AVAILABLE

from .acl import denial_aware
from .settings import Settings

TLS_SCHEMES = ("rediss", "rediss+sentinel")
_SYNC_PARSER = denial_aware(_HiredisParser if HIREDIS_AVAILABLE else _RESP2Parser)
_ASYNC_PARSER = denial_aware(_AsyncHiredisParser if HIREDIS_AVAILABLE else _AsyncRESP2Parser)


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def uses_tls(url: str) -> bool:
    return scheme_of(url) in TLS_SCHEMES


def base_options(settings: Settings, decode_responses: bool) -> dict[str, Any]:
    """Timeouts and decoding: what every client gets, cluster clients included."""
    return {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "decode_responses": decode_responses,
        "health_check_interval": 30,
    }


def tls_options(settings: Settings, url: str) -> dict[str, Any]:
    """The ``ssl_*`` arguments for ``url`` (none for a plain URL; a plain URL with TLS settings is refused)."""
    files = {
        "ssl_ca_certs": settings.ssl_ca_certs,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
    }
    if not uses_tls(url):
        given = [f"REDIS_RAG_{name.upper()}" for name, value in files.items() if value is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} set but the Redis URL is {scheme_of(url) or 'not a URL'}:// (no TLS): use "
                "rediss:// (or rediss+sentinel://) to connect with TLS, or unset the TLS settings"
            )
        return {}
    options: dict[str, Any] = {k: str(v) for k, v in files.items() if v is not None}
    options["ssl_cert_reqs"] = settings.ssl_cert_reqs
    # Python's ssl refuses to skip verification while checking the host name: the check goes with "required".
    options["ssl_check_hostname"] = settings.ssl_check_hostname and settings.ssl_cert_reqs == "required"
    return options


def credential_options(settings: Settings, url: str) -> dict[str, Any]:
    """``username`` / ``password`` from the settings, refused when the URL carries its own."""
    if settings.redis_username is None and settings.redis_password is None:
        return {}
    netloc = urlsplit(url).netloc if "://" in url else ""
    userinfo = netloc.rpartition("@")[0]
    if userinfo:
        raise ValueError(
            "credentials given twice: the Redis URL has a user name / password and so do REDIS_RAG_REDIS_USERNAME / "
            "REDIS_RAG_REDIS_PASSWORD; keep one (the settings keep the password out of the URL)"
        )
    options: dict[str, Any] = {}
    if settings.redis_username is not None:
        options["username"] = settings.redis_username
    if settings.redis_password is not None:
        options["password"] = settings.redis_password.get_secret_value()
    return options


def client_options(
    settings: Settings, url: str, decode_responses: bool, *, aio: bool = False, parser: bool = True
) -> dict[str, Any]:
    """Everything a client of ``url`` is built with. ``parser``: redis-py's reply parser made to raise
    :class:`~redis_rag_integrations.acl.PermissionDenied` on NOPERM (cluster clients take no parser argument)."""
    options = {**base_options(settings, decode_responses), **tls_options(settings, url)}
    options.update(credential_options(settings, url))
    if parser:
        options["parser_class"] = _ASYNC_PARSER if aio else _SYNC_PARSER
    return options


def async_parser() -> type:
    return _ASYNC_PARSER


def denial_aware_cluster(client: Any) -> Any:
    """``client`` (a sync or asyncio ``RedisCluster``) with the NOPERM parser on its node connections.

    Why after construction: redis-py's cluster clients accept no ``parser_class`` (the sync one filters it out, the
    asyncio one refuses it). Their node clients are built from one shared ``connection_kwargs``, so the parser is
    put there, for every node discovered later, and on the nodes known now: the asyncio client has opened no
    connection yet (it connects lazily); the sync one opened one per node while loading the slot map, so those
    pools are emptied (their connections closed) and reconnect with the parser on first use.
    """
    manager = getattr(client, "nodes_manager", None)
    if manager is None:
        return client
    aio = isinstance(client, AsyncRedisCluster)
    parser = _ASYNC_PARSER if aio else _SYNC_PARSER
    manager.connection_kwargs["parser_class"] = parser
    if aio:
        for node in [*manager.startup_nodes.values(), *manager.nodes_cache.values()]:
            node.connection_kwargs["parser_class"] = parser
        return client
    for node in manager.nodes_cache.values():
        redis_node = node.redis_connection
        if redis_node is not None:
            pool = redis_node.connection_pool
            pool.connection_kwargs["parser_class"] = parser
            pool.disconnect()
            pool.reset()
    return client
