"""``SemanticCacheMiddleware``: our semantic cache around every model call of a LangChain 1.x agent.

``set_llm_cache`` caches ``model.invoke``, but ``create_agent`` calls the model with tools bound and with the whole
thread -- tool calls, tool results -- and its own cache key must say all of that. A model call here is identified by:

* **by meaning**: the latest user message (what the turn asks; a paraphrase may hit, as in every semantic cache);
* **exactly**: everything else the model sees -- the system prompt (without the passages the RAG middleware
  added: see below), every message before the question and every message after it (the tool calls the model made
  this turn and the tool results it got back), the model and its parameters, the tools' schemas, ``tool_choice``
  and model settings. Message ids and tool-call ids are random per run, so they are replaced by their order of
  appearance (``#0``, ``#1``...): the *structure* of calls and results is kept exactly, their random names are not.

So a turn whose earlier messages differ does not hit, a step after a tool result never gets the answer of the
step before it (its messages after the question differ), and a cached final answer is never served where the
model was still to call a tool with other results. Tool-calling responses are cached too (``cache_tool_calls``):
replayed, they make the agent run the tools again, for real, and the next step hits only if the tool results are
the same as when it was cached. Replayed messages get new message and tool-call ids (a thread never holds two
messages with one id). Structured-output calls (``response_format``) and responses that do not survive a
serialization round trip are not cached.

Behind :class:`~redis_rag_integrations.langchain.middleware.RedisRAGMiddleware` (list it first), the key uses the
system prompt as it was before the retrieved context was added, and the answer is linked to the retrieved
sources: a paraphrase hits even when retrieval ranks passages a little differently, and a document changed through
our vector store drops the answers built from it. Scopes, the near-miss verifier, TTLs, bounds and the
"Redis down = miss" rule are the cache core's (:class:`~redis_rag_integrations.cache.SemanticCache`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessage, message_to_dict, messages_from_dict

from ..cache import CacheHit, CacheInputError, SemanticCache
from ..cache.lookup_plan import alookup, aplan_lookup, lookup, plan_lookup
from ..embeddings import Embedder
from ..questions import aembed_question, embed_question, request_scope
from ..settings import Settings
from ..tenancy import TenantLike
from .agent_call_key import CallKey, call_key, rag_system
from .agent_call_key import key_with_prompt as _key
from .cache import as_embedder
from .rag_turn import Prefetched, current_turn

__all__ = ["CallKey", "SemanticCacheMiddleware", "call_key"]

logger = logging.getLogger("redis_rag_integrations.cache")


class SemanticCacheMiddleware(AgentMiddleware):
    """Serve an agent's model calls from the Redis semantic cache (see the module docstring for the key).

    Args mirror :class:`~redis_rag_integrations.langchain.RedisSemanticCache`: ``embeddings`` (default the package
    embedder), ``distance_threshold`` (cosine distance), ``ttl``, ``max_entries``, ``scope`` (e.g. a tenant), or a
    ready ``cache`` core. ``cache_tool_calls=False`` caches final answers only.

    ``write_behind`` (default on): the entry written after a miss is written by the cache's worker thread
    (:mod:`redis_rag_integrations.cache.write_behind`: bounded, errors counted and logged, a lookup of the same
    key waits for it, flushed by ``core.flush()`` / ``core.close()`` and at exit), so the model call returns
    without waiting for it; behind the RAG middleware, the freshness watch of the answer's sources then also goes
    in the retrieval's pipeline. ``False``: the caller waits for the write, as a plain ``store``.
    """

    def __init__(
        self,
        cache: SemanticCache | None = None,
        *,
        embeddings: Embeddings | Embedder | None = None,
        name: str = "agent-llmcache",
        redis_url: str | None = None,
        distance_threshold: float | None = None,
        ttl: int | None = None,
        max_entries: int | None = None,
        scope: str | Mapping[str, Any] | None = None,
        cache_tool_calls: bool = True,
        settings: Settings | None = None,
        tenant: TenantLike = None,
        write_behind: bool = True,
    ) -> None:
        super().__init__()
        self.core = SemanticCache.from_options(
            cache, as_embedder(embeddings), name=name, redis_url=redis_url, settings=settings,
            distance_threshold=distance_threshold, ttl=ttl, max_entries=max_entries, tenant=tenant,
        )  # fmt: skip
        self.scope = dict(scope) if isinstance(scope, Mapping) else scope
        self.cache_tool_calls = cache_tool_calls
        self.write_behind = write_behind

    @property
    def stats(self) -> Any:
        return self.core.stats

    # --- encode / decode (shared by the sync and async paths) --------------------------------------------------
    def _payload(self, response: Any) -> tuple[str, str] | None:
        """``(text, payload)`` of a response worth caching, else ``None``."""
        message = self._cacheable(response)
        return None if message is None else self._encode(message)

    def _cacheable(self, response: Any) -> AIMessage | None:
        """The message of a response of a kind worth caching (the cheap checks), else ``None``."""
        if not isinstance(response, ModelResponse) or response.structured_response is not None:
            return None
        if len(response.result) != 1 or not isinstance(response.result[0], AIMessage):
            return None
        message = response.result[0]
        if message.invalid_tool_calls or (message.tool_calls and not self.cache_tool_calls):
            return None
        return message

    @staticmethod
    def _encode(message: AIMessage) -> tuple[str, str] | None:
        """``(text, payload)`` of ``message``, or ``None`` when it does not survive a serialization round trip."""
        payload = json.dumps(message_to_dict(message), ensure_ascii=False)
        if messages_from_dict([json.loads(payload)])[0] != message:
            return None
        return message.text or "", payload

    def _write(self, key: CallKey, message: AIMessage, token: int | None, vector: Any) -> None:
        """The write after a miss, on the cache's worker thread (``write_behind``): encode the answer and store
        it, or end the watch when it is not cacheable. ``message`` is the caller's copy: the agent may give the
        original an id meanwhile (LangGraph's message reducer does)."""
        encoded = self._encode(message)
        try:
            if encoded is not None:
                self.core.store(**self._store_args(key, encoded, token, vector))
                return
        except CacheInputError as exc:
            logger.debug("agent cache store skipped: %s", exc)
        self.core.unwatch(token)

    @staticmethod
    def _grounded(key: CallKey) -> bool:
        """False for an answer the RAG middleware built with no passages: it has no source whose change would drop
        it, so once a relevant document arrives it would keep being served. Such answers are not cached."""
        return bool(key.sources) or not key.rag

    def _behind(self, key: CallKey, response: Any, token: int | None, vector: Any) -> Callable[[], None] | None:
        """The write to leave to the worker, or ``None`` (the caller ends the watch) for a response not cached."""
        if not self._grounded(key):
            return None
        message = self._cacheable(response)
        return None if message is None else partial(self._write, key, message.model_copy(), token, vector)

    @staticmethod
    def _replay(hit: CacheHit) -> ModelResponse | None:
        """The cached message with fresh ids (message and tool calls), marked as a cache hit."""
        try:
            (message,) = messages_from_dict([json.loads(hit.payload or "")])
        except Exception as exc:  # written by an incompatible version: a miss, replaced by the next answer
            logger.warning("agent cache entry %s could not be decoded (%s); treating as a miss", hit.key, exc)
            return None
        if not isinstance(message, AIMessage):
            return None
        calls = [{**c, "id": f"call_{uuid.uuid4().hex[:24]}"} for c in message.tool_calls]
        meta = {**message.response_metadata, "cache_hit": True, "cache_distance": hit.distance}
        return ModelResponse(
            result=[message.model_copy(update={"id": None, "tool_calls": calls, "response_metadata": meta})]
        )

    def _text_to_embed(self, text: str) -> str:
        """What the cache core embeds for ``text`` (its first ``max_semantic_chars``): embedded once here and given
        to both the lookup and the store, so a miss costs one query embedding, not two."""
        return text[: self.core.max_semantic_chars]

    def _store_args(self, key: CallKey, encoded: tuple[str, str], token: int | None, vector: Any) -> dict[str, Any]:
        return {
            "prompt": key.text, "response": encoded[0], "llm": key.identity, "scope": self.scope,
            "payload": encoded[1], "sources": key.sources, "since": token, "vector": vector,
        }  # fmt: skip

    # --- sent ahead by the RAG middleware (see .rag_turn) --------------------------------------------------------
    def prefetch(self, request: ModelRequest, base_prompt: str | None, config: str) -> Prefetched | None:
        """This middleware's lookup for ``request`` once the RAG middleware in front (of ``rag_identity``
        ``config``) has added its context (whose base prompt is ``base_prompt``), as a plan for the retrieval's
        pipeline; ``None`` when there is none."""
        key = _key(request, rag_system(base_prompt, config), [], rag=True)
        if key is None:
            return None
        t0 = time.perf_counter()
        vector = embed_question(self.core.embedder, self._text_to_embed(key.text))
        embed_s = time.perf_counter() - t0
        try:
            plan = plan_lookup(
                self.core, key.text, llm=key.identity, scope=self.scope, vector=vector, watch=self.write_behind
            )
        except CacheInputError:
            return None  # this middleware will pass the call through itself
        return None if plan is None else Prefetched(self, key.text, key.identity, vector, plan, embed_s)

    async def aprefetch(self, request: ModelRequest, base_prompt: str | None, config: str) -> Prefetched | None:
        """Async :meth:`prefetch` (the plan is on the cache's client of the running loop)."""
        key = _key(request, rag_system(base_prompt, config), [], rag=True)
        if key is None:
            return None
        t0 = time.perf_counter()
        vector = await aembed_question(self.core.embedder, self._text_to_embed(key.text))
        embed_s = time.perf_counter() - t0
        try:
            plan = await aplan_lookup(
                self.core, key.text, llm=key.identity, scope=self.scope, vector=vector, watch=self.write_behind
            )
        except CacheInputError:
            return None
        return None if plan is None else Prefetched(self, key.text, key.identity, vector, plan, embed_s)

    def _ahead(self, key: CallKey) -> Prefetched | None:
        turn = current_turn()
        return turn.take(self, key.text, key.identity) if turn is not None else None

    # --- sync ----------------------------------------------------------------------------------------------------
    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        with request_scope():  # shares the question's vector with a RedisRAGMiddleware before this one
            return self._wrap(request, handler)

    def _wrap(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        key = call_key(request)
        if key is None:
            return handler(request)
        ahead = self._ahead(key)
        token = None
        if ahead is not None:  # looked up in the retrieval's round trip (with the watch, when writing behind)
            vector, hit, token = ahead.vector, ahead.plan.record(ahead.embed_s), ahead.plan.token
        else:
            try:
                t0 = time.perf_counter()
                vector = embed_question(self.core.embedder, self._text_to_embed(key.text))
                embed_s = time.perf_counter() - t0
                hit = lookup(self.core, key.text, llm=key.identity, scope=self.scope, vector=vector, embed_s=embed_s)
            except CacheInputError as exc:
                logger.debug("agent cache lookup passed through: %s", exc)
                return handler(request)
        replayed = self._replay(hit) if hit is not None else None
        if replayed is not None:
            self._end_watch(token)
            return replayed
        token = self._watch(key, token)
        try:
            response = handler(request)
        except BaseException:  # a failed model call: its watch ends (else it stays in flight until it expires)
            self._end_watch(token)
            raise
        if self.write_behind:  # the answer goes back now; the worker encodes and writes it
            write = self._behind(key, response, token, vector)
            if write is not None:
                self.core.write_later(key.text, key.identity, self.scope, write)
            else:
                self._end_watch(token)
            return response
        encoded = self._payload(response) if self._grounded(key) else None
        try:
            if encoded is not None:
                self.core.store(**self._store_args(key, encoded, token, vector))
                return response
        except CacheInputError as exc:
            logger.debug("agent cache store skipped: %s", exc)
        self._end_watch(token)
        return response

    def _watch(self, key: CallKey, token: int | None) -> int | None:
        """The watch token for an answer about to be generated: the one taken in the retrieval's pipeline, else
        a new one when the answer has sources; ``None`` (the one taken ended) when it has none."""
        if token is not None and not key.sources:
            self._end_watch(token)
            return None
        return token if token is not None or not key.sources else self.core.watch()

    def _end_watch(self, token: int | None) -> None:
        if self.write_behind:
            self.core.unwatch_later(token)
        else:
            self.core.unwatch(token)

    # --- async ---------------------------------------------------------------------------------------------------
    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> Any:
        with request_scope():
            return await self._awrap(request, handler)

    async def _awrap(self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]) -> Any:
        key = call_key(request)
        if key is None:
            return await handler(request)
        ahead = self._ahead(key)
        token = None
        if ahead is not None:
            vector, hit, token = ahead.vector, await ahead.plan.arecord(ahead.embed_s), ahead.plan.token
        else:
            try:
                t0 = time.perf_counter()
                vector = await aembed_question(self.core.embedder, self._text_to_embed(key.text))
                embed_s = time.perf_counter() - t0
                hit = await alookup(
                    self.core, key.text, llm=key.identity, scope=self.scope, vector=vector, embed_s=embed_s
                )
            except CacheInputError as exc:
                logger.debug("agent cache lookup passed through: %s", exc)
                return await handler(request)
        replayed = self._replay(hit) if hit is not None else None
        if replayed is not None:
            await self._aend_watch(token)
            return replayed
        if token is not None and not key.sources:
            await self._aend_watch(token)
            token = None
        elif token is None and key.sources:
            token = await self.core.awatch()
        try:
            response = await handler(request)
        except BaseException:
            await self._aend_watch(token)
            raise
        if self.write_behind:
            write = self._behind(key, response, token, vector)
            if write is not None:
                await self.core.awrite_later(key.text, key.identity, self.scope, write)
            else:
                await self._aend_watch(token)
            return response
        encoded = self._payload(response) if self._grounded(key) else None
        try:
            if encoded is not None:
                await self.core.astore(**self._store_args(key, encoded, token, vector))
                return response
        except CacheInputError as exc:
            logger.debug("agent cache store skipped: %s", exc)
        await self._aend_watch(token)
        return response

    async def _aend_watch(self, token: int | None) -> None:
        if self.write_behind:
            await self.core.aunwatch_later(token)
        else:
            await self.core.aunwatch(token)
