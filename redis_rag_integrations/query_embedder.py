"""The default embedder: documents through the document model, questions through the fastest exact path.

Document paths call :meth:`QueryEmbedder.embed_documents` (through :func:`.embeddings.embed_documents`) and always
reach the document model. Through :meth:`~QueryEmbedder.embed`, a call that embeds ONE short text is a question (a
cache lookup, a retrieval, a recall: every question path of the package embeds one text at a time). A question is
answered, in order, by:

1. the exact query-vector cache in Redis (:mod:`.query_vector_cache`): a question asked before, by any process;
2. the query model (``queries``; default the document model itself, or the int8 ONNX MiniLM when
   ``Settings.query_embedding_model = "int8"``), stored in that cache afterwards.

Every async call also goes through a per-loop :class:`~.batching.Batcher`, so concurrent questions in one process
share model calls. Texts longer than ``max_query_chars`` and batches are documents: straight to ``documents``
(sync) or through the batcher (async, up to ``max_batch`` texts). The per-request memo that makes a cache lookup and
a retrieval share one vector is :mod:`.questions`; this class makes a repeated question free across requests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .batching import BatchersByLoop
from .embeddings import Embedder, check_texts
from .query_vector_cache import QueryVectorCache

__all__ = ["QueryEmbedder"]

#: Longer texts are not questions (a question is a sentence or two); they go to the document model, uncached.
MAX_QUERY_CHARS = 1000


class QueryEmbedder:
    """An :class:`~.embeddings.Embedder` routing questions and documents (see the module docstring).

    Args:
        documents: the document model (its vectors are what the index holds).
        queries: the model for questions; default ``documents``. Must give vectors of the same space and size.
        cache: the exact query-vector cache; ``None`` = none.
        batch_window: seconds an idle model's first async caller waits for others (default 0: the next loop turn;
            callers arriving while a model call runs always share the next call).
        max_batch: texts per coalesced async model call.
    """

    def __init__(
        self,
        documents: Embedder,
        queries: Embedder | None = None,
        *,
        cache: QueryVectorCache | None = None,
        batch_window: float = 0.0,
        max_batch: int = 32,
        max_query_chars: int = MAX_QUERY_CHARS,
    ) -> None:
        self.documents = documents
        self.queries = queries or documents
        self.cache = cache
        self.max_query_chars = max_query_chars
        self.batchers = BatchersByLoop(batch_window, max_batch)

    @property
    def model_name(self) -> str:
        return self.documents.model_name

    @property
    def dims(self) -> int:
        return self.documents.dims

    def _question(self, batch: list[str]) -> str | None:
        return batch[0] if len(batch) == 1 and len(batch[0]) <= self.max_query_chars else None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        question = self._question(batch)
        if question is None:
            return self.documents.embed(batch)
        model = self.queries
        if self.cache is not None:
            found = self.cache.get(model.model_name, model.dims, question)
            if found is not None:
                return found[None, :]
        vectors = model.embed(batch)
        if self.cache is not None:
            self.cache.put(model.model_name, model.dims, question, vectors[0])
        return vectors

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Documents always through the document model, however short (see :func:`.embeddings.embed_documents`)."""
        return self.documents.embed(check_texts(texts))

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        return await (self.batchers.embed(self.documents, batch) if batch else self.documents.aembed(batch))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        if not batch:
            return await self.documents.aembed(batch)
        question = self._question(batch)
        if question is None:
            return await self.batchers.embed(self.documents, batch)
        model = self.queries
        if self.cache is not None:
            found = await self.cache.aget(model.model_name, model.dims, question)
            if found is not None:
                return found[None, :]
        vectors = await self.batchers.embed(model, batch)
        if self.cache is not None:
            await self.cache.aput(model.model_name, model.dims, question, vectors[0])
        return vectors

    def __repr__(self) -> str:
        queries = "" if self.queries is self.documents else f", queries={self.queries!r}"
        return f"QueryEmbedder({self.documents!r}{queries}, cache={self.cache!r})"
