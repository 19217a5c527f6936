"""LangChain ``VectorStore`` over the shared index core: only ``Document`` <-> :class:`Record` translation here.

An index written through this class is readable by the LlamaIndex ``RedisVectorStore`` and the other way round:
both go through :class:`~redis_rag_integrations.store.RedisVectorIndex` and its single layout.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever

from ..connection import SyncClient
from ..embeddings import Embedder
from ..questions import aembed_question, aremembered, embed_question, remembered
from ..settings import HybridFusion, Settings
from ..store import FilterLike, Hit, Record, RedisVectorIndex
from ..store.auto_fields import MetadataFields
from ..store.layout import METADATA, TEXT
from ..store.options import metadata_fields_from, settings_with
from ..tenancy import TenantLike
from .embeddings import RagEmbeddings
from .fast_documents import document

#: Metadata keys that name the source document of a chunk, tried in order (``doc_id`` is LlamaIndex's word).
DOC_ID_KEYS = ("doc_id", "source")
#: All a LangChain ``Document`` is made of besides its id (which comes from the key): what searches fetch.
_DOC_FIELDS = (TEXT, METADATA)


class RedisVectorStore(VectorStore):
    """Redis as a LangChain vector store, in the layout shared with the LlamaIndex adapter.

    ``metadata_fields`` declares which metadata keys are filterable (``{"source": "tag", "year": "numeric"}``, or
    ``"auto"``: declared from the values written, :mod:`~redis_rag_integrations.store.auto_fields`);
    every metadata key is stored and returned with its type intact either way. Filters are dicts
    (``{"year": {"$gte": 2020}}``), redisvl ``FilterExpression`` objects, or raw Redis query strings; a filter on a
    field that is not declared raises :class:`~redis_rag_integrations.store.FilterError` instead of finding nothing.

    Scores are similarities, higher is better, the same numbers the LlamaIndex adapter returns for the same query
    (:meth:`~redis_rag_integrations.store.Layout.similarity`): with the default cosine metric ``1 - distance``, the
    cosine similarity in [-1, 1]; with ``ip`` the dot product; with ``l2`` ``1 - squared_distance / 2`` (the
    cosine for unit vectors). This differs from langchain-redis, which returns raw distances (lower is closer).
    ``hybrid_search`` scores are fused scores (relative score in [0, 1] by default, or RRF).
    ``as_retriever(search_type="hybrid")`` is supported next to ``similarity``, ``similarity_score_threshold``
    and ``mmr``.
    """

    def __init__(
        self,
        embeddings: Embeddings | Embedder | None = None,
        index_name: str | None = None,
        *,
        metadata_fields: MetadataFields | None = None,
        metadata_schema: Sequence[Mapping[str, str]] | None = None,
        prefix: str | None = None,
        redis_url: str | None = None,
        redis_client: SyncClient | None = None,
        settings: Settings | None = None,
        index: RedisVectorIndex | None = None,
        doc_id_keys: Sequence[str] = DOC_ID_KEYS,
        tenant: TenantLike = None,
        **index_options: Any,
    ) -> None:
        metadata_fields = metadata_fields_from(metadata_fields, metadata_schema)
        settings = settings_with(settings, index_options)
        if embeddings is None or not isinstance(embeddings, Embeddings):
            embeddings = RagEmbeddings(embeddings)
        self._embeddings = embeddings
        self.doc_id_keys = tuple(doc_id_keys)
        if index is None:
            dims = len(self._embed_query("dimension probe"))
            index = RedisVectorIndex(
                index_name,
                dims=dims,
                metadata_fields=metadata_fields,
                prefix=prefix,
                url=redis_url,
                client=redis_client,
                settings=settings,
                tenant=tenant,  # the tenant's own index and records (see redis_rag_integrations.tenancy)
            )
        self.index = index

    # --- embeddings ------------------------------------------------------------------------------------------

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    # Through the request's memo (..questions): inside a cache wrapper the question is embedded once for both.
    def _embed_query(self, text: str) -> np.ndarray:
        if isinstance(self._embeddings, RagEmbeddings):  # skip the list round trip for our own model
            return embed_question(self._embeddings.embedder, text)
        e = self._embeddings
        return remembered(e, text, lambda: np.asarray(e.embed_query(text), dtype=np.float32))

    async def _aembed_query(self, text: str) -> np.ndarray:
        if isinstance(self._embeddings, RagEmbeddings):
            return await aembed_question(self._embeddings.embedder, text)
        e = self._embeddings
        return np.asarray(await aremembered(e, text, lambda: e.aembed_query(text)), dtype=np.float32)

    # --- translation -----------------------------------------------------------------------------------------

    def _records(
        self, texts: list[str], metadatas: list[dict] | None, ids: list[str | None] | None, vectors: Any
    ) -> list[Record]:
        records = []
        for i, text in enumerate(texts):
            metadata = dict(metadatas[i]) if metadatas else {}
            doc_id = next((str(metadata[k]) for k in self.doc_id_keys if metadata.get(k) not in (None, "")), None)
            record_id = (ids[i] if ids else None) or str(uuid.uuid4())
            records.append(Record(id=record_id, text=text, vector=vectors[i], metadata=metadata, doc_id=doc_id))
        return records

    @staticmethod
    def _check_lengths(texts: list[str], metadatas: list[dict] | None, ids: list[str | None] | None) -> None:
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"got {len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"got {len(ids)} ids for {len(texts)} texts")

    @staticmethod
    def _document(record: Record) -> Document:
        return document(record.id, record.text, record.metadata)  # unvalidated when exactly equivalent

    # --- writing ---------------------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store ``texts``; an existing id is replaced, a missing one gets a UUID."""
        texts = list(texts)
        self._check_lengths(texts, metadatas, ids)
        if not texts:
            return []
        vectors = self._embeddings.embed_documents(texts)
        return self.index.upsert(self._records(texts, metadatas, ids, vectors), **_batch(kwargs))

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        self._check_lengths(texts, metadatas, ids)
        if not texts:
            return []
        vectors = await self._embeddings.aembed_documents(texts)
        return await self.index.aupsert(self._records(texts, metadatas, ids, vectors), **_batch(kwargs))

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.pop("ids", None) or [d.id for d in documents]
        return self.add_texts([d.page_content for d in documents], [d.metadata for d in documents], ids=ids, **kwargs)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.pop("ids", None) or [d.id for d in documents]
        texts = [d.page_content for d in documents]
        return await self.aadd_texts(texts, [d.metadata for d in documents], ids=ids, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id (missing ids are fine). ``ids=None`` deletes nothing: use :meth:`clear` to empty."""
        if ids is None:
            raise ValueError("delete() needs ids; call clear() to remove every document")
        self.index.delete(ids)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if ids is None:
            raise ValueError("adelete() needs ids; call aclear() to remove every document")
        await self.index.adelete(ids)
        return True

    def delete_by_doc_id(self, doc_ids: list[str]) -> int:
        """Delete every chunk of these source documents (metadata ``doc_id`` / ``source``); returns the count."""
        return self.index.delete_documents(doc_ids)

    async def adelete_by_doc_id(self, doc_ids: list[str]) -> int:
        return await self.index.adelete_documents(doc_ids)

    def clear(self) -> int:
        return self.index.clear()

    async def aclear(self) -> int:
        return await self.index.aclear()

    # --- reading ---------------------------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [self._document(r) for r in self.index.get(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [self._document(r) for r in await self.index.aget(list(ids))]

    def similarity_search(self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter=filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, filter=filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with their similarity score (higher is closer; cosine: ``1 - distance``)."""
        return self._pairs(self.index.search(self._embed_query(query), k, filter, _DOC_FIELDS))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return self._pairs(await self.index.asearch(await self._aembed_query(query), k, filter, _DOC_FIELDS))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        return [self._document(h.record) for h in self.index.search(embedding, k, filter, _DOC_FIELDS)]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[Document]:
        return [self._document(h.record) for h in await self.index.asearch(embedding, k, filter, _DOC_FIELDS)]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self._embed_query(query).tolist(), k, fetch_k, lambda_mult, filter=filter
        )

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = await self._aembed_query(query)
        hits = await self.index.ammr_search(vector, k, fetch_k, lambda_mult, filter)
        return [self._document(h.record) for h in hits]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[Document]:
        return [self._document(h.record) for h in self.index.mmr_search(embedding, k, fetch_k, lambda_mult, filter)]

    def hybrid_search(
        self,
        query: str,
        k: int = 4,
        filter: FilterLike = None,
        alpha: float | None = None,
        fetch_k: int | None = None,
        fusion: HybridFusion | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """BM25 + vector search fused into one ranking; the score is the fused score (higher is better).

        ``fusion`` is ``"relative_score"`` (min-max normalised scores, convex sum: in [0, 1]) or ``"rrf"``
        (reciprocal rank fusion); ``alpha`` weighs the vector side (1 = vectors only, 0 = BM25 only). Both
        default to the settings (``hybrid_fusion``, ``hybrid_alpha``). ``fetch_k`` results of each side are
        fused (default ``max(2k, 20)``: :func:`~redis_rag_integrations.store.hybrid.default_fetch_k`).
        """
        vector = self._embed_query(query)
        return self._pairs(self.index.hybrid_search(query, vector, k, filter, fetch_k, alpha, fusion))

    async def ahybrid_search(
        self,
        query: str,
        k: int = 4,
        filter: FilterLike = None,
        alpha: float | None = None,
        fetch_k: int | None = None,
        fusion: HybridFusion | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        vector = await self._aembed_query(query)
        return self._pairs(await self.index.ahybrid_search(query, vector, k, filter, fetch_k, alpha, fusion))

    def _pairs(self, hits: list[Hit]) -> list[tuple[Document, float]]:
        return [(self._document(h.record), h.score) for h in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Our scores are already similarities (1 = identical): relevance is the score clamped to [0, 1]
        (LangChain's relevance contract), so ``similarity_score_threshold`` thresholds the same similarity."""
        return _clamp01

    def as_retriever(self, **kwargs: Any) -> RedisVectorStoreRetriever:
        """A retriever over this store; ``search_type`` may also be ``"hybrid"`` (``search_kwargs``: ``k``,
        ``filter``, ``alpha``, ``fetch_k``, ``fusion``)."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return RedisVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> RedisVectorStore:
        """A store built from ``kwargs`` (``index_name``, ``metadata_fields``, ``redis_url``...) filled with texts."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store


class RedisVectorStoreRetriever(VectorStoreRetriever):
    """LangChain's vector-store retriever plus ``search_type="hybrid"`` (BM25 + vector, fused).

    A subclass because ``VectorStoreRetriever`` validates ``search_type`` against ``allowed_search_types``.
    """

    vectorstore: RedisVectorStore
    allowed_search_types: ClassVar[Collection[str]] = ("similarity", "similarity_score_threshold", "mmr", "hybrid")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type == "hybrid":
            return [doc for doc, _ in self.vectorstore.hybrid_search(query, **(self.search_kwargs | kwargs))]
        return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type == "hybrid":
            pairs = await self.vectorstore.ahybrid_search(query, **(self.search_kwargs | kwargs))
            return [doc for doc, _ in pairs]
        return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)


def _clamp01(score: float) -> float:
    return min(1.0, max(0.0, score))


def _batch(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"batch_size": int(kwargs["batch_size"])} if "batch_size" in kwargs else {}
