"""LlamaIndex vector store over the shared index core: only node <-> :class:`Record` and filter translation here.

Nodes round-trip whole: relationships, excluded metadata keys and templates ride in the record's ``extra`` JSON.
Records written by the LangChain adapter (no ``extra``) come back as plain ``TextNode`` objects whose source
relationship points at their ``doc_id``, so ``ref_doc_id`` works on them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import (
    BaseNode,
    ImageNode,
    IndexNode,
    MetadataMode,
    Node,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

from ..connection import SyncClient
from ..errors import IndexNotFoundError
from ..settings import Settings
from ..store import Hit, Record, RedisVectorIndex
from ..store.auto_fields import MetadataFields
from ..store.filters import FilterError
from ..store.layout import RESERVED_FIELDS, RawJson
from ..store.options import metadata_fields_from, settings_with
from ..tenancy import TenantLike
from .fast_nodes import text_node

_OPS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.ANY: "$in",
    FilterOperator.CONTAINS: "$eq",
    # LlamaIndex's TEXT_MATCH is a case-sensitive substring test (value in metadata[key]): the core's $substr
    # answers it exactly (store/substring.py), where $like would match words (stemmed, stopwords dropped).
    FilterOperator.TEXT_MATCH: "$substr",
    FilterOperator.TEXT_MATCH_INSENSITIVE: "$isubstr",
}
#: Node fields the record already holds elsewhere; the rest of the node's JSON is kept in ``extra``.
#: Node fields the layout holds in its own hash fields (or, for the embedding, the vector): left out of ``extra``.
#: ``text_resource`` is the text again in newer llama-index (``node_to_metadata_dict`` drops it the same way).
#: Node classes by ``class_name()``, as ``metadata_dict_to_node`` picks them (anything else is read as a TextNode).
_NODE_TYPES: dict[Any, type[BaseNode]] = {cls.class_name(): cls for cls in (Node, IndexNode, ImageNode, TextNode)}
_HELD_ELSEWHERE = frozenset({"text", "embedding", "metadata", "id_", "text_resource"})


class RedisVectorStore(BasePydanticVectorStore):
    """Redis as a LlamaIndex vector store, in the layout shared with the LangChain adapter.

    Pass ``dims`` (or add nodes first) to create a new index; an existing one is opened as it is, with its
    filterable ``metadata_fields``. Query modes: default (KNN), ``TEXT_SEARCH`` (BM25), ``HYBRID`` (BM25 + KNN
    fused, weighted by ``alpha``: see ``RedisVectorIndex.hybrid_search``) and ``MMR``. Similarities are
    higher-is-better and equal to the LangChain adapter's scores for the same query: for KNN / MMR the metric's
    similarity (cosine: ``1 - distance``; ip: the dot product; l2: ``1 - squared_distance / 2``), the BM25 score
    for text search, the fused score for hybrid.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    index_name: str
    _settings: Settings | None = PrivateAttr(default=None)
    _url: str | None = PrivateAttr(default=None)
    _prefix: str | None = PrivateAttr(default=None)
    _fields: MetadataFields | None = PrivateAttr(default=None)
    _core: RedisVectorIndex | None = PrivateAttr(default=None)
    _client: Any = PrivateAttr(default=None)
    _tenant: TenantLike = PrivateAttr(default=None)

    def __init__(
        self,
        index_name: str | None = None,
        *,
        dims: int | None = None,
        metadata_fields: MetadataFields | None = None,
        metadata_schema: Sequence[Mapping[str, str]] | None = None,
        prefix: str | None = None,
        redis_url: str | None = None,
        redis_client: SyncClient | None = None,
        settings: Settings | None = None,
        index: RedisVectorIndex | None = None,
        tenant: TenantLike = None,
        **index_options: Any,
    ) -> None:
        metadata_fields = metadata_fields_from(metadata_fields, metadata_schema)
        settings = settings_with(settings, index_options)
        if index is None and index_name is not None and not index_name.strip():
            # Only None means "the settings' index": an empty name is a mistake, refused as the core refuses it.
            raise ValueError(f"index_name must be a non-empty name (None: the settings' index), got {index_name!r}")
        super().__init__(index_name=index.name if index is not None else index_name or settings.index_name)
        self._settings, self._url, self._prefix, self._fields = settings, redis_url, prefix, metadata_fields
        self._client = redis_client
        self._tenant = tenant  # the tenant's own index and records (see redis_rag_integrations.tenancy)
        self._core = index
        if self._core is None:
            with contextlib.suppress(IndexNotFoundError):  # else created on the first add, from the nodes' dims
                self._open(dims)

    @classmethod
    def class_name(cls) -> str:
        return "RedisRagVectorStore"

    def _open(self, dims: int | None) -> RedisVectorIndex:
        self._core = RedisVectorIndex(
            self.index_name,
            dims=dims,
            metadata_fields=self._fields,
            prefix=self._prefix,
            url=self._url,
            client=self._client,
            settings=self._settings,
            tenant=self._tenant,
        )
        return self._core

    @property
    def index(self) -> RedisVectorIndex | None:
        """The core index, or ``None`` while nothing has been added to a new store."""
        return self._core

    @property
    def client(self) -> Any:
        return self._core.client if self._core is not None else None

    # --- translation -----------------------------------------------------------------------------------------

    def _records(self, nodes: Sequence[BaseNode]) -> list[Record]:
        records = []
        for node in nodes:
            embedding = node.get_embedding() if node.embedding is not None else None
            if embedding is None:
                raise ValueError(
                    f"node {node.node_id!r} has no embedding: embed nodes before adding them "
                    "(VectorStoreIndex does this with its embed_model)"
                )
            # What node_to_metadata_dict stores as _node_content, without serialising the embedding and the text
            # only to drop them again (that round trip was most of the client's time in a bulk add), encoded once.
            fields = node.model_dump_json(exclude=_HELD_ELSEWHERE)
            extra = RawJson(f'{{"type": {json.dumps(node.class_name())}, "node": {fields}}}')
            text = node.get_content(metadata_mode=MetadataMode.NONE)
            records.append(
                Record(node.node_id, text, embedding, dict(node.metadata), doc_id=node.ref_doc_id, extra=extra)
            )
        return records

    @staticmethod
    def _node(record: Record) -> BaseNode:
        extra = record.extra
        if isinstance(extra, dict) and "node" in extra:
            # What metadata_dict_to_node does, minus its JSON round trip of the fields we already hold as a dict.
            # (from_dict would copy the dict once more and pop class_name; pydantic ignores that key anyway.)
            cls = _NODE_TYPES.get(extra.get("type"), TextNode)
            node = cls(**{**extra["node"], "id_": record.id, "metadata": record.metadata, "text": record.text})
            if cls is not TextNode:
                node.set_content(record.text)
            return node
        return text_node(record.id, record.text, record.metadata, record.doc_id)  # unvalidated when equivalent

    def _filter(self, filters: MetadataFilters | None, node_ids: Any = None, doc_ids: Any = None) -> Any:
        """The core's dict filter; ``node_ids`` / ``doc_ids`` restrict when not ``None`` (callers turn ``[]`` into
        "nothing" (:func:`_restricts_to_nothing`) or, for ``query``, into ``None``)."""
        parts = [translate_filters(filters)] if filters is not None and filters.filters else []
        if node_ids is not None:
            parts.append({"id": {"$in": list(node_ids)}})
        if doc_ids is not None:
            parts.append({"doc_id": {"$in": list(doc_ids)}})
        return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}

    # --- writing ---------------------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        records = self._records(nodes)
        if not records:
            return []
        core = self._core or self._open(len(records[0].vector))  # type: ignore[arg-type]
        return core.upsert(records)

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        records = self._records(nodes)
        if not records:
            return []
        # Opening (creating) the index is synchronous I/O: a worker thread does it, never the event loop.
        core = self._core or await asyncio.to_thread(self._open, len(records[0].vector))  # type: ignore[arg-type]
        return await core.aupsert(records)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        if self._core is not None:
            self._core.delete_documents([ref_doc_id])

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        if self._core is not None:
            await self._core.adelete_documents([ref_doc_id])

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        if self._core is None or _restricts_to_nothing(node_ids):
            return
        if filters is None or not filters.filters:
            self._core.delete(node_ids or [])
        else:
            self._core.delete_where(self._filter(filters, node_ids))

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        if self._core is None or _restricts_to_nothing(node_ids):
            return
        if filters is None or not filters.filters:
            await self._core.adelete(node_ids or [])
        else:
            await self._core.adelete_where(self._filter(filters, node_ids))

    def clear(self) -> None:
        if self._core is not None:
            self._core.clear()

    async def aclear(self) -> None:
        if self._core is not None:
            await self._core.aclear()

    # --- reading ---------------------------------------------------------------------------------------------

    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        if self._core is None or _restricts_to_nothing(node_ids):
            return []
        if filters is None or not filters.filters:
            return [self._node(r) for r in self._core.get(node_ids or [])]
        return [self._node(r) for r in self._core.find(self._filter(filters, node_ids))]

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        if self._core is None or _restricts_to_nothing(node_ids):
            return []
        if filters is None or not filters.filters:
            return [self._node(r) for r in await self._core.aget(node_ids or [])]
        return [self._node(r) for r in await self._core.afind(self._filter(filters, node_ids))]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if self._core is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        mode, flt, k = self._plan(query)
        core = self._core
        if mode == VectorStoreQueryMode.TEXT_SEARCH:
            hits = core.text_search(query.query_str or "", k, flt)
        elif mode == VectorStoreQueryMode.HYBRID:
            hits = core.hybrid_search(query.query_str or "", _vector(query), k, flt, alpha=_alpha(query))
        elif mode == VectorStoreQueryMode.MMR:
            hits = core.mmr_search(_vector(query), k, max(20, 4 * k), _lambda(query, kwargs), flt)
        else:
            hits = core.search(_vector(query), k, flt)
        return self._result(hits, mode)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if self._core is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        mode, flt, k = self._plan(query)
        core = self._core
        if mode == VectorStoreQueryMode.TEXT_SEARCH:
            hits = await core.atext_search(query.query_str or "", k, flt)
        elif mode == VectorStoreQueryMode.HYBRID:
            hits = await core.ahybrid_search(query.query_str or "", _vector(query), k, flt, alpha=_alpha(query))
        elif mode == VectorStoreQueryMode.MMR:
            hits = await core.ammr_search(_vector(query), k, max(20, 4 * k), _lambda(query, kwargs), flt)
        else:
            hits = await core.asearch(_vector(query), k, flt)
        return self._result(hits, mode)

    def _plan(self, query: VectorStoreQuery) -> tuple[VectorStoreQueryMode, Any, int]:
        supported = (
            VectorStoreQueryMode.DEFAULT,
            VectorStoreQueryMode.TEXT_SEARCH,
            VectorStoreQueryMode.HYBRID,
            VectorStoreQueryMode.MMR,
        )
        if query.mode not in supported:
            raise ValueError(
                f"query mode {query.mode.value!r} is not supported; use one of {[m.value for m in supported]}"
            )
        k = query.similarity_top_k
        if query.mode == VectorStoreQueryMode.HYBRID and query.hybrid_top_k:
            k = query.hybrid_top_k
        # node_ids=[] is NO restriction here, unlike SimpleVectorStore: VectorStoreIndex.as_retriever passes the ids of
        # its nodes_dict, which is empty for a store that keeps the text (stores_text), as this one does.
        return query.mode, self._filter(query.filters, query.node_ids or None, query.doc_ids or None), k

    def _result(self, hits: list[Hit], mode: VectorStoreQueryMode) -> VectorStoreQueryResult:
        # Hit.score is the similarity both adapters share (the LangChain store returns the same numbers).
        nodes = [self._node(h.record) for h in hits]
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[h.score for h in hits], ids=[h.record.id for h in hits]
        )


