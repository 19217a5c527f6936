"""How a wrapping LLM formats prompts: exactly as the LLM it wraps.

Why: ``LLM.predict`` / ``stream`` / ``structured_predict`` build the text or the messages with the *caller's*
``system_prompt``, ``query_wrapper_prompt``, ``messages_to_prompt``, ``completion_to_prompt`` and
``output_parser``, then call ``complete(..., formatted=True)`` or ``chat`` -- so the wrapped model never adds its
own. A wrapper with its own (empty) settings silently dropped them: ``MockLLM(system_prompt="...pirate")`` wrapped
in :class:`~.llm.SemanticCacheLLM` was sent ``'Question: hello'`` alone. :class:`WrappedPrompting` sends every
formatting step to the wrapped model (read at each call, so a later change to it counts too), and
:func:`mirrored_fields` copies those settings onto the wrapper for code that reads them as attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts import BasePromptTemplate

#: The ``LLM`` fields that decide how a prompt is formatted: a wrapper takes them from the model it wraps.
PROMPT_FIELDS = (
    "system_prompt",
    "messages_to_prompt",
    "completion_to_prompt",
    "output_parser",
    "query_wrapper_prompt",
    "pydantic_program_mode",
)


def mirrored_fields(llm: LLM, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The wrapped model's prompt settings, to pass to the wrapper's constructor; ``TypeError`` when the caller
    sets one on the wrapper (it would be ignored: formatting is the wrapped model's)."""
    given = sorted(set(PROMPT_FIELDS) & set(kwargs))
    if given:
        raise TypeError(f"set {', '.join(given)} on the wrapped LLM: the wrapper formats prompts as the model it wraps")
    return {name: getattr(llm, name) for name in PROMPT_FIELDS}


class WrappedPrompting:
    """Mixin for an ``LLM`` with a ``llm`` field: prompt formatting and output parsing are the wrapped model's."""

    llm: LLM

    def _log_template_data(self, prompt: BasePromptTemplate, **prompt_args: Any) -> None:
        self.llm._log_template_data(prompt, **prompt_args)

    def _get_prompt(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        return self.llm._get_prompt(prompt, **prompt_args)

    def _get_messages(self, prompt: BasePromptTemplate, **prompt_args: Any) -> list[ChatMessage]:
        return self.llm._get_messages(prompt, **prompt_args)

    def _parse_output(self, output: str) -> str:
        return self.llm._parse_output(output)

    def _extend_prompt(self, formatted_prompt: str) -> str:
        return self.llm._extend_prompt(formatted_prompt)

    def _extend_messages(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        return self.llm._extend_messages(messages)
