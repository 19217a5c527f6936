"""LlamaIndex ``BaseEmbedding`` over the package's framework-neutral embedders, and the way back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from ..embeddings import Embedder, aembed_documents, default_embedder, embed_documents
from ..questions import aembed_question, embed_question


class RagEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model backed by an :class:`~redis_rag_integrations.embeddings.Embedder`.

    ``RagEmbedding()`` is the default local all-MiniLM-L6-v2 (offline, 384 dims), usable as
    ``Settings.embed_model``; it shares its model instance with the LangChain ``RagEmbeddings``.
    """

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder | None = None, **kwargs: Any) -> None:
        embedder = embedder or default_embedder()
        kwargs.setdefault("model_name", embedder.model_name)
        kwargs.setdefault("embed_batch_size", 32)
        super().__init__(**kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "RagEmbedding"

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    # Through the request's memo (..questions): behind CachedQueryEngine the question is embedded once.
    def _get_query_embedding(self, query: str) -> list[float]:
        return embed_question(self._embedder, query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await aembed_question(self._embedder, query)).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed_documents(self._embedder, [text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return embed_documents(self._embedder, texts).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return (await aembed_documents(self._embedder, texts)).tolist()


class LlamaIndexEmbedder:
    """Any LlamaIndex ``BaseEmbedding`` seen as an :class:`Embedder`."""

    def __init__(self, embed_model: BaseEmbedding) -> None:
        self.embed_model = embed_model
        self.model_name = embed_model.model_name
        self._dims: int | None = None

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._dims = len(self.embed_model.get_query_embedding("dimension probe"))
        return self._dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = self.embed_model.get_text_embedding_batch(list(texts))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        rows = await self.embed_model.aget_text_embedding_batch(list(texts))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_model.get_query_embedding(text), dtype=np.float32)

    async def aembed_query(self, text: str) -> np.ndarray:
        return np.asarray(await self.embed_model.aget_query_embedding(text), dtype=np.float32)


def as_embedder(embed_model: BaseEmbedding | Embedder | None) -> Embedder | None:
    """Unwrap our own ``RagEmbedding`` or adapt any other LlamaIndex embedding model; ``None`` stays ``None`` (the
    component it is passed to picks the default embedder of its own settings). As ``langchain.cache.as_embedder``."""
    if embed_model is None:
        return None
    if isinstance(embed_model, RagEmbedding):
        return embed_model.embedder
    if isinstance(embed_model, BaseEmbedding):
        return LlamaIndexEmbedder(embed_model)
    if isinstance(embed_model, Embedder):
        return embed_model
    raise TypeError(f"embed_model must be a LlamaIndex BaseEmbedding or an Embedder, got {type(embed_model).__name__}")
