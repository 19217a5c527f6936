"""``CachedQueryEngine``: a question-level cache in front of any LlamaIndex query engine.

Keyed on the user's question (not the synthesized prompt), so a hit skips retrieval and synthesis. Each entry keeps
the answer, its source nodes whole (every field but the embedding: relationships, so ``ref_doc_id``, metadata,
templates; and the score) and the response's metadata (the node id -> metadata map), and links the entry to the
node ids and document ids through :mod:`redis_rag_integrations.freshness`, so an update or delete through the
vector store drops it. Streaming responses pass through uncached.

An entry answers only the same engine: its identity is the ``engine_id`` plus everything that decides the wrapped
engine's answers (:func:`.engine_identity.engine_identity`, read at each query: the retriever and its filters,
top-k, mode, alpha, node / doc ids; the index or vector store it reads; the LLM; the synthesizer's mode and prompts;
node postprocessors), where a part without an exact form makes the engine share with no other -- so two different
engines left at the default id never share answers. A question bundle's custom embedding strings or embedding
join the identity too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE, Response
from llama_index.core.schema import BaseNode, ImageNode, IndexNode, Node, NodeWithScore, QueryBundle, TextNode

from ..cache import CacheHit, CacheInputError, SemanticCache, SourceRef
from ..cache.identity import UncacheableCall, identity_json, log_bypass
from ..embeddings import Embedder
from ..questions import request_scope
from ..settings import Settings
from ..tenancy import TenantLike
from .embeddings import as_embedder
from .engine_identity import engine_identity

logger = logging.getLogger("redis_rag_integrations.cache")

__all__ = ["CachedQueryEngine"]


#: Node classes a hit restores, by ``class_name()`` (any other is restored as a ``TextNode``).
_NODE_TYPES: dict[str, type[BaseNode]] = {cls.class_name(): cls for cls in (Node, IndexNode, ImageNode, TextNode)}


def _node_record(item: NodeWithScore) -> dict[str, Any]:
    """A source node as stored: the node whole but its embedding (``node``), and what freshness links need."""
    node = item.node
    return {
        "id": node.node_id,
        "ref_doc_id": node.ref_doc_id,
        "hash": node.hash,
        "node": {**node.to_dict(), "embedding": None},
        "score": item.score,
    }


def _restored(record: Mapping[str, Any]) -> NodeWithScore:
    whole = record.get("node")
    if whole is None:  # an entry stored before nodes were kept whole: what it has
        node: BaseNode = TextNode(id_=record["id"], text=record["text"], metadata=record["metadata"])
    else:
        node = _NODE_TYPES.get(whole.get("class_name"), TextNode).from_dict(dict(whole))
    return NodeWithScore(node=node, score=record["score"])


class CachedQueryEngine(BaseQueryEngine):
    """Wrap ``query_engine``; a question meaning the same as an earlier one (same ``engine_id``, same scope)
    returns the earlier ``Response`` with ``metadata["cache_hit"] = True``."""

    def __init__(
        self,
        query_engine: BaseQueryEngine,
        *,
        embed_model: BaseEmbedding | Embedder | None = None,
        redis_url: str | None = None,
        distance_threshold: float | None = None,
        ttl: int | None = None,
        name: str = "ragcache",
        engine_id: str = "default",
        scope: str | Mapping[str, Any] | None = None,
        settings: Settings | None = None,
        cache: SemanticCache | None = None,
        tenant: TenantLike = None,
    ) -> None:
        if not isinstance(query_engine, BaseQueryEngine):
            raise TypeError(f"CachedQueryEngine wraps a LlamaIndex query engine, got {type(query_engine).__name__}")
        super().__init__(callback_manager=query_engine.callback_manager)
        self.query_engine = query_engine
        self.cache = SemanticCache.from_options(
            cache,
            as_embedder(embed_model),
            name=name,
            redis_url=redis_url,
            settings=settings,
            distance_threshold=distance_threshold,
            ttl=ttl,
            tenant=tenant,
        )
        self.llm_scope: dict[str, Any] = {"rag": engine_id, "engine": "llama_index"}
        self.scope = scope

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}

    def _identity(self, query_bundle: QueryBundle) -> dict[str, Any]:
        """This question's identity: the engine's as it is now, plus what else in the bundle steers retrieval."""
        identity = {**self.llm_scope, "config": engine_identity(self.query_engine)}
        if query_bundle.custom_embedding_strs:
            identity["embedding_strs"] = list(query_bundle.custom_embedding_strs)
        if query_bundle.embedding is not None:
            identity["embedding"] = list(query_bundle.embedding)
        identity_json(identity)
        return identity

    @staticmethod
    def _passes_through(exc: CacheInputError) -> None:
        if isinstance(exc, UncacheableCall):
            log_bypass("CachedQueryEngine", exc)
        else:
            logger.debug("CachedQueryEngine passes through: %s", exc)

    def _hit_response(self, hit: CacheHit) -> Response:
        stored = json.loads(hit.payload or "[]")
        if isinstance(stored, list):  # an entry stored before the response's metadata was kept
            stored = {"nodes": stored, "metadata": None}
        metadata = {**(stored["metadata"] or {}), "cache_hit": True, "distance": hit.distance}
        nodes = [_restored(r) for r in stored["nodes"]]
        return Response(response=hit.response, source_nodes=nodes, metadata=metadata)

    @staticmethod
    def _entry(response: RESPONSE_TYPE) -> tuple[str, str, list[SourceRef]]:
        if not isinstance(response, Response) or response.response is None:
            raise CacheInputError(f"{type(response).__name__} responses are not cached")
        records = [_node_record(n) for n in response.source_nodes]
        stored = {"nodes": records, "metadata": response.metadata}
        try:
            payload = json.dumps(stored, ensure_ascii=False, allow_nan=False)
            same = json.loads(payload) == stored
        except (TypeError, ValueError) as exc:
            raise CacheInputError(f"source nodes or response metadata cannot be serialized: {exc}") from exc
        if not same:  # tuples, non-str keys...: a hit would not give back what the engine returned
            raise CacheInputError("source nodes or response metadata do not survive a JSON round trip")
        refs = []
        for r in records:
            refs.extend(SourceRef(str(i), r["hash"]) for i in dict.fromkeys([r["id"], r["ref_doc_id"]]) if i)
        return response.response, payload, refs

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        # One request scope: the lookup, the engine's retriever and the store share one question vector.
        with request_scope():
            return self._cached_query(query_bundle)

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        with request_scope():
            return await self._acached_query(query_bundle)

    def _cached_query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        question = query_bundle.query_str
        try:
            identity = self._identity(query_bundle)
            hit = self.cache.check(question, llm=identity, scope=self.scope)
            if hit is not None:
                return self._hit_response(hit)
        except CacheInputError as exc:
            self._passes_through(exc)
            return self.query_engine.query(query_bundle)
        token = self.cache.watch()
        try:
            response = self.query_engine.query(query_bundle)
        except BaseException:
            self.cache.unwatch(token)
            raise
        try:
            text, payload, refs = self._entry(response)
            self.cache.store(question, text, llm=identity, scope=self.scope, payload=payload, sources=refs, since=token)
        except CacheInputError as exc:
            self.cache.unwatch(token)
            logger.debug("CachedQueryEngine did not cache: %s", exc)
        return response

    async def _acached_query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        question = query_bundle.query_str
        try:
            identity = self._identity(query_bundle)
            hit = await self.cache.acheck(question, llm=identity, scope=self.scope)
            if hit is not None:
                return self._hit_response(hit)
        except CacheInputError as exc:
            self._passes_through(exc)
            return await self.query_engine.aquery(query_bundle)
        token = await self.cache.awatch()
        try:
            response = await self.query_engine.aquery(query_bundle)
        except BaseException:
            await self.cache.aunwatch(token)
            raise
        try:
            text, payload, refs = self._entry(response)
            await self.cache.astore(
                question, text, llm=identity, scope=self.scope, payload=payload, sources=refs, since=token
            )
        except CacheInputError as exc:
            await self.cache.aunwatch(token)
            logger.debug("CachedQueryEngine did not cache: %s", exc)
        return response
