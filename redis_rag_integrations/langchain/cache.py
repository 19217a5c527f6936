"""LangChain LLM caches for ``set_llm_cache``: semantic (by meaning) and exact, sync and async.

Both are thin: they turn LangChain generations into a JSON payload and call the framework-neutral cores in
:mod:`redis_rag_integrations.cache`, which own scopes, TTLs, bounds and fault handling. LangChain's ``llm_string``
(the model's class, name and parameters, stop words included) is the LLM scope, so a cached answer is never served
to another model or to the same model called with other parameters.

Whatever goes wrong inside the cache, the model call still answers: bad or oversized prompts and generations that do
not survive a serialization round trip are passed through (not cached, logged at debug level), and an unreachable
Redis is a miss with one warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumpd
from langchain_core.messages import BaseMessage
from langchain_core.outputs import Generation

from ..cache import CacheInputError, ExactCache, SemanticCache
from ..cache.chat import chat_key
from ..embeddings import Embedder
from ..settings import Settings
from ..tenancy import TenantLike
from .embeddings import as_embedder
from .serde import load_core

logger = logging.getLogger("redis_rag_integrations.cache")

__all__ = ["RedisCache", "RedisSemanticCache", "as_embedder"]


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "chat": "user"}


def prompt_key(prompt: str, llm_string: str) -> tuple[str, str]:
    """``(text to match by meaning, LLM scope)`` for a prompt LangChain hands the cache.

    Why: for a chat model LangChain passes ``dumps(messages)``, a JSON document whose serialization boilerplate
    (``"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", ...]``) dominates a short
    question. Embedded as it is, different questions looked alike: on the Python-FAQ evaluation set precision at
    the default threshold fell to 0.78 (benchmarks/bench_cache.py), against 0.96 for the plain text. A chat is
    keyed like LlamaIndex chats (:func:`redis_rag_integrations.cache.chat.chat_key`): the last turn by meaning,
    the turns before it exactly, through the scope. Plain (non-chat) prompts are returned unchanged; a chat with
    non-text content or tool calls raises :class:`CacheInputError` (not cached).
    """
    if not prompt.startswith("[{"):
        return prompt, llm_string
    try:
        messages = load_core(prompt)
    except Exception:
        return prompt, llm_string  # a plain prompt that merely looks like JSON
    if not isinstance(messages, list) or not all(isinstance(m, BaseMessage) for m in messages):
        return prompt, llm_string
    turns = []
    for message in messages:
        if not isinstance(message.content, str) and not all(_is_text(b) for b in message.content):
            raise CacheInputError("chat message has non-text content (image, audio, file...); not cached")
        if message.type == "tool" or getattr(message, "tool_calls", None):
            raise CacheInputError("chat with tool calls; not cached")
        turns.append((_ROLES.get(message.type, message.type), message.text))
    text, context = chat_key(turns)
    return text, llm_string if context is None else f"{llm_string}\ncontext={context}"


def _is_text(block: Any) -> bool:
    return isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text")


def encode_generations(return_val: RETURN_VAL_TYPE) -> tuple[str, str]:
    """``(text, payload)`` for a list of generations; :class:`CacheInputError` unless they round-trip exactly.

    The round-trip check is what keeps corrupt entries out: a generation carrying an object JSON cannot hold
    (LangChain serializes those as "not implemented" stubs) would otherwise be stored and come back different.
    """
    if not isinstance(return_val, Sequence) or not return_val:
        raise CacheInputError("expected a non-empty list of Generation objects")
    for gen in return_val:
        if not isinstance(gen, Generation):
            raise CacheInputError(f"expected Generation objects, got {type(gen).__name__}")
    try:
        payload = json.dumps([dumpd(gen) for gen in return_val], ensure_ascii=False, allow_nan=False)
        restored = decode_generations(payload)
    except Exception as exc:
        raise CacheInputError(f"generations cannot be serialized: {exc}") from exc
    if restored != list(return_val):
        raise CacheInputError("generations do not survive a serialization round trip; not caching them")
    return "\n".join(gen.text for gen in return_val), payload


def decode_generations(payload: str) -> list[Generation]:
    items = json.loads(payload)
    return [load_core(json.dumps(item)) for item in items]


class RedisSemanticCache(BaseCache):
    """A semantic LLM cache: a prompt that MEANS the same as a cached one, for the same model, gets its answer.

    ``distance_threshold`` is a cosine DISTANCE (0 = identical, 2 = opposite): a hit needs distance <= threshold.
    The default (``Settings.cache_distance_threshold``) is the radius of the near-miss verifier, which decides
    each candidate (``cache/gate.py``; chosen on one evaluation set, per-set figures in
    ``benchmarks/results/cache_gate.md``); re-check it if you change the embedder. ``ttl`` (seconds) and
    ``max_entries`` default to the settings; a hit never extends a TTL
    unless ``refresh_on_hit=True``. ``scope`` (e.g. ``{"tenant": "acme"}``) isolates users inside one cache.

    Example::

        from langchain_core.globals import set_llm_cache
        set_llm_cache(RedisSemanticCache(embeddings=RagEmbeddings()))
    """

    def __init__(
        self,
        embeddings: Embeddings | Embedder | None = None,
        redis_url: str | None = None,
        distance_threshold: float | None = None,
        ttl: int | None = None,
        name: str = "llmcache",
        *,
        scope: str | Mapping[str, Any] | None = None,
        max_entries: int | None = None,
        refresh_on_hit: bool = False,
        settings: Settings | None = None,
        core: SemanticCache | None = None,
        tenant: TenantLike = None,
    ) -> None:
        self.core = SemanticCache.from_options(
            core,
            as_embedder(embeddings),
            name=name,
            redis_url=redis_url,
            settings=settings,
            distance_threshold=distance_threshold,
            ttl=ttl,
            max_entries=max_entries,
            refresh_on_hit=refresh_on_hit,
            tenant=tenant,  # the tenant's own cache index and entries (a scope only filters inside one)
        )
        self.scope = scope

    @property
    def stats(self) -> Any:
        return self.core.stats

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        try:
            text, llm = prompt_key(prompt, llm_string)
            hit = self.core.check(text, llm=llm, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("semantic cache lookup passed through: %s", exc)
            return None
        return self._generations(hit)

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        try:
            text, payload = encode_generations(return_val)
            key, llm = prompt_key(prompt, llm_string)
            self.core.store(key, text, llm=llm, scope=self.scope, payload=payload)
        except CacheInputError as exc:
            self.core.stats.count("skipped")
            logger.debug("semantic cache store skipped: %s", exc)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        try:
            text, llm = prompt_key(prompt, llm_string)
            hit = await self.core.acheck(text, llm=llm, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("semantic cache lookup passed through: %s", exc)
            return None
        return self._generations(hit)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        try:
            text, payload = encode_generations(return_val)
            key, llm = prompt_key(prompt, llm_string)
            await self.core.astore(key, text, llm=llm, scope=self.scope, payload=payload)
        except CacheInputError as exc:
            self.core.stats.count("skipped")
            logger.debug("semantic cache store skipped: %s", exc)

    def _generations(self, hit: Any) -> list[Generation] | None:
        if hit is None:
            return None
        if not hit.payload:
            return [Generation(text=hit.response)]
        try:
            return decode_generations(hit.payload)
        except Exception as exc:  # written by an incompatible version: a miss, and the next answer replaces it
            logger.warning("semantic cache entry %s could not be decoded (%s); treating as a miss", hit.key, exc)
            return None

    def clear(self, **kwargs: Any) -> None:
        """Delete every entry of this cache (``kwargs`` are accepted for BaseCache compatibility)."""
        self.core.clear()

    async def aclear(self, **kwargs: Any) -> None:
        await self.core.aclear()


class RedisCache(BaseCache):
    """An exact-match LLM cache: the same prompt for the same model and parameters gets the stored answer.

    One GET per lookup and no embedding; entries live ``ttl`` seconds (default ``Settings.cache_ttl``).
    """

    def __init__(
        self,
        redis_url: str | None = None,
        ttl: int | None = None,
        name: str = "llmcache:exact",
        *,
        scope: str | Mapping[str, Any] | None = None,
        settings: Settings | None = None,
        tenant: TenantLike = None,
    ) -> None:
        ttl_option = {} if ttl is None else {"ttl": ttl}  # None: the settings' cache_ttl
        self.core = ExactCache(name=name, redis_url=redis_url, settings=settings, tenant=tenant, **ttl_option)
        self.scope = scope

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        try:
            payload = self.core.get(prompt, llm=llm_string, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("exact cache lookup passed through: %s", exc)
            return None
        return self._generations(payload)

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        try:
            _, payload = encode_generations(return_val)
            self.core.set(prompt, payload, llm=llm_string, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("exact cache store skipped: %s", exc)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        try:
            payload = await self.core.aget(prompt, llm=llm_string, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("exact cache lookup passed through: %s", exc)
            return None
        return self._generations(payload)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        try:
            _, payload = encode_generations(return_val)
            await self.core.aset(prompt, payload, llm=llm_string, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("exact cache store skipped: %s", exc)

    @staticmethod
    def _generations(payload: str | None) -> list[Generation] | None:
        if payload is None:
            return None
        try:
            return decode_generations(payload)
        except Exception as exc:
            logger.warning("exact cache entry could not be decoded (%s); treating as a miss", exc)
            return None

    def clear(self, **kwargs: Any) -> None:
        self.core.clear()

    async def aclear(self, **kwargs: Any) -> None:
        await self.core.aclear()
