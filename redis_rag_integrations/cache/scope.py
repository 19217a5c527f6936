"""Cache scopes: which cached answers a lookup may ever see.

A cached answer is only valid for the model and parameters that produced it (another model's answer is a wrong hit)
and, in multi-tenant apps, for the tenant that asked. Both are turned into short hex TAG values that the vector query
uses as a PREFILTER, so the nearest neighbour is searched only among entries of the same scope. Checking the scope
after a top-1 lookup (as some caches do) turns a valid hit into a miss whenever another scope holds a closer entry.

Values are hashed, never stored raw: an ``llm_string`` may contain API parameters, and hex needs no TAG escaping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .identity import identity_json

NO_SCOPE = "global"


def digest(text: str, size: int = 32) -> str:
    """A stable hex digest of ``text`` (sha256, truncated to ``size`` hex chars)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal mappings give equal digests (user scopes: plain values)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def llm_scope_tag(llm: str | Mapping[str, Any] | None) -> str:
    """The TAG value for an LLM identity (LangChain's ``llm_string`` or a mapping of model metadata).

    A mapping is encoded exactly (:func:`.identity.identity_json`): a value with no canonical form raises
    :class:`.identity.UncacheableCall` instead of being reduced to its ``repr`` and silently matching another.
    """
    if llm is None:
        return NO_SCOPE
    return digest(llm if isinstance(llm, str) else identity_json(dict(llm)))


def user_scope_tag(scope: str | Mapping[str, Any] | None) -> str:
    """The TAG value for a user scope such as ``{"tenant": "acme"}`` (``None`` / ``{}`` = the shared scope).

    Exact: a string scope and a mapping never share a tag (``"x"`` is not ``{"scope": "x"}``), values keep their JSON
    types (``1``, ``1.0``, ``True`` and ``"1"`` differ), and an empty string is refused rather than read as "shared".
    """
    if scope is None or (isinstance(scope, Mapping) and not scope):
        return NO_SCOPE
    if isinstance(scope, Mapping):
        for key, value in scope.items():
            if not isinstance(key, str):
                raise TypeError(f"scope keys must be str, got {type(key).__name__}")
            if not isinstance(value, str | int | float | bool):
                raise TypeError(f"scope value for {key!r} must be str/int/float/bool, got {type(value).__name__}")
        return digest("mapping:" + canonical_json(dict(scope)))
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str or a mapping, got {type(scope).__name__}")
    if not scope:
        raise ValueError("an empty scope string names no scope: pass None for the shared scope")
    return digest("str:" + scope)
