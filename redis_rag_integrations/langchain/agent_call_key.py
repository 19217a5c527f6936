"""The cache key of an agent model call (see :mod:`.agent_cache` for what it holds and why): the question, matched
by meaning, and the exact identity of everything else the model sees, as a digest.

Apart from the middleware so that each module stays a screenful of reading: this is the pure part (no Redis), also
computed ahead by the RAG middleware for the request the cache middleware will receive (:mod:`.rag_turn`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

from langchain.agents.middleware import ModelRequest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from ..cache import SourceRef
from ..cache.identity import UncacheableCall, identity_json, log_bypass
from .middleware import RAG_KEY

__all__ = ["CallKey", "call_key", "key_with_prompt", "rag_system"]


class CallKey(NamedTuple):
    """What one model call is, for the cache: the question (matched by meaning), the exact identity of everything
    else (a digest, the cache's LLM scope), and the sources the RAG middleware used."""

    text: str
    identity: str
    sources: list[SourceRef]
    #: Whether a RAG middleware built the context of this call (then an answer without sources is not cached:
    #: nothing would drop it once a relevant document arrives).
    rag: bool = False


def _canonical_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """Messages as the model sees them, with random ids replaced by their order of appearance."""
    ids: dict[str, str] = {}

    def canon(value: str | None) -> str | None:
        return None if value is None else ids.setdefault(value, f"#{len(ids)}")

    out = []
    for m in messages:
        item: dict[str, Any] = {"type": m.type, "content": m.content, "name": m.name}
        if isinstance(m, AIMessage):
            item["tool_calls"] = [
                {"name": c["name"], "args": c["args"], "id": canon(c.get("id"))} for c in m.tool_calls
            ]
            item["invalid_tool_calls"] = len(m.invalid_tool_calls)
        if m.type == "chat":  # a ChatMessage's role is part of what the model sees
            item["role"] = getattr(m, "role", None)
        if m.type == "tool":
            item["tool_call_id"] = canon(getattr(m, "tool_call_id", None))
            item["status"] = getattr(m, "status", None)
        out.append(item)
    return out


def _model_identity(model: Any) -> Any:
    """The model and its parameters, as LangChain's own LLM cache names them (``_get_llm_string``: class, model
    name, temperature, stop...)."""
    return model._get_llm_string() if hasattr(model, "_get_llm_string") else type(model).__qualname__


#: ``id(tool) -> (tool, fingerprint, digest of its schema)``. Converting a tool's schema and canonicalising it cost
#: 0.1-0.2 ms per tool per model call (cProfile of a 3-tool agent: 80% of ``call_key``), for a value that does not
#: change between calls. The tool is kept with its entry (an id is only unique while its object lives); the
#: fingerprint (name, description, schema object) makes an edited tool a new entry.
_TOOL_DIGESTS: dict[int, tuple[Any, tuple[Any, ...], str]] = {}
_MAX_TOOLS = 1024


def _tool_identity(tool: Any) -> Any:
    """What the key holds for one bound tool: a provider-format dict as given, a tool's schema by its digest."""
    if isinstance(tool, dict):
        return tool
    fingerprint = (
        getattr(tool, "name", None),
        getattr(tool, "description", None),
        id(getattr(tool, "args_schema", None)),
    )
    found = _TOOL_DIGESTS.get(id(tool))
    if found is not None and found[0] is tool and found[1] == fingerprint:
        return found[2]
    digest = hashlib.sha256(identity_json(convert_to_openai_tool(tool)).encode()).hexdigest()
    if len(_TOOL_DIGESTS) < _MAX_TOOLS:
        _TOOL_DIGESTS[id(tool)] = (tool, fingerprint, digest)
    return digest


def call_key(request: ModelRequest) -> CallKey | None:
    """The cache key of a model call, or ``None`` when it must not be cached (no user message, structured output,
    an argument with no exact form)."""
    system = request.system_message
    rag: Mapping[str, Any] | None = system.additional_kwargs.get(RAG_KEY) if system is not None else None
    if rag is None:
        return _key(request, system.content if system is not None else None, [])
    return _key(request, rag_system(rag["base_prompt"], rag.get("config")), rag.get("sources") or [], rag=True)


def rag_system(base_prompt: str | None, config: str | None) -> dict[str, Any]:
    """What the key holds for the system prompt behind a RAG middleware: the prompt before the context was added
    and the middleware's :attr:`~.middleware.RedisRAGMiddleware.rag_identity` (store, search, template)."""
    return {"base": base_prompt, "rag": config}


def _media(content: Any) -> list[Any]:
    """The parts of a message's content that are not text (images, files, audio): the question is matched by the
    meaning of its text, so everything else it carries joins the exact identity."""
    if isinstance(content, str):
        return []
    # a block's "id" is random per block built (LangChain's v1 factories: create_image_block...): not what the
    # model sees, so it is left out, or the same picture asked twice would never hit
    return [
        {k: v for k, v in b.items() if k != "id"} if isinstance(b, dict) else b
        for b in content
        if not (isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text"))
    ]


def _key(
    request: ModelRequest, system_prompt: Any, sources: list[Mapping[str, Any]], *, rag: bool = False
) -> CallKey | None:
    """:func:`call_key` with the system prompt given: what the RAG middleware computes ahead (:mod:`.rag_turn`)
    for the request as this middleware will receive it, the base prompt being the one it will record."""
    if request.response_format is not None:
        return None
    messages = request.messages
    position = None
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            position = i
            break
    if position is None or not messages[position].text:
        return None
    canonical = _canonical_messages(list(messages))
    question = canonical[position]
    try:
        identity = {
            "kind": "agent-model-call",
            "model": _model_identity(request.model),
            "system": system_prompt,
            "before": canonical[:position],
            "question": {k: v for k, v in question.items() if k != "content"},
            "media": _media(question["content"]),
            "after": canonical[position + 1 :],
            "tools": [_tool_identity(t) for t in request.tools],
            "tool_choice": request.tool_choice,
            "settings": dict(request.model_settings),
        }
        text = identity_json(identity)
    except UncacheableCall as exc:
        log_bypass("SemanticCacheMiddleware", exc)
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    refs = [SourceRef(str(s["id"]), s.get("hash")) for s in sources]
    return CallKey(str(messages[position].text), f"agent:{digest}", refs, rag)


#: What the middleware and the RAG middleware's prefetch call (the system prompt given).
key_with_prompt = _key
