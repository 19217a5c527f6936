"""LangChain ``Embeddings`` over the package's framework-neutral embedders, and the way back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from ..embeddings import Embedder, aembed_documents, default_embedder, embed_documents


class RagEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` backed by an :class:`~redis_rag_integrations.embeddings.Embedder`.

    ``RagEmbeddings()`` is the default local all-MiniLM-L6-v2 (offline, 384 dims), or OpenAI when the settings
    say so. The same model instance is shared with the LlamaIndex ``RagEmbedding`` in the process.
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or default_embedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed_documents(self.embedder, texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await aembed_documents(self.embedder, texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.embedder.aembed([text]))[0].tolist()


class LangChainEmbedder:
    """Any LangChain ``Embeddings`` seen as an :class:`Embedder`, so the cores accept what users already have."""

    def __init__(self, embeddings: Embeddings) -> None:
        self.embeddings = embeddings
        self.model_name = str(
            getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None) or type(embeddings).__name__
        )
        self._dims: int | None = None

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._dims = len(self.embeddings.embed_query("dimension probe"))
        return self._dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = self.embeddings.embed_documents(list(texts))
        return _matrix(rows, len(texts))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        rows = await self.embeddings.aembed_documents(list(texts))
        return _matrix(rows, len(texts))

    def embed_query(self, text: str) -> np.ndarray:
        """Queries go through ``embed_query``: some models embed questions differently from passages."""
        return np.asarray(self.embeddings.embed_query(text), dtype=np.float32)

    async def aembed_query(self, text: str) -> np.ndarray:
        return np.asarray(await self.embeddings.aembed_query(text), dtype=np.float32)


def _matrix(rows: list[list[float]], n: int) -> np.ndarray:
    if len(rows) != n:
        raise ValueError(f"the embeddings model returned {len(rows)} vectors for {n} texts")
    return np.asarray(rows, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 0), dtype=np.float32)


def as_embedder(embeddings: Embeddings | Embedder | None) -> Embedder | None:
    """Unwrap our own ``RagEmbeddings`` (no list round trip) or adapt any other LangChain ``Embeddings``; ``None``
    stays ``None`` (the component it is passed to picks the default embedder of its own settings)."""
    if embeddings is None:
        return None
    if isinstance(embeddings, RagEmbeddings):
        return embeddings.embedder
    if isinstance(embeddings, Embeddings):
        return LangChainEmbedder(embeddings)
    if isinstance(embeddings, Embedder):
        return embeddings
    raise TypeError(
        f"embeddings must be a LangChain Embeddings or an Embedder, got {type(embeddings).__name__}; "
        "for example RagEmbeddings() for the offline default"
    )
