"""Exceptions with messages that say what is wrong and what to do about it."""

from __future__ import annotations

import redis


class RedisRagError(Exception):
    """Base class of this package's errors."""


class EmbeddedRedisError(RedisRagError):
    """The embedded Redis could not be found, started or stopped."""


class RedisConnectionFailed(RedisRagError, ConnectionError):
    """Redis could not be reached (within the configured timeout)."""


class MissingModuleError(RedisRagError):
    """The Redis server lacks a module a feature needs (usually the query engine, ``search``)."""


class IndexNotFoundError(RedisRagError, LookupError):
    """The named search index does not exist."""


class AuthenticationFailed(RedisConnectionFailed):
    """Redis refused the user name / password (the message names the server, never the password)."""


class TLSVerificationFailed(RedisConnectionFailed):
    """The TLS handshake failed: the server's certificate did not verify (CA, host name) or it refused ours."""


class CommandTimeout(RedisRagError, redis.TimeoutError):
    """Redis sent no reply within ``socket_timeout``; still the ``redis.TimeoutError`` callers catch."""


class ConnectTimeout(RedisRagError, redis.TimeoutError):
    """A connection to Redis could not be opened within ``connect_timeout``; still a ``redis.TimeoutError``."""


class PoolWaitTimeout(RedisRagError, redis.ConnectionError):
    """Every pooled connection stayed busy for ``pool_timeout``; still the ``redis.ConnectionError`` redis-py
    raised ("No connection available.")."""
