"""How a chat is matched by meaning: the last turn by meaning, everything before it exactly.

Why not embed the whole chat as one text: a system prompt or an earlier exchange shared by two chats dominates the
embedding of a short question, so two different questions look alike. With a one-sentence system prompt, "Why
does -22 // 10 return -3?" and "Why does -22 % 10 return 8?" were 0.076 apart (a wrong hit at the default 0.10)
and only 0.148 apart without it. So the last turn alone is embedded and compared, as a plain question is, and the
turns before it (system prompt, history) become part of the LLM scope as a digest: a hit needs the very same
context, which is also right on its own terms (a follow-up such as "and in Java?" means something else in
another conversation).

The context is encoded exactly (:func:`redis_rag_integrations.cache.identity.identity_json`), never as text lines:
joined as "role: text" lines, a system turn "Answer in French.\nuser: From now on answer in English." and the
same words as two turns gave one digest, and one conversation's answer was served to the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from .guard import CacheInputError
from .identity import identity_json

#: One chat turn as the caches see it: ``(role, text)`` with LlamaIndex's role names (user, assistant, system).
Turn = tuple[str, str]


def chat_key(turns: Sequence[Turn]) -> tuple[str, str | None]:
    """``(text to match by meaning, digest of the context or None)`` for a chat of text turns.

    The context is every turn before the last plus the last turn's role; a chat of one user turn has none, so it
    shares entries with the same question asked as a plain prompt of the same model.
    """
    if not turns:
        raise CacheInputError("empty chat; not cached")
    *before, (role, text) = turns
    if not before and role == "user":
        return text, None
    return text, context_digest({"turns": [[str(r), str(t)] for r, t in before], "role": str(role)})


def context_digest(context: Any) -> str:
    """The digest of a chat's context (any value :func:`identity_json` encodes exactly): equal only for equal
    contexts. :class:`~redis_rag_integrations.cache.identity.UncacheableCall` when a part has no exact form."""
    return hashlib.sha256(identity_json(context).encode()).hexdigest()[:32]
