"""One embedding per question: the vector of a question travels with the request that asked it.

Why: a question that goes through a semantic cache and then a retriever used to be embedded once per step (cache
lookup, retrieval, cache store: three model calls on a miss), and on a CPU the model call is most of the time from
a question to its documents (milliseconds, against a fraction of a millisecond for the Redis search). The cache
wrappers (``CachedRAGChain``, ``CachedQueryEngine``, the agent middleware) open a :func:`request_scope` around one
request; inside it every step that embeds a question calls :func:`embed_question` (or :func:`aembed_question`), and
the first call's vector is reused by the others.

The memo is exact: keyed on the embedder *object* and the exact text, so a step using another model (or another
wrapper with its own query method) computes its own vector, and a different text (a conversation's rewritten
query) is embedded on its own. It lives in a :class:`contextvars.ContextVar`, so it follows the request into the
worker threads and child tasks LangChain and LlamaIndex start (both copy the context), and never leaks to another
request: outside a scope nothing is remembered.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .embeddings import Embedder

__all__ = ["aembed_question", "embed_question", "in_request_scope", "request_scope"]

#: ``(embedder, text) -> vector`` of the current request; ``None`` outside a request scope.
_memo: contextvars.ContextVar[dict[tuple[int, str], tuple[Any, np.ndarray]] | None] = contextvars.ContextVar(
    "redis_rag_question_vectors", default=None
)
#: Entries one request may hold: a request embeds a handful of texts; a runaway loop must not grow without bound.
_MAX_PER_REQUEST = 64


@contextlib.contextmanager
def request_scope() -> Iterator[None]:
    """Remember question vectors until the block ends; nested scopes share the outermost one's memo."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def in_request_scope() -> bool:
    return _memo.get() is not None


def _lookup(owner: Any, text: str) -> tuple[dict[tuple[int, str], tuple[Any, np.ndarray]] | None, np.ndarray | None]:
    memo = _memo.get()
    if memo is None:
        return None, None
    found = memo.get((id(owner), text))
    # the owner is kept with the vector: an id is only unique while its object lives
    return memo, (found[1] if found is not None and found[0] is owner else None)


def _remember(memo: dict[tuple[int, str], tuple[Any, np.ndarray]] | None, owner: Any, text: str, vector: Any) -> None:
    if memo is not None and len(memo) < _MAX_PER_REQUEST:
        memo[(id(owner), text)] = (owner, vector)


def embed_question(embedder: Embedder, text: str) -> np.ndarray:
    """``embedder.embed([text])[0]``, computed once per request scope for this embedder and text."""
    return remembered(embedder, text, lambda: embedder.embed([text])[0])


async def aembed_question(embedder: Embedder, text: str) -> np.ndarray:
    """Async :func:`embed_question`."""
    memo, vector = _lookup(embedder, text)
    if vector is None:
        vector = (await embedder.aembed([text]))[0]
        _remember(memo, embedder, text, vector)
    return vector


def remembered(owner: Any, text: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per request scope for ``owner`` (the object that embeds) and ``text``.

    For steps that embed through another object than a core :class:`Embedder` (a LangChain ``Embeddings``'s
    ``embed_query``): they share a vector only with steps using that same object.
    """
    memo, vector = _lookup(owner, text)
    if vector is None:
        vector = compute()
        _remember(memo, owner, text, vector)
    return vector


async def aremembered(owner: Any, text: str, compute: Callable[[], Any]) -> Any:
    """Async :func:`remembered`: ``compute`` returns an awaitable."""
    memo, vector = _lookup(owner, text)
    if vector is None:
        vector = await compute()
        _remember(memo, owner, text, vector)
    return vector
