"""The exact-match cache core: same prompt, same LLM scope, same user scope -> same stored value.

An exact cache needs no index and no embedding, so it costs one GET per lookup. It lives here rather than being
langchain-redis' ``RedisCache`` because that class connects in its constructor, has no socket timeouts, no async
path and raises when Redis is down; this one shares the semantic cache's fault guard, input checks and scopes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import metrics, tenancy
from ..clients import RedisClients
from ..connection import AsyncClient, SyncClient
from ..settings import Settings, get_settings
from .guard import REDIS_FAULTS, FaultGuard, check_prompt, check_response
from .options import UNSET, validate_ttl
from .scope import digest, llm_scope_tag, user_scope_tag
from .stats import CacheStats


class ExactCache:
    """Values (strings) keyed on ``(llm scope, user scope, prompt)``; per-entry TTL; Redis faults act as misses."""

    def __init__(
        self,
        *,
        name: str = "llmcache:exact",
        redis_url: str | None = None,
        settings: Settings | None = None,
        ttl: int | None = UNSET,
        max_prompt_bytes: int = 1_000_000,
        max_value_bytes: int = 4_000_000,
        retry_interval: float = 1.0,
        tenant: tenancy.TenantLike = None,
    ) -> None:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"cache name must be a non-empty string without whitespace, got {name!r}")
        self.settings = settings or get_settings()
        #: ``tenant``: every key under the tenant's hash tag (``rag:{t}:llmcache:exact:...``).
        self.tenant = tenancy.resolve(tenant)
        name = tenancy.scoped(self.tenant, name)
        self.name = name
        self.ttl = validate_ttl(self.settings.cache_ttl if ttl is UNSET else ttl)
        self.max_prompt_bytes = max_prompt_bytes
        self.max_value_bytes = max_value_bytes
        self.stats = CacheStats(kind="exact", name=name)
        self.guard = FaultGuard(name, retry_interval)
        #: Every client comes from here; async ones per event loop, at call time (see :mod:`..clients`).
        self._clients = RedisClients(redis_url, settings=self.settings, decode_responses=True)

    def key(self, prompt: str, llm: str | Mapping[str, Any] | None = None, scope: Any = None) -> str:
        return f"{self.name}:{llm_scope_tag(llm)}:{user_scope_tag(scope)}:{digest(prompt, 64)}"

    def _sync(self) -> SyncClient:
        return self._clients.client

    async def _async(self) -> AsyncClient:
        """The running loop's client (one per loop: a client cannot serve two loops)."""
        return await self._clients.aclient()

    @metrics.timed("cache.exact.lookup")
    def get(self, prompt: str, *, llm: Any = None, scope: Any = None) -> str | None:
        check_prompt(prompt, self.max_prompt_bytes)
        if not self.guard.available():
            self.stats.count("skipped")
            return None
        try:
            value = self._sync().get(self.key(prompt, llm, scope))
        except REDIS_FAULTS as exc:
            self.stats.count("errors")
            self.guard.failed("lookup", exc)
            return None
        self.guard.succeeded()
        self.stats.record_lookup(value is not None, 0.0, 0.0)
        return value

    @metrics.timed("cache.exact.store")
    def set(self, prompt: str, value: str, *, llm: Any = None, scope: Any = None, ttl: int | None = None) -> bool:
        check_prompt(prompt, self.max_prompt_bytes)
        check_response(value, None, self.max_value_bytes)
        if not self.guard.available():
            self.stats.count("skipped")
            return False
        try:
            self._sync().set(self.key(prompt, llm, scope), value, ex=self.ttl if ttl is None else validate_ttl(ttl))
        except REDIS_FAULTS as exc:
            self.stats.count("errors")
            self.guard.failed("store", exc)
            return False
        self.guard.succeeded()
        self.stats.count("stores")
        return True

    @metrics.timed("cache.exact.lookup")
    async def aget(self, prompt: str, *, llm: Any = None, scope: Any = None) -> str | None:
        check_prompt(prompt, self.max_prompt_bytes)
        if not self.guard.available():
            self.stats.count("skipped")
            return None
        try:
            value = await (await self._async()).get(self.key(prompt, llm, scope))
        except REDIS_FAULTS as exc:
            self.stats.count("errors")
            self.guard.failed("lookup", exc)
            return None
        self.guard.succeeded()
        self.stats.record_lookup(value is not None, 0.0, 0.0)
        return value

    @metrics.timed("cache.exact.store")
    async def aset(
        self, prompt: str, value: str, *, llm: Any = None, scope: Any = None, ttl: int | None = None
    ) -> bool:
        check_prompt(prompt, self.max_prompt_bytes)
        check_response(value, None, self.max_value_bytes)
        if not self.guard.available():
            self.stats.count("skipped")
            return False
        try:
            await (await self._async()).set(
                self.key(prompt, llm, scope), value, ex=self.ttl if ttl is None else validate_ttl(ttl)
            )
        except REDIS_FAULTS as exc:
            self.stats.count("errors")
            self.guard.failed("store", exc)
            return False
        self.guard.succeeded()
        self.stats.count("stores")
        return True

    def clear(self) -> int:
        """Delete this cache's keys (SCAN, never KEYS)."""
        client = self._sync()
        deleted = 0
        batch: list[str] = []
        for key in client.scan_iter(match=f"{self.name}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(client.unlink(*batch))
        return deleted

    async def aclear(self) -> int:
        client = await self._async()
        deleted = 0
        batch: list[str] = []
        async for key in client.scan_iter(match=f"{self.name}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(await client.unlink(*batch))
        return deleted
