"""``SemanticCacheLLM``: a semantic cache for LlamaIndex, which has no LLM cache hook of its own.

It is an ``LLM`` that wraps any other ``LLM`` and can be set as ``Settings.llm``: every call (complete, chat, their
streaming and async forms) first asks the framework-neutral :class:`~redis_rag_integrations.cache.SemanticCache`;
on a hit the wrapped model is not called, and a streaming call replays the cached text as a stream. The LLM scope is
the wrapped model's class, metadata and every parameter plus every keyword argument of the call (stop words,
``max_tokens``, tools, response format, output schema...), encoded exactly by
:mod:`redis_rag_integrations.cache.identity`, so a cached answer is never served to another model, another
temperature, other tools, or a chat call for a completion. A call with an argument that has no exact form (a
lambda, an arbitrary object) bypasses the cache, with one warning.

Calls the cache cannot represent faithfully -- messages with images or tool calls, responses with tool calls -- are
passed through uncached rather than stored as a lossy text-only copy.

Wrapping a function-calling LLM (``FunctionCallingLLM``: OpenAI, Anthropic...) gives a
:class:`FunctionCallingSemanticCacheLLM`, which is one too, so agents (``FunctionAgent``, ``AgentWorkflow``) and
``predict_and_call`` accept it: tool preparation and tool-call parsing are the wrapped model's, the calls go through
the cache. What a tool loop can get from the cache is therefore only a plain text answer to a chat without tool
calls in it, for the same tools (their schemas are part of the call's identity): a tool-calling response is never
stored, so a stale tool step is never replayed, and every step after a tool result goes to the model.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SerializeAsAny
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.tools.types import BaseTool

from ..cache import CacheHit, CacheInputError, SemanticCache
from ..cache.identity import UncacheableCall, identity_json, log_bypass
from ..embeddings import Embedder
from ..settings import Settings
from ..tenancy import TenantLike
from .embeddings import as_embedder
from .llm_identity import messages_to_key, model_identity, tool_identity
from .llm_prompting import WrappedPrompting, mirrored_fields

logger = logging.getLogger("redis_rag_integrations.cache")

__all__ = ["FunctionCallingSemanticCacheLLM", "SemanticCacheLLM"]

_CHUNK = re.compile(r"\S+\s*|\s+")


def _replay(text: str) -> list[str]:
    """The cached text cut into word-sized deltas, so a replayed stream looks like a generated one."""
    return _CHUNK.findall(text) or [text]


class SemanticCacheLLM(WrappedPrompting, LLM):
    """Wrap ``llm`` with a Redis semantic cache; use it anywhere an LLM goes (``Settings.llm = SemanticCacheLLM(...)``).

    ``distance_threshold`` is a cosine DISTANCE (0 = identical, 2 = opposite) -- a hit needs distance <= threshold;
    ``ttl``, ``max_entries`` and the threshold default to the package settings. ``scope`` (e.g. a tenant) isolates
    users. Hits carry ``additional_kwargs["cache_hit"] = True`` and the distance. Prompts are formatted by the
    wrapped model (its system prompt, query wrapper, ``completion_to_prompt``...: :mod:`.llm_prompting`), so apart
    from caching the wrapper behaves as the model it wraps.
    """

    llm: SerializeAsAny[LLM] = Field(description="The wrapped LLM, called on cache misses.")
    scope: str | dict[str, Any] | None = Field(default=None, description="User scope, e.g. {'tenant': 'acme'}.")
    _cache: SemanticCache = PrivateAttr()

    def __new__(cls, llm: LLM | None = None, *args: Any, **kwargs: Any) -> SemanticCacheLLM:
        """The function-calling variant when ``llm`` calls tools (chosen here, so callers need not know it)."""
        if cls is SemanticCacheLLM and isinstance(llm, FunctionCallingLLM):
            cls = FunctionCallingSemanticCacheLLM
        return super().__new__(cls)

    def __init__(
        self,
        llm: LLM,
        *,
        embed_model: BaseEmbedding | Embedder | None = None,
        redis_url: str | None = None,
        distance_threshold: float | None = None,
        ttl: int | None = None,
        name: str = "llmcache",
        scope: str | Mapping[str, Any] | None = None,
        max_entries: int | None = None,
        refresh_on_hit: bool = False,
        settings: Settings | None = None,
        cache: SemanticCache | None = None,
        tenant: TenantLike = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(llm, LLM):
            raise TypeError(f"SemanticCacheLLM wraps a LlamaIndex LLM, got {type(llm).__name__}")
        super().__init__(
            llm=llm,
            scope=dict(scope) if isinstance(scope, Mapping) else scope,
            callback_manager=llm.callback_manager,
            **mirrored_fields(llm, kwargs),
            **kwargs,
        )
        self._cache = SemanticCache.from_options(
            cache,
            as_embedder(embed_model),
            name=name,
            redis_url=redis_url,
            settings=settings,
            distance_threshold=distance_threshold,
            ttl=ttl,
            max_entries=max_entries,
            refresh_on_hit=refresh_on_hit,
            tenant=tenant,
        )

    @classmethod
    def class_name(cls) -> str:
        return "SemanticCacheLLM"

    @property
    def cache(self) -> SemanticCache:
        return self._cache

    @property
    def metadata(self) -> LLMMetadata:
        return self.llm.metadata

    # ----------------------------------------------------------------- cache plumbing
    def _llm_scope(
        self, kind: str, kwargs: Mapping[str, Any], formatted: bool = False, context: str | None = None
    ) -> str | None:
        """The exact identity of this call, or ``None`` when an argument has no exact form (the call then
        bypasses the cache; warned once): never a partial identity that another call could share."""
        identity = {"kind": kind, "formatted": formatted, "model": model_identity(self.llm), "call": dict(kwargs)}
        if context is not None:
            identity["context"] = context
        try:
            return identity_json(identity, tool_identity)
        except UncacheableCall as exc:
            log_bypass(f"SemanticCacheLLM({self.llm.class_name()})", exc)
            return None

    def _lookup(self, key: str | None, llm_scope: str | None) -> CacheHit | None:
        if key is None or llm_scope is None:
            return None
        try:
            return self._cache.check(key, llm=llm_scope, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("SemanticCacheLLM lookup passed through: %s", exc)
            return None

    async def _alookup(self, key: str | None, llm_scope: str | None) -> CacheHit | None:
        if key is None or llm_scope is None:
            return None
        try:
            return await self._cache.acheck(key, llm=llm_scope, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("SemanticCacheLLM lookup passed through: %s", exc)
            return None

    def _store(self, key: str | None, text: str | None, llm_scope: str | None) -> None:
        if key is None or text is None or llm_scope is None:
            return
        try:
            self._cache.store(key, text, llm=llm_scope, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("SemanticCacheLLM store skipped: %s", exc)

    async def _astore(self, key: str | None, text: str | None, llm_scope: str | None) -> None:
        if key is None or text is None or llm_scope is None:
            return
        try:
            await self._cache.astore(key, text, llm=llm_scope, scope=self.scope)
        except CacheInputError as exc:
            logger.debug("SemanticCacheLLM store skipped: %s", exc)

    def _chat_key(self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The text to match and the LLM scope of a chat call (the chat's context digest joins the scope)."""
        try:
            text, context = messages_to_key(messages)
        except UncacheableCall as exc:
            log_bypass(f"SemanticCacheLLM({self.llm.class_name()})", exc)
            return None, None
        except CacheInputError as exc:
            logger.debug("SemanticCacheLLM passes through: %s", exc)
            return None, None
        return text, self._llm_scope("chat", kwargs, context=context)

    @staticmethod
    def _chat_text(response: ChatResponse) -> str | None:
        message = response.message
        if message.additional_kwargs.get("tool_calls") or any(not isinstance(b, TextBlock) for b in message.blocks):
            return None
        return message.content or ""

    @staticmethod
    def _hit_info(hit: CacheHit) -> dict[str, Any]:
        return {"cache_hit": True, "cache_distance": hit.distance}

    def _chat_hit(self, hit: CacheHit) -> ChatResponse:
        message = ChatMessage(role=MessageRole.ASSISTANT, content=hit.response)
        return ChatResponse(message=message, additional_kwargs=self._hit_info(hit))

    # ----------------------------------------------------------------- complete
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        scope = self._llm_scope("complete", kwargs, formatted)
        hit = self._lookup(prompt, scope)
        if hit is not None:
            return CompletionResponse(text=hit.response, additional_kwargs=self._hit_info(hit))
        response = self.llm.complete(prompt, formatted=formatted, **kwargs)
        self._store(prompt, response.text, scope)
        return response

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        scope = self._llm_scope("complete", kwargs, formatted)
        hit = self._lookup(prompt, scope)
        if hit is not None:
            return self._replay_completion(hit)
        return self._record_completion(prompt, scope, self.llm.stream_complete(prompt, formatted=formatted, **kwargs))

    def _replay_completion(self, hit: CacheHit) -> CompletionResponseGen:
        text = ""
        for delta in _replay(hit.response):
            text += delta
            yield CompletionResponse(text=text, delta=delta, additional_kwargs=self._hit_info(hit))

    def _record_completion(self, key: str, scope: str | None, stream: CompletionResponseGen) -> Generator:
        last: CompletionResponse | None = None
        for last in stream:
            yield last
        # only a stream that ran to its end is stored: an abandoned one would cache a truncated answer
        self._store(key, last.text if last is not None else None, scope)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        scope = self._llm_scope("complete", kwargs, formatted)
        hit = await self._alookup(prompt, scope)
        if hit is not None:
            return CompletionResponse(text=hit.response, additional_kwargs=self._hit_info(hit))
        response = await self.llm.acomplete(prompt, formatted=formatted, **kwargs)
        await self._astore(prompt, response.text, scope)
        return response

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        scope = self._llm_scope("complete", kwargs, formatted)
        hit = await self._alookup(prompt, scope)
        if hit is not None:
            return self._areplay_completion(hit)
        stream = await self.llm.astream_complete(prompt, formatted=formatted, **kwargs)
        return self._arecord_completion(prompt, scope, stream)

    async def _areplay_completion(self, hit: CacheHit) -> CompletionResponseAsyncGen:
        for item in self._replay_completion(hit):
            yield item

    async def _arecord_completion(
        self, key: str, scope: str | None, stream: CompletionResponseAsyncGen
    ) -> AsyncGenerator[CompletionResponse, None]:
        last: CompletionResponse | None = None
        async for last in stream:
            yield last
        await self._astore(key, last.text if last is not None else None, scope)

    # ----------------------------------------------------------------- chat
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        key, scope = self._chat_key(messages, kwargs)
        hit = self._lookup(key, scope)
        if hit is not None:
            return self._chat_hit(hit)
        response = self.llm.chat(messages, **kwargs)
        self._store(key, self._chat_text(response), scope)
        return response

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        key, scope = self._chat_key(messages, kwargs)
        hit = self._lookup(key, scope)
        if hit is not None:
            return self._replay_chat(hit)
        return self._record_chat(key, scope, self.llm.stream_chat(messages, **kwargs))

    def _replay_chat(self, hit: CacheHit) -> ChatResponseGen:
        text = ""
        for delta in _replay(hit.response):
            text += delta
            message = ChatMessage(role=MessageRole.ASSISTANT, content=text)
            yield ChatResponse(message=message, delta=delta, additional_kwargs=self._hit_info(hit))

    def _record_chat(self, key: str | None, scope: str | None, stream: ChatResponseGen) -> Generator:
        last: ChatResponse | None = None
        for last in stream:
            yield last
        self._store(key, self._chat_text(last) if last is not None else None, scope)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        key, scope = self._chat_key(messages, kwargs)
        hit = await self._alookup(key, scope)
        if hit is not None:
            return self._chat_hit(hit)
        response = await self.llm.achat(messages, **kwargs)
        await self._astore(key, self._chat_text(response), scope)
        return response

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        key, scope = self._chat_key(messages, kwargs)
        hit = await self._alookup(key, scope)
        if hit is not None:
            return self._areplay_chat(hit)
        stream = await self.llm.astream_chat(messages, **kwargs)
        return self._arecord_chat(key, scope, stream)

    async def _areplay_chat(self, hit: CacheHit) -> ChatResponseAsyncGen:
        for item in self._replay_chat(hit):
            yield item

    async def _arecord_chat(
        self, key: str | None, scope: str | None, stream: ChatResponseAsyncGen
    ) -> AsyncGenerator[ChatResponse, None]:
        last: ChatResponse | None = None
        async for last in stream:
            yield last
        await self._astore(key, self._chat_text(last) if last is not None else None, scope)


