"""The LlamaIndex LLM on whichever endpoint the settings choose (OpenAI, a compatible server, or local).

``OpenAILike`` with ``is_chat_model=True`` sends chat messages to any OpenAI-compatible server (the plain ``OpenAI``
class refuses model names it does not know, such as ``smollm2``). Connection failures are re-raised as
:class:`~redis_rag_integrations.llm.LLMUnavailableError`, naming the endpoint and how to configure another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, TypeVar

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.llms.openai_like import OpenAILike
from pydantic import PrivateAttr

from ..llm import LLMEndpoint, llm_endpoint, translated_errors, unfinished
from ..settings import Settings

T = TypeVar("T")


class RagOpenAILike(OpenAILike):
    """``OpenAILike`` whose connection failures raise :class:`~redis_rag_integrations.llm.LLMUnavailableError`."""

    _endpoint: LLMEndpoint = PrivateAttr()

    @classmethod
    def class_name(cls) -> str:
        return "RagOpenAILike"

    def _wrap(self, gen: Iterator[T]) -> Iterator[T]:
        finished = False
        with translated_errors(self._endpoint):
            for item in gen:
                finished = finished or _finishes(item)
                yield item
        if not finished:
            raise unfinished(self._endpoint.base_url)

    async def _awrap(self, gen: AsyncIterator[T]) -> AsyncIterator[T]:
        finished = False
        with translated_errors(self._endpoint):
            async for item in gen:
                finished = finished or _finishes(item)
                yield item
        if not finished:
            raise unfinished(self._endpoint.base_url)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        with translated_errors(self._endpoint):
            return super().chat(messages, **kwargs)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Iterator[ChatResponse]:
        with translated_errors(self._endpoint):
            return self._wrap(super().stream_chat(messages, **kwargs))

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        with translated_errors(self._endpoint):
            return super().complete(prompt, formatted=formatted, **kwargs)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Iterator[CompletionResponse]:
        with translated_errors(self._endpoint):
            return self._wrap(super().stream_complete(prompt, formatted=formatted, **kwargs))

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        with translated_errors(self._endpoint):
            return await super().achat(messages, **kwargs)

    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> AsyncIterator[ChatResponse]:
        with translated_errors(self._endpoint):
            return self._awrap(await super().astream_chat(messages, **kwargs))

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        with translated_errors(self._endpoint):
            return await super().acomplete(prompt, formatted=formatted, **kwargs)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> AsyncIterator[CompletionResponse]:
        with translated_errors(self._endpoint):
            return self._awrap(await super().astream_complete(prompt, formatted=formatted, **kwargs))


def _finishes(response: Any) -> bool:
    """Whether a streamed response is the one that ends a complete answer: its raw OpenAI chunk names a
    ``finish_reason``."""
    raw = getattr(response, "raw", None)
    choices = getattr(raw, "choices", None) or (raw.get("choices") if isinstance(raw, dict) else None) or []
    return any((c.get("finish_reason") if isinstance(c, dict) else getattr(c, "finish_reason", None)) for c in choices)


def llm(
    settings: Settings | None = None,
    *,
    endpoint: LLMEndpoint | None = None,
    function_calling: bool | None = None,
    **kwargs: Any,
) -> OpenAILike:
    """A LlamaIndex LLM on the configured endpoint; ``kwargs`` go to ``OpenAILike`` (e.g. ``temperature``,
    ``max_tokens``) and win over the defaults chosen here.

    ``function_calling`` says whether the model may be given tools (``FunctionAgent`` and ``predict_and_call``
    require it). Default: true for OpenAI itself, false for the bundled local model (SmolLM2-135M on llama.cpp
    does not call tools) and for other OpenAI-compatible servers, whose tool support varies: pass ``True`` for one
    that has it (vLLM with a tool parser, Ollama with a tool model...).

    Without ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` this starts the bundled local model (once per process).
    """
    endpoint = endpoint or llm_endpoint(settings)
    if function_calling is None:
        function_calling = endpoint.kind == "openai"
    params: dict[str, Any] = {
        "model": endpoint.model,
        "api_base": endpoint.base_url,
        "api_key": endpoint.api_key,
        "timeout": endpoint.timeout,
        "is_chat_model": True,
        "is_function_calling_model": function_calling,
        "max_retries": 1 if endpoint.kind == "local" else 3,
    }
    if endpoint.context_window is not None:
        params["context_window"] = endpoint.context_window
    params.update(kwargs)
    model = RagOpenAILike(**params)
    model._endpoint = endpoint
    return model