def _restricts_to_nothing(restriction: Sequence[str] | None) -> bool:
    """Whether an id restriction is given and empty: for ``get_nodes`` / ``delete_nodes``, ``node_ids=[]`` means
    "none of the nodes", as in ``SimpleVectorStore`` (only ``None`` means "no restriction"): nothing is returned or
    deleted. (``query`` differs, see ``_plan``.)"""
    return restriction is not None and len(restriction) == 0


def _vector(query: VectorStoreQuery) -> list[float]:
    if query.query_embedding is None:
        raise ValueError("this query mode needs query_embedding (the retriever sets it from its embed_model)")
    return query.query_embedding


def _alpha(query: VectorStoreQuery) -> float | None:
    """The query's ``alpha`` (LlamaIndex's convention matches ours: 1 = vectors only); ``None`` = the settings'."""
    return None if query.alpha is None else float(query.alpha)


def _lambda(query: VectorStoreQuery, kwargs: dict[str, Any]) -> float:
    value = kwargs.get("mmr_threshold", query.mmr_threshold)
    return 0.5 if value is None else float(value)


def translate_filters(filters: MetadataFilters) -> dict[str, Any]:
    """LlamaIndex ``MetadataFilters`` as the core's dict filter (which then checks fields and types)."""
    parts: list[dict[str, Any]] = []
    for f in filters.filters:
        parts.append(translate_filters(f) if isinstance(f, MetadataFilters) else _one(f))
    if filters.condition == FilterCondition.NOT:
        # LlamaIndex's NOT is "none of the filters matches" (not any), not "not all of them".
        return {"$not": parts[0] if len(parts) == 1 else {"$or": parts}}
    if len(parts) == 1:
        return parts[0]
    return {"$or" if filters.condition == FilterCondition.OR else "$and": parts}


def _one(f: MetadataFilter) -> dict[str, Any]:
    if f.key in RESERVED_FIELDS:
        # In the core's filters these names are the layout's own fields (the node id, the ref_doc_id, the content
        # hash...), where a LlamaIndex filter names a metadata key: it would silently test something else.
        raise FilterError(
            f"cannot filter on metadata key {f.key!r}: the name is one of the store's own fields "
            f"({', '.join(sorted(RESERVED_FIELDS))}), so it is not declared as a filter field. Rename the key, "
            "or use VectorStoreQuery(node_ids=..., doc_ids=...) for node / document ids"
        )
    if f.operator == FilterOperator.ALL:
        values = f.value if isinstance(f.value, list) else [f.value]
        return {"$and": [{f.key: {"$eq": v}} for v in values]}
    op = _OPS.get(f.operator)
    if op is None:
        raise FilterError(
            f"filter operator {f.operator.value!r} on {f.key!r} is not supported by the Redis store; "
            f"use one of {sorted(o.value for o in _OPS)} or 'all'"
        )
    return {f.key: {op: f.value}}