class FunctionCallingSemanticCacheLLM(SemanticCacheLLM, FunctionCallingLLM):
    """:class:`SemanticCacheLLM` over a ``FunctionCallingLLM`` (what ``SemanticCacheLLM(fc_llm)`` returns): the
    wrapped model prepares tool calls and parses them; ``chat`` / ``stream_chat`` (with the tools as arguments, so
    in the cache identity) go through the cache, which never stores a tool-calling response."""

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        llm: FunctionCallingLLM = self.llm  # type: ignore[assignment]
        return llm._prepare_chat_with_tools_compat(
            tools, user_msg=user_msg, chat_history=chat_history, verbose=verbose,
            allow_parallel_tool_calls=allow_parallel_tool_calls, tool_required=tool_required, **kwargs,
        )  # fmt: skip

    def _validate_chat_with_tools_response(
        self, response: ChatResponse, tools: Sequence[BaseTool], allow_parallel_tool_calls: bool = False, **kwargs: Any
    ) -> ChatResponse:
        llm: FunctionCallingLLM = self.llm  # type: ignore[assignment]
        return llm._validate_chat_with_tools_response(
            response, tools, allow_parallel_tool_calls=allow_parallel_tool_calls, **kwargs
        )

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        llm: FunctionCallingLLM = self.llm  # type: ignore[assignment]
        return llm.get_tool_calls_from_response(response, error_on_no_tool_call=error_on_no_tool_call, **kwargs)
