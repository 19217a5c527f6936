"""Exceptions with messages that say what is wrong and what to do about it."""

from __future__ import annotations


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
