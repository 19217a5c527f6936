"""What a LlamaIndex query engine *is* for :class:`~.rag_cache.CachedQueryEngine`: everything that decides its
answers, encoded exactly, or a part unique to one object where no exact form exists.

Why: the question cache serves an earlier engine's answer to any engine with the same identity. An identity made
of the engine's class, prompts, retriever class and ``similarity_top_k`` let two engines over one index with
``filters=user==alice`` and ``user==bob`` share answers (Bob got Alice's answer and source node), and so did
engines over different indexes or with different LLMs. So the whole engine is described, component by component
(retriever and its parameters: filters, top-k, mode, alpha, node / doc ids...; the synthesizer: its mode (class),
LLM, prompts, prompt helper; node postprocessors; the embedding model):

* plain values, enums, pydantic models (their fields) and module-level functions: exactly, through
  :func:`redis_rag_integrations.cache.identity.identity_json`;
* an LLM: :func:`.llm_identity.model_identity`, as :class:`~.llm.SemanticCacheLLM` keys it;
* a vector store: its class and the name of what it searches -- ours by its index name, another by a common
  collection attribute (``index_name``, ``collection_name``, ``table_name``); one without (an in-memory
  ``SimpleVectorStore``) by itself (:func:`object_token`);
* an index: its vector store, and its document store when retrieval may read it (a store that keeps no text, or
  a document store holding nodes): by itself, since what it holds has no name;
* any other object: its class and attributes, each described the same way; secrets and runtime plumbing are left
  out by exact name (:data:`redis_rag_integrations.cache.identity.EXCLUDED_NAMES`, after a leading ``_``).

A part that has no exact form (a lambda, a client, a cycle) never gives a guess: that part becomes
:func:`object_token`, unique to the object for the life of the process, so the engine's answers are shared with
no other engine (and with no other process) rather than with a wrong one. An index-backed engine over our
:class:`~.vector_store.RedisVectorStore` has no such part: rebuilt in another process it has the same identity.
"""

from __future__ import annotations

import hashlib
import types
from typing import Any

from llama_index.core.indices.base import BaseIndex
from llama_index.core.llms.llm import LLM
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.storage.kvstore.simple_kvstore import SimpleKVStore
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from ..cache.identity import UncacheableCall, excluded, identity_json
from ..cache.tokens import object_token, store_name
from .llm_identity import model_identity

__all__ = ["engine_identity", "object_token"]


_CONTAINERS = frozenset({list, dict, tuple, set, frozenset, bytes})


def engine_identity(query_engine: Any) -> str:
    """The canonical text of everything that decides ``query_engine``'s answers (see the module docstring)."""
    return identity_json(_Describer().part(query_engine))


def _qualified(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


class _Describer:
    """One description: the objects being described (a cycle back to one of them is that object's token)."""

    def __init__(self) -> None:
        self.stack: set[int] = set()

    def convert(self, value: Any) -> tuple[str, Any] | None:
        """The ``identity_json`` hook: a component as ``(tag, plain value)``, or ``None`` for what the encoder
        handles itself (containers, pydantic models, module-level functions)."""
        if type(value) in _CONTAINERS:  # most values: skip the (abstract) class checks below
            return None
        if isinstance(value, types.MethodType):
            func = f"{value.__func__.__module__}:{value.__func__.__qualname__}"
            if id(value.__self__) in self.stack:  # a method of an object being described: its code is named
                return "method", func
            return "method", [self.part(value.__self__), func]
        if isinstance(value, LLM):
            return "llm", self.part(value, lambda: model_identity(value))
        if isinstance(value, BasePydanticVectorStore):
            return "store", self.store(value)
        if isinstance(value, BaseIndex):
            return "index", self.index(value)
        if isinstance(value, BaseDocumentStore):
            return "docstore", "empty" if _holds_no_nodes(value) else object_token(value)
        if _is_plain_object(value):
            return "object", self.part(value)
        return None

    def part(self, obj: Any, body: Any = None) -> Any:
        """``[class, digest of the body]`` (the body: ``obj``'s attributes unless given), or ``obj``'s token when
        some part has no exact form or ``obj`` is already being described (a cycle)."""
        if id(obj) in self.stack:
            return {"token": object_token(obj)}
        self.stack.add(id(obj))
        try:
            plain = body() if body is not None else _attributes(obj)
            text = identity_json(plain, self.convert)
        except (UncacheableCall, RecursionError):
            return {"token": object_token(obj)}
        finally:
            self.stack.discard(id(obj))
        return [_qualified(obj), hashlib.sha256(text.encode()).hexdigest()]

    def store(self, store: BasePydanticVectorStore) -> Any:
        name = store_name(store, others=not _is_ours(store))  # ours: the core index's (tenant-scoped) name
        if name is None:  # an in-memory store, or ours before its index exists
            return [_qualified(store), {"token": object_token(store)}]
        return [_qualified(store), {"name": name}]

    def index(self, index: BaseIndex) -> Any:
        store = getattr(index, "vector_store", None)
        if not isinstance(store, BasePydanticVectorStore):  # a summary / keyword / graph index: its data is itself
            return [_qualified(index), {"token": object_token(index)}]
        described: dict[str, Any] = {"store": self.store(store)}
        if not store.stores_text or not _holds_no_nodes(index.docstore):
            described["docstore"] = object_token(index.docstore)
        return [_qualified(index), described]


def _is_ours(store: Any) -> bool:
    return type(store).__module__.startswith("redis_rag_integrations.")


def _is_plain_object(value: Any) -> bool:
    """An instance with attributes that the encoder would refuse (not a pydantic model, not a container)."""
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, type | types.FunctionType | types.BuiltinFunctionType | types.ModuleType)
        and not hasattr(type(value), "model_fields")
    )


def _attributes(obj: Any) -> dict[str, Any]:
    """``obj``'s attributes that can change its answers: all but secrets and runtime plumbing (exact names)."""
    return {name: value for name, value in vars(obj).items() if not excluded(name.lstrip("_"))}


def _holds_no_nodes(docstore: BaseDocumentStore) -> bool:
    """True only for an in-memory document store with no node in it (then retrieval cannot read anything from
    it); any other store, or one whose layout is not the one known here, counts as holding nodes."""
    try:
        kvstore = docstore._kvstore  # type: ignore[attr-defined]
        mappings = kvstore._collections_mappings
        return type(kvstore) is SimpleKVStore and not mappings.get(docstore._node_collection)  # type: ignore[attr-defined]
    except AttributeError:
        return False
