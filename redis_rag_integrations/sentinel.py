"""Redis Sentinel URLs: ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]``.

Why our own parser (redisvl has one): its URL form takes no TLS (``rediss+sentinel://``), passes the database as a
string, and hands the client a pool without our timeouts, TLS settings or reply parser. Here a sentinel URL becomes
one :class:`SentinelTarget`, and :func:`sentinel_client` asks the sentinels for the current primary with the same
keyword arguments every other client of :mod:`.connection` gets (timeouts, TLS, credentials, the NOPERM parser).
The client follows a failover: redis-py's sentinel pool asks the sentinels again when its connection drops or the
old primary answers ``READONLY``.

The user name and password of the URL (percent-encoded as in any URL: ``quote(password, safe="")``) authenticate
to the primary and, since a sentinel deployment is usually configured with the same ACL user, to the sentinels too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 26379

#: Connection options a sentinel connection shares with the primary's (no decoding, no pool sizes: the sentinel's
#: replies are parsed by redis-py itself).
_SENTINEL_OPTIONS = ("socket_timeout", "socket_connect_timeout", "username", "password")


@dataclass(frozen=True)
class SentinelTarget:
    """What a sentinel URL names: the sentinels, the monitored service, the database, credentials, TLS."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SCHEMES


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The :class:`SentinelTarget` of ``url``; ``ValueError`` (password-free) for anything else."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValueError(f"not a sentinel URL (want {' or '.join(s + '://' for s in SCHEMES)})")
    parts = urlsplit("redis://" + rest)  # urlsplit parses the userinfo the same way for any scheme
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        userinfo, hosts = "", netloc
    username = password = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, colon, port = item.rpartition(":") if ":" in item else (item, "", "")
        if not host or host.startswith("["):
            raise ValueError(
                f"sentinel URL: bad host {item!r} (want host:port, several separated by commas; no IPv6 literals)"
            )
        if colon and not port.isdigit():
            raise ValueError(f"sentinel URL: bad port in {item!r}")
        port_number = int(port) if colon else DEFAULT_PORT
        if not 0 < port_number < 65536:
            raise ValueError(f"sentinel URL: port out of range in {item!r}")
        sentinels.append((host, port_number))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("sentinel URL: no service name (redis+sentinel://host:26379/<service>[/db])")
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("sentinel URL: the path is /<service>[/<db number>]")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=username,
        password=password,
        tls=scheme.lower() == "rediss+sentinel",
    )


def sentinel_client(url: str, kwargs: dict[str, Any], *, aio: bool) -> Any:
    """A client of the primary the sentinels of ``url`` name now (sync, or asyncio with ``aio``); no I/O yet.

    ``kwargs`` are the connection options of :mod:`.connection` (timeouts, TLS, decoding, parser). Credentials in
    the URL win over ``kwargs``' (the caller refuses both at once).
    """
    target = parse_sentinel_url(url)
    options = dict(kwargs)
    options["db"] = target.db
    if target.username is not None:
        options["username"] = target.username
    if target.password is not None:
        options["password"] = target.password
    if target.tls:
        options["ssl"] = True
    sentinel_options = {k: options[k] for k in _SENTINEL_OPTIONS if options.get(k) is not None}
    sentinel_options.update({k: v for k, v in options.items() if k.startswith("ssl")})
    primary_options = {k: v for k, v in options.items() if k not in ("max_connections", "timeout")}
    if aio:
        return AsyncSentinel(list(target.sentinels), sentinel_kwargs=sentinel_options).master_for(
            target.service, **primary_options
        )
    return Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options).master_for(
        target.service, redis_class=redis.Redis, **primary_options
    )


def sentinel_url_of(client: Any) -> str | None:
    """A password-free sentinel URL naming ``client``'s sentinels and service, or ``None`` for another client."""
    pool = getattr(client, "connection_pool", None)
    manager = getattr(pool, "sentinel_manager", None)
    if manager is None:
        return None
    hosts = ",".join(
        f"{s.connection_pool.connection_kwargs.get('host')}:{s.connection_pool.connection_kwargs.get('port')}"
        for s in manager.sentinels
    )
    scheme = "rediss+sentinel" if "SSL" in pool.connection_class.__name__ else "redis+sentinel"
    return f"{scheme}://{hosts}/{pool.service_name}/{pool.connection_kwargs.get('db', 0)}"
