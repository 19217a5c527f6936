"""The LangChain chat model on whichever endpoint the settings choose (OpenAI, a compatible server, or local).

``ChatOpenAI`` already speaks to any OpenAI-compatible server, so the only thing added here is the choice of endpoint
(:func:`redis_rag_integrations.llm.llm_endpoint`) and error messages that say which endpoint failed and how to
configure another one, instead of the ``openai`` client's bare "Connection error.".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr

from ..llm import LLMEndpoint, llm_endpoint, translated_errors, unfinished
from ..settings import Settings


class RagChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` whose connection failures raise :class:`~redis_rag_integrations.llm.LLMUnavailableError`."""

    _endpoint: LLMEndpoint | None = PrivateAttr(default=None)

    def _where(self) -> LLMEndpoint:
        if self._endpoint is not None:
            return self._endpoint
        timeout = self.request_timeout if isinstance(self.request_timeout, int | float) else 60.0
        return LLMEndpoint(self.openai_api_base or "https://api.openai.com/v1", "", self.model_name, "openai", timeout)

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Send ``max_tokens`` to compatible servers: ChatOpenAI renames it ``max_completion_tokens`` (OpenAI's newer
        name), which llama.cpp's server silently ignores, so answers would run on to the context limit."""
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if self._where().kind != "openai" and "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translated_errors(self._where()):
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translated_errors(self._where()):
            return await super()._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        finished = False
        with translated_errors(self._where()):
            for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
                finished = finished or _finishes(chunk)
                yield chunk
        if not finished:
            raise unfinished(self._where().base_url)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        finished = False
        with translated_errors(self._where()):
            async for chunk in super()._astream(messages, stop=stop, run_manager=run_manager, **kwargs):
                finished = finished or _finishes(chunk)
                yield chunk
        if not finished:
            raise unfinished(self._where().base_url)


def _finishes(chunk: ChatGenerationChunk) -> bool:
    """Whether ``chunk`` is the one that ends a complete answer (ChatOpenAI keeps ``finish_reason`` there)."""
    return bool((chunk.generation_info or {}).get("finish_reason"))


def chat_model(settings: Settings | None = None, *, endpoint: LLMEndpoint | None = None, **kwargs: Any) -> ChatOpenAI:
    """A LangChain chat model on the configured endpoint; ``kwargs`` go to ``ChatOpenAI`` (e.g. ``temperature``,
    ``max_tokens``, ``streaming``) and win over the defaults chosen here.

    Without ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` this starts the bundled local model (once per process).
    """
    endpoint = endpoint or llm_endpoint(settings)
    params: dict[str, Any] = {
        "model": endpoint.model,
        "base_url": endpoint.base_url,
        "api_key": endpoint.api_key,
        "timeout": endpoint.timeout,
        "max_retries": 1 if endpoint.kind == "local" else 2,  # a local server that failed once will fail again
    }
    params.update(kwargs)
    model = RagChatOpenAI(**params)
    model._endpoint = endpoint
    return model
