"""Errors and URLs as users see them: never a password, and a failed connection says which way it failed.

Why a module of its own: every message that names a Redis server goes through :func:`mask_url`, and every failed
connection through :func:`connection_failed`, which tells a refused password (:class:`AuthenticationFailed`) and a
failed TLS handshake (:class:`TLSVerificationFailed`) from an unreachable server, with the settings to check.
"""

from __future__ import annotations

import ssl
from typing import Any

import redis

from .errors import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectTimeout,
    RedisConnectionFailed,
    TLSVerificationFailed,
)

__all__ = [
    "command_timeout_text",
    "connect_timeout_text",
    "connection_failed",
    "mask_url",
    "pool_wait_text",
    "server_url",
]


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` so it can go into error messages and logs.

    Text surgery on the part before the host, not ``urlsplit``'s ports: a sentinel URL's ``h1:1,h2:2`` has no
    single port, and a URL that does not parse must still not leak its password.
    """
    if not isinstance(url, str):
        return "<not a url>"
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<unparseable url>" if "@" in url else url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        if "@" in tail:  # an unquoted '/', '?' or '#' in the password cut the netloc short: hide everything after
            return f"{scheme}://***@<hidden>"
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hosts}{tail}"


def _tls_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is a failed TLS handshake."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError) or "[SSL" in str(seen) or "certificate verify failed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def connection_failed(url: str, exc: BaseException) -> RedisConnectionFailed:
    """The error for a failed connection to ``url``: TLS and refused credentials get their own class and advice; a
    timeout that already names its setting (:mod:`.pools`) keeps its text."""
    shown = mask_url(url)
    if isinstance(exc, ConnectTimeout | CommandTimeout):
        return RedisConnectionFailed(str(exc))
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in str(exc) or "invalid username-password" in str(exc):
        return AuthenticationFailed(
            f"Redis at {shown} refused the user name / password ({exc}). Check the URL's credentials or "
            "REDIS_RAG_REDIS_USERNAME / REDIS_RAG_REDIS_PASSWORD, and that the ACL user is on."
        )
    if _tls_failure(exc):
        return TLSVerificationFailed(
            f"TLS verification failed connecting to Redis at {shown}: {exc}. Check REDIS_RAG_SSL_CA_CERTS (the CA "
            "that signed the server's certificate), that the certificate names the URL's host, and, for mutual TLS, "
            "REDIS_RAG_SSL_CERTFILE / REDIS_RAG_SSL_KEYFILE."
        )
    return RedisConnectionFailed(
        f"cannot reach Redis at {shown}: {exc}. Check that the server is running and the URL is right, "
        "or unset REDIS_URL to use the embedded Redis."
    )


def server_url(kwargs: dict[str, Any], tls: bool = False) -> str:
    """The masked URL of the server a connection (or pool) with these ``connection_kwargs`` reaches: what a
    timeout message names when the user's own URL is not at hand (a connection knows host, port, db and user)."""
    user = kwargs.get("username") or ""
    auth = f"{user}:***@" if kwargs.get("password") else (f"{user}@" if user else "")
    db = kwargs.get("db") or 0
    if kwargs.get("path"):
        return f"unix://{auth}{kwargs['path']}?db={db}"
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{auth}{kwargs.get('host') or 'localhost'}:{kwargs.get('port') or 6379}/{db}"


def command_timeout_text(url: str, limit: float | None, command: str | None) -> str:
    """Why a reply did not come (``socket_timeout``), and which setting lets a legitimately slow command finish."""
    what = f"no reply to {command}" if command else "no reply"
    return (
        f"Redis at {url} sent {what} within socket_timeout = {limit} s: the server is overloaded, blocked by a slow "
        "command or script, or the network drops packets. If the command is legitimately slow, raise "
        "Settings.socket_timeout (REDIS_RAG_SOCKET_TIMEOUT)."
    )


def connect_timeout_text(url: str, limit: float | None) -> str:
    """Why a connection could not be opened (``connect_timeout``)."""
    return (
        f"could not open a connection to Redis at {url} within connect_timeout = {limit} s: the host does not "
        "answer (down, firewalled, or too busy to accept). Check the URL and the network; on a slow link raise "
        "Settings.connect_timeout (REDIS_RAG_CONNECT_TIMEOUT)."
    )


def pool_wait_text(url: str, limit: float | None, size: int) -> str:
    """Why no pooled connection was handed out (``pool_timeout``), and the two settings that bear on it."""
    return (
        f"no connection to Redis at {url} became free within pool_timeout = {limit} s: all {size} connections of "
        "the pool stayed busy (more concurrent commands than connections, or slow replies). Raise "
        "Settings.pool_timeout (REDIS_RAG_POOL_TIMEOUT) or Settings.max_connections (REDIS_RAG_MAX_CONNECTIONS), "
        "or run fewer commands at once."
    )
