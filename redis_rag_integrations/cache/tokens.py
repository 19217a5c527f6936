"""Names for objects that have no exact, stable form, for the cache identities of chains and engines.

Why: a cache identity made from an object's ``repr`` with memory addresses removed lets two different objects
(two redisvl filter expressions, two in-memory stores) look the same, and then one call gets another's answer.
Where no exact form exists, :func:`object_token` names the object itself: unique to it for as long as it lives in
this process (an id is only reused after its object is gone, and the entry goes with it) and never met in another
process (a random process part). A call holding such a part shares answers with no other call rather than with a
wrong one. Framework-neutral: both adapters use it.
"""

from __future__ import annotations

import itertools
import threading
import uuid
import weakref
from typing import Any

__all__ = ["STORE_NAME_ATTRIBUTES", "object_token", "store_name"]

#: Attributes that name what a third-party vector store searches (both adapters read them).
STORE_NAME_ATTRIBUTES = ("index_name", "collection_name", "_collection_name", "table_name")


def store_name(store: Any, *, others: bool = True) -> str | None:
    """The name of what a vector store searches: ours by its core index's name, another (``others``) by the first
    of :data:`STORE_NAME_ATTRIBUTES` it has as a string; ``None`` when it has none (an in-memory store)."""
    name = getattr(getattr(store, "index", None), "name", None)
    if isinstance(name, str) or not others:
        return name if isinstance(name, str) else None
    return next((n for a in STORE_NAME_ATTRIBUTES if isinstance(n := getattr(store, a, None), str)), None)


_PROCESS = uuid.uuid4().hex
_counter = itertools.count()
_tokens: dict[int, tuple[Any, str]] = {}
_tokens_lock = threading.Lock()


def object_token(obj: Any) -> str:
    """A name for ``obj`` no other object gets: not in this process while ``obj`` lives, nor in another process."""
    key = id(obj)
    with _tokens_lock:
        held = _tokens.get(key)
        if held is not None and (held[0]() if isinstance(held[0], weakref.ref) else held[0]) is obj:
            return held[1]
        token = f"{_PROCESS}:{next(_counter)}"
        try:
            ref: Any = weakref.ref(obj, lambda _r, key=key: _forget(key, token))
        except TypeError:  # no weak references to it: kept alive, so its id is never reused
            ref = obj
        _tokens[key] = (ref, token)
        return token


def _forget(key: int, token: str) -> None:
    with _tokens_lock:
        if _tokens.get(key, (None, None))[1] == token:
            del _tokens[key]
