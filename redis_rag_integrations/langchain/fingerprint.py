"""What decides the documents a LangChain chain or RAG middleware retrieves, in a form that is the same for the same
configuration in any process, and unique where no such form exists.

Why: the question caches (:class:`~.rag_cache.CachedRAGChain`, the agent cache behind
:class:`~.middleware.RedisRAGMiddleware`) serve an earlier answer to any call of the same identity. Identities built
from ``repr`` with memory addresses removed let different configurations look alike: a retriever's ``repr`` names
its vector store by address only, a redisvl ``FilterExpression`` shows nothing but its address, and a retriever
inside ``with_fallbacks`` or a ``RunnableBranch`` is not among ``get_graph()``'s nodes. Chains over other stores, or
for another tenant's filter, then shared answers. Here:

* :func:`stable_repr` writes a value exactly: plain values and containers as themselves, a filter expression by its
  query text, anything else by its ``repr`` when that holds no address, else by
  :func:`~redis_rag_integrations.cache.tokens.object_token` (never shared with another object or process);
* :func:`retriever_identities` walks a runnable's parts (sequence and parallel steps, bindings, fallbacks,
  branches, the closures and default arguments of functions) and names each retriever by its class, its vector
  store (ours: index name; others: a common collection attribute; else the store itself), its search type and
  its arguments. A retriever a function reaches only through module globals is not found (the chain's ``repr``
  still names the function).
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Mapping
from typing import Any

from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable

from ..cache.tokens import object_token, store_name

__all__ = ["retriever_identities", "stable_repr", "store_identity"]

ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: How deep the walk of a runnable goes (a chain nests a few levels; this bounds a pathological one).
_MAX_DEPTH = 64


def stable_repr(value: Any) -> str:
    """``value`` written the same for the same configuration in every process, or unique to the object."""
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return repr(value)
    if isinstance(value, Mapping):
        items = sorted((stable_repr(k), stable_repr(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return ("[" if isinstance(value, list) else "(") + ", ".join(map(stable_repr, value)) + "]"
    if type(value).__name__ == "FilterExpression" and type(value).__module__.startswith("redisvl"):
        return f"FilterExpression({value!s})"  # its query text: what it selects
    text = repr(value)
    return f"<{type(value).__qualname__} {object_token(value)}>" if ADDRESS.search(text) else text


def store_identity(store: Any) -> str:
    """A vector store by what it searches: ours by index name, another by a collection attribute, else itself."""
    name = store_name(store)
    where = f"name:{name}" if name is not None else f"object:{object_token(store)}"
    return f"{type(store).__module__}.{type(store).__qualname__}:{where}"


def _retriever(retriever: BaseRetriever) -> str:
    store = getattr(retriever, "vectorstore", None)
    if store is None:  # a retriever of its own kind: its fields, written exactly
        fields = {k: v for k, v in vars(retriever).items() if k not in ("callbacks", "tags", "metadata")}
        return f"{type(retriever).__qualname__}:{stable_repr(fields)}"
    how = (getattr(retriever, "search_type", None), getattr(retriever, "search_kwargs", None))
    return f"{type(retriever).__qualname__}:{store_identity(store)}:{stable_repr(how)}"


def retriever_identities(runnable: Any) -> list[str]:
    """The identity of every retriever found in ``runnable``'s parts, sorted."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        if depth > _MAX_DEPTH or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, BaseRetriever):
            found.append(_retriever(obj))
            return
        if isinstance(obj, Mapping):
            parts: Any = obj.values()
        elif isinstance(obj, list | tuple | set | frozenset):
            parts = obj
        elif isinstance(obj, functools.partial):
            parts = (obj.func, obj.args, obj.keywords)
        elif isinstance(obj, types.FunctionType | types.MethodType):
            func = getattr(obj, "__func__", obj)
            cells = [c.cell_contents for c in func.__closure__ or () if _filled(c)]
            parts = [getattr(obj, "__self__", None), *cells, func.__defaults__, func.__kwdefaults__]
        elif isinstance(obj, Runnable):
            parts = vars(obj).values()
        else:
            return
        for part in parts:
            walk(part, depth + 1)

    walk(runnable, 0)
    return sorted(found)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True
