"""What identifies a LlamaIndex LLM call for the semantic cache: the wrapped model, the tools it is given, the chat.

Why a module of its own: :class:`~.llm.SemanticCacheLLM` is about calling through the cache (complete, chat,
streams, async); these functions only say what a call *is*, in the exact encoding of
:mod:`redis_rag_integrations.cache.identity`, and are what a benchmark or another wrapper needs to reproduce a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.llms.llm import LLM
from llama_index.core.tools.types import BaseTool

from ..cache import CacheInputError
from ..cache.chat import context_digest
from ..cache.identity import excluded


def model_identity(llm: LLM) -> dict[str, Any]:
    """What identifies the answers of ``llm``: class, metadata and every field (``max_tokens``, prompt formatters,
    extra kwargs...); only secrets and runtime plumbing are left out, by exact name
    (:data:`redis_rag_integrations.cache.identity.EXCLUDED_NAMES`)."""
    params = {name: getattr(llm, name, None) for name in type(llm).model_fields if not excluded(name)}
    try:
        metadata = llm.metadata.model_dump(mode="json")
    except Exception:  # a metadata property that needs a live server: the parameters still identify the model
        metadata = {}
    return {"class": llm.class_name(), "metadata": metadata, "params": params}


def tool_identity(value: Any) -> tuple[str, Any] | None:
    """A LlamaIndex tool as the model sees it: its name, description and parameter schema (not the Python object)."""
    if isinstance(value, BaseTool):
        meta = value.metadata
        return "tool", {"name": meta.name, "description": meta.description, "schema": meta.get_parameters_dict()}
    return None


def messages_to_key(messages: Sequence[ChatMessage]) -> tuple[str, str | None]:
    """``(text to match by meaning, context digest or None)`` for a chat (see :mod:`redis_rag_integrations.cache.chat`):
    the last message's text by meaning; every earlier message whole (role, each block, ``additional_kwargs``:
    what reaches the model) and the last one's role, ``additional_kwargs`` and block split exactly, through the
    digest. ``None`` for a lone user question of one block, as a plain prompt. :class:`CacheInputError` for content
    the cache cannot replay or identify (images, audio, tool calls; an ``additional_kwargs`` value with no exact
    form: :class:`~redis_rag_integrations.cache.identity.UncacheableCall`)."""
    if not messages:
        raise CacheInputError("empty chat; not cached")
    for message in messages:
        if any(not isinstance(block, TextBlock) for block in message.blocks):
            raise CacheInputError("chat message has non-text content (image, audio, document...); not cached")
        if message.additional_kwargs.get("tool_calls") or message.role == MessageRole.TOOL:
            raise CacheInputError("chat with tool calls; not cached")
    *before, last = messages
    blocks = [block.text for block in last.blocks]
    text = "\n".join(blocks)
    if not before and last.role == MessageRole.USER and len(blocks) == 1 and not last.additional_kwargs:
        return text, None
    context = {
        "before": [_message_identity(m) for m in before],
        # one block: its text is the text matched; otherwise the split into blocks is part of the call
        "last": {
            "role": last.role.value,
            "blocks": 1 if len(blocks) == 1 else blocks,
            "kwargs": last.additional_kwargs,
        },
    }
    return text, context_digest(context)


def _message_identity(message: ChatMessage) -> dict[str, Any]:
    return {
        "role": message.role.value,
        "blocks": [block.text for block in message.blocks],
        "kwargs": message.additional_kwargs,
    }
