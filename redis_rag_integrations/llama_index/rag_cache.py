"""``CachedQueryEngine``: a question-level cache in front of any LlamaIndex query engine.

Keyed on the user's question (not the synthesized prompt), so a hit skips retrieval and synthesis. Each entry keeps
the answer and its source nodes (id, ref doc id, text, metadata, score) and links the entry to the node ids and
document ids through :mod:`redis_rag_integrations.freshness`, so an update or delete through the vector store drops
it. Streaming responses pass through uncached.

An entry answers only the same engine: its identity is the ``engine_id`` plus the wrapped engine's configuration
as LlamaIndex exposes it publicly -- its class, its prompts (``get_prompts()``: the QA and refine templates) and
its retriever's class and ``similarity_top_k`` -- so two different engines left at the default id never share
answers. A question bundle's custom embedding strings or embedding join the identity too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE, Response
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from ..cache import CacheHit, CacheInputError, SemanticCache, SourceRef
from ..cache.identity import UncacheableCall, identity_json, log_bypass
from ..embeddings import Embedder
from ..questions import request_scope
from ..settings import Settings
from ..tenancy import TenantLike
from .embeddings import as_embedder

logger = logging.getLogger("redis_rag_integrations.cache")

__all__ = ["CachedQueryEngine"]


def _node_record(item: NodeWithScore) -> dict[str, Any]:
    node = item.node
    return {
        "id": node.node_id,
        "ref_doc_id": node.ref_doc_id,
        "hash": node.hash,
        "text": node.get_content(),
        "metadata": dict(node.metadata),
        "score": item.score,
    }


def engine_config(query_engine: BaseQueryEngine) -> dict[str, Any]:
    """What of an engine's configuration can change its answers and is public: class, prompts, retriever."""
    config: dict[str, Any] = {"class": f"{type(query_engine).__module__}:{type(query_engine).__qualname__}"}
    try:
        config["prompts"] = {name: prompt.get_template() for name, prompt in query_engine.get_prompts().items()}
    except Exception as exc:  # an engine whose prompts cannot be listed: its class and id still identify it
        logger.debug("CachedQueryEngine: prompts of %s not listed: %s", type(query_engine).__name__, exc)
    retriever = getattr(query_engine, "retriever", None)
    if retriever is not None:
        config["retriever"] = f"{type(retriever).__module__}:{type(retriever).__qualname__}"
        top_k = getattr(retriever, "similarity_top_k", None)
        if isinstance(top_k, int):
            config["similarity_top_k"] = top_k
    return config


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
        self.llm_scope: dict[str, Any] = {"rag": engine_id, "engine": "llama_index", **engine_config(query_engine)}
        self.scope = scope

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}

    def _identity(self, query_bundle: QueryBundle) -> dict[str, Any]:
        """This question's identity: the engine's, plus what else in the bundle steers retrieval."""
        identity = dict(self.llm_scope)
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
        records = json.loads(hit.payload or "[]")
        nodes = [
            NodeWithScore(node=TextNode(id_=r["id"], text=r["text"], metadata=r["metadata"]), score=r["score"])
            for r in records
        ]
        return Response(
            response=hit.response, source_nodes=nodes, metadata={"cache_hit": True, "distance": hit.distance}
        )

    @staticmethod
    def _entry(response: RESPONSE_TYPE) -> tuple[str, str, list[SourceRef]]:
        if not isinstance(response, Response) or response.response is None:
            raise CacheInputError(f"{type(response).__name__} responses are not cached")
        records = [_node_record(n) for n in response.source_nodes]
        try:
            payload = json.dumps(records, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CacheInputError(f"source nodes cannot be serialized: {exc}") from exc
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
