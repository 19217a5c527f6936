"""Input checks and the Redis fault guard shared by every cache.

Two promises live here. Bad input never becomes a corrupt entry: it raises :class:`CacheInputError` (adapters turn
that into a pass-through, so the user's LLM call still runs). And a cache must never take the application down with
it: when Redis is unreachable a lookup is a miss and a store is dropped, with one warning per outage, and for
``retry_interval`` seconds after a failure the cache does not even try (a dead host would otherwise cost a connect
timeout on every LLM call).
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redisvl.exceptions import RedisVLError

from ..errors import RedisConnectionFailed, RedisRagError

logger = logging.getLogger("redis_rag_integrations.cache")

#: Exceptions from the Redis side (unreachable, timed out, loading, read-only, OOM...). redisvl wraps the client's
#: errors in ``RedisVLError``. All of them become a miss with a logged warning: a cache is an optimisation and must
#: not fail the user's LLM call.
REDIS_FAULTS: tuple[type[BaseException], ...] = (
    redis.RedisError,
    RedisVLError,
    OSError,
    RedisConnectionFailed,
    TimeoutError,
)


class CacheInputError(RedisRagError, ValueError):
    """A prompt or response the cache refuses to store or look up (empty, oversized, wrong type)."""


def check_prompt(prompt: object, max_bytes: int) -> str:
    """Return ``prompt`` if it can be a cache key, else raise a clear error (nothing is written)."""
    if not isinstance(prompt, str):
        raise CacheInputError(f"the cache key must be text (str), got {type(prompt).__name__}")
    if not prompt.strip():
        raise CacheInputError("the cache key is empty or whitespace: nothing to match on")
    size = len(prompt.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise CacheInputError(f"the cache key is {size} bytes, over the {max_bytes}-byte limit (max_prompt_bytes)")
    return prompt


def check_response(response: object, payload: object, max_bytes: int) -> None:
    """Refuse responses that are not text or too large to be worth a Redis round trip."""
    if not isinstance(response, str):
        raise CacheInputError(f"the cached response must be text (str), got {type(response).__name__}")
    if payload is not None and not isinstance(payload, str):
        raise CacheInputError(f"the cached payload must be a JSON string or None, got {type(payload).__name__}")
    size = len(response.encode("utf-8", "surrogatepass")) + len((payload or "").encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise CacheInputError(f"the cached response is {size} bytes, over the {max_bytes}-byte limit")


#: Seconds a guard that does not raise ACL refusals waits before asking Redis again after one.
DENIED_BACKOFF = 60.0


class FaultGuard:
    """A tiny circuit breaker: after a Redis failure, skip Redis for ``retry_interval`` seconds."""

    def __init__(self, name: str, retry_interval: float = 1.0, *, raise_denied: bool = True) -> None:
        self.name = name
        self.retry_interval = retry_interval
        #: An ACL refusal raises (caches the user configured) or, for an optimisation the user did not ask for by
        #: name (the query-vector cache on the retrieval path), is warned about and skipped for DENIED_BACKOFF s.
        self.raise_denied = raise_denied
        self._down_until = 0.0
        self._warned = False
        self._lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, operation: str, exc: BaseException) -> None:
        """Record a failure; warn once per outage (the first failure after a success).

        An ACL refusal (NOPERM) is raised instead: it is the deployment's configuration, not an outage, and as a
        miss it would hide for good that the cache never stores (the error names the command and the role to use).
        """
        denied = next((c for c in (exc, exc.__cause__) if isinstance(c, redis.exceptions.NoPermissionError)), None)
        if denied is not None and self.raise_denied:  # redisvl wraps a refused FT.SEARCH in its own error
            raise denied
        with self._lock:
            backoff = max(self.retry_interval, DENIED_BACKOFF) if denied is not None else self.retry_interval
            self._down_until = time.monotonic() + backoff
            warn = not self._warned
            self._warned = True
        if warn and denied is not None:
            logger.warning(
                "%s: %s refused by the Redis ACL (%s); skipped, and Redis is not asked again for %.0fs. Connect with "
                "a user of role rag-cache or rag-writer, or turn this cache off.",
                self.name,
                operation,
                denied,
                backoff,
            )
        elif warn:
            logger.warning(
                "semantic cache %r: Redis unavailable during %s (%s: %s); treating as a miss and answering "
                "without the cache. Retrying in %.1fs.",
                self.name,
                operation,
                type(exc).__name__,
                exc,
                self.retry_interval,
            )
        else:
            logger.debug("cache %r: %s failed again: %s", self.name, operation, exc)

    def succeeded(self) -> None:
        if self._warned:
            with self._lock:
                if self._warned:
                    self._warned = False
                    logger.warning("cache %r: Redis is reachable again", self.name)
