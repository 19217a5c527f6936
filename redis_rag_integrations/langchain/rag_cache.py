"""``CachedRAGChain``: a question-level cache in front of a whole LCEL RAG chain.

An LLM cache sees the prompt WITH the retrieved context, so it only hits when retrieval returns the same chunks and
it cannot skip retrieval. This wrapper is keyed on the user's QUESTION: a hit skips retrieval and generation. It
stays fresh because each entry records the ids and content hashes of the documents in the chain's output (the
``context`` / ``source_documents`` lists of ``Document``) and of every document the chain's retrievers returned
during the call (a callback handler: a chain that answers with a plain string is linked too), and links them with
:func:`redis_rag_integrations.freshness.record_dependencies`; when the vector store updates or deletes one of them,
it calls ``invalidate_documents`` and the answer is gone. An answer whose retrievers all found nothing is not
cached: no document change could drop it once a relevant document arrives.

An entry answers only the same call: its identity is the ``chain_id``, a fingerprint of the wrapped chain's
configuration (its ``repr`` -- prompts, model parameters, steps -- with memory addresses removed, so two different
chains left at the default id never share answers, while the same chain rebuilt in another process does; the
vector store behind each retriever joins it by its index name, as a retriever's ``repr`` names it by address), the
input's other fields (``{"question": q, "language": "fr"}`` is not ``"en"``), ``config["configurable"]`` and the
call's keyword arguments, encoded exactly by :mod:`redis_rag_integrations.cache.identity`. A call with a value that
has no exact form bypasses the cache, with one warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumpd
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import merge_configs

from ..cache import CacheInputError, SemanticCache, SourceRef, source_fingerprint
from ..cache.identity import UncacheableCall, identity_json, log_bypass
from ..cache.scope import digest
from ..embeddings import Embedder
from ..questions import request_scope
from ..settings import Settings
from ..tenancy import TenantLike
from .cache import as_embedder
from .fingerprint import ADDRESS, retriever_identities
from .serde import load_core

logger = logging.getLogger("redis_rag_integrations.cache")

__all__ = ["CachedRAGChain", "source_json", "sources_of"]

DOC_ID_KEYS = ("doc_id", "source")


def chain_fingerprint(chain: Runnable[Any, Any]) -> str:
    """A digest of the chain's configuration as its ``repr`` shows it (prompts, model parameters, steps), with
    memory addresses removed so that the same chain built in another process has the same fingerprint, and of
    every retriever in it (:func:`.fingerprint.retriever_identities`: its vector store, search type and arguments,
    filter expressions included, which the ``repr`` shows by address only)."""
    return digest(repr((ADDRESS.sub("", repr(chain)), retriever_identities(chain))))


class _Retrieved(BaseCallbackHandler):
    """The documents every retriever run of one chain call returned: an answer is linked to what was retrieved for
    it even when the chain's output does not carry the documents (a string answer), and an answer built on a
    retrieval that found nothing is known as such."""

    run_inline = True  # collected in the caller's thread or loop, in order

    def __init__(self) -> None:
        self.runs = 0
        self.docs: list[Document] = []

    def on_retriever_end(self, documents: Sequence[Document], **kwargs: Any) -> None:
        self.runs += 1
        self.docs.extend(d for d in documents if isinstance(d, Document))


def sources_of(output: Any) -> list[SourceRef]:
    """Source references of every ``Document`` found in a chain output (a dict's values, or a list)."""
    docs: list[Document] = []
    values = output.values() if isinstance(output, Mapping) else [output]
    for value in values:
        if isinstance(value, Document):
            docs.append(value)
        elif isinstance(value, list | tuple):
            docs.extend(v for v in value if isinstance(v, Document))
    return [SourceRef(i, h) for i, h in _source_pairs(docs)]


def source_json(docs: Sequence[Any]) -> list[dict[str, str | None]]:
    """``[ref.to_json() for ref in sources_of(docs)]`` for a list of documents, without the :class:`SourceRef`
    objects in between: the RAG agent middleware records these dicts on every model call (frozen dataclasses cost
    about a microsecond each to make, two per passage)."""
    return [{"id": i, "hash": h} for i, h in _source_pairs([d for d in docs if isinstance(d, Document)])]


def _source_pairs(docs: Sequence[Document]) -> list[tuple[str, str]]:
    """``(id, content hash)`` of each source reference, in order: the document's id, then its ``doc_id`` and
    ``source`` metadata, each distinct value once, empty ones left out."""
    out: list[tuple[str, str]] = []
    for doc in docs:
        metadata = doc.metadata
        doc_hash = str(metadata.get("content_hash") or source_fingerprint(doc.page_content, metadata))
        for i in dict.fromkeys([doc.id, *[metadata.get(k) for k in DOC_ID_KEYS]]):
            if i not in (None, ""):
                out.append((str(i), doc_hash))
    return out


def answer_text(output: Any, answer_key: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, BaseMessage):
        return output.text if isinstance(output.text, str) else str(output.content)
    if isinstance(output, Mapping) and isinstance(output.get(answer_key), str):
        return output[answer_key]
    raise CacheInputError(
        f"cannot find the answer text in a {type(output).__name__} output (answer_key={answer_key!r})"
    )


class CachedRAGChain(Runnable[Any, Any]):
    """Wrap an LCEL chain so that a question meaning the same as an earlier one returns the earlier output.

    Input: the question as a string, or a dict holding it under ``question_key``. Output: exactly what the wrapped
    chain returns (a string, a message, or a dict with ``answer`` and ``context`` documents), restored with
    LangChain's serializer. ``chain_id`` names the pipeline (change it when prompts or models change: entries of
    another id are never served). ``scope`` (or ``config["configurable"]["cache_scope"]``) isolates tenants.
    """

    def __init__(
        self,
        chain: Runnable[Any, Any],
        *,
        embeddings: Embeddings | Embedder | None = None,
        redis_url: str | None = None,
        distance_threshold: float | None = None,
        ttl: int | None = None,
        name: str = "ragcache",
        chain_id: str = "default",
        question_key: str = "question",
        answer_key: str = "answer",
        scope: str | Mapping[str, Any] | None = None,
        sources: Callable[[Any], Sequence[SourceRef]] = sources_of,
        settings: Settings | None = None,
        cache: SemanticCache | None = None,
        tenant: TenantLike = None,
    ) -> None:
        if not isinstance(chain, Runnable):
            raise TypeError(f"CachedRAGChain wraps a LangChain Runnable, got {type(chain).__name__}")
        self.chain = chain
        self.cache = SemanticCache.from_options(
            cache,
            as_embedder(embeddings),
            name=name,
            redis_url=redis_url,
            settings=settings,
            distance_threshold=distance_threshold,
            ttl=ttl,
            tenant=tenant,
        )
        self.llm_scope: dict[str, Any] = {"rag": chain_id, "chain": chain_fingerprint(chain)}
        self.question_key = question_key
        self.answer_key = answer_key
        self.scope = scope
        self.sources = sources

    def _question(self, input: Any) -> str:
        if isinstance(input, str):
            return input
        if isinstance(input, Mapping) and isinstance(input.get(self.question_key), str):
            return input[self.question_key]
        raise CacheInputError(f"expected the question as a str or under {self.question_key!r} in a dict")

    def _key(self, input: Any, config: RunnableConfig | None, kwargs: Mapping[str, Any]) -> tuple[str, dict]:
        """``(question, identity of this call)``: everything besides the question that reaches the chain joins
        the identity; :class:`CacheInputError` (or :class:`UncacheableCall`) when the call cannot be cached."""
        question = self._question(input)
        identity = dict(self.llm_scope)
        if isinstance(input, Mapping) and len(input) > 1:
            identity["input"] = {k: v for k, v in input.items() if k != self.question_key}
        configurable = {k: v for k, v in ((config or {}).get("configurable") or {}).items() if k != "cache_scope"}
        if configurable:
            identity["configurable"] = configurable
        if kwargs:
            identity["kwargs"] = dict(kwargs)
        identity_json(identity)  # refuse here, before the lookup, what the core could not encode exactly
        return question, identity

    @staticmethod
    def _passes_through(exc: CacheInputError) -> None:
        if isinstance(exc, UncacheableCall):
            log_bypass("CachedRAGChain", exc)
        else:
            logger.debug("CachedRAGChain passes through: %s", exc)

    def _scope(self, config: RunnableConfig | None) -> Any:
        return ((config or {}).get("configurable") or {}).get("cache_scope", self.scope)

    def _decode(self, payload: str | None) -> Any:
        return load_core(payload) if payload else None

    def _encode(self, output: Any, retrieved: _Retrieved) -> tuple[str, str, list[SourceRef]]:
        """``(answer text, payload, sources)`` to store: the sources are the output's documents and every document
        a retriever returned during the call. :class:`CacheInputError` when the output is not worth caching,
        including an answer whose retrievers all found nothing (no document change could ever drop it)."""
        try:
            payload = json.dumps(dumpd(output), ensure_ascii=False, allow_nan=False)
            same = load_core(payload) == output
        except Exception as exc:
            raise CacheInputError(f"chain output cannot be serialized: {exc}") from exc
        if not same:
            raise CacheInputError("chain output does not survive a serialization round trip")
        refs = list(
            dict.fromkeys([*self.sources(output), *(SourceRef(i, h) for i, h in _source_pairs(retrieved.docs))])
        )
        if retrieved.runs and not retrieved.docs and not refs:  # found documents without ids are still found
            raise CacheInputError("the chain's retrieval found nothing: an answer without context is not cached")
        return answer_text(output, self.answer_key), payload, refs

    @staticmethod
    def _watched(config: RunnableConfig | None) -> tuple[RunnableConfig, _Retrieved]:
        """``config`` with a handler that collects what the chain's retrievers return."""
        retrieved = _Retrieved()
        return merge_configs(config, {"callbacks": [retrieved]}), retrieved

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        # One request scope: the lookup, the retriever inside the chain and the store share one question vector.
        with request_scope():
            return self._invoke(input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        with request_scope():
            return await self._ainvoke(input, config, **kwargs)

    def _invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        question, scope, identity = None, self._scope(config), self.llm_scope
        try:
            question, identity = self._key(input, config, kwargs)
            hit = self.cache.check(question, llm=identity, scope=scope)
            if hit is not None and hit.payload:
                return self._decode(hit.payload)
        except CacheInputError as exc:
            question = None
            self._passes_through(exc)
        token = self.cache.watch() if question is not None else None
        run_config, retrieved = self._watched(config) if question is not None else (config, _Retrieved())
        try:
            output = self.chain.invoke(input, run_config, **kwargs)
        except BaseException:
            self.cache.unwatch(token)
            raise
        if question is not None:
            try:
                text, payload, refs = self._encode(output, retrieved)
                self.cache.store(question, text, llm=identity, scope=scope, payload=payload, sources=refs, since=token)
            except CacheInputError as exc:
                self.cache.unwatch(token)
                logger.debug("CachedRAGChain did not cache: %s", exc)
        return output

    async def _ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        question, scope, identity = None, self._scope(config), self.llm_scope
        try:
            question, identity = self._key(input, config, kwargs)
            hit = await self.cache.acheck(question, llm=identity, scope=scope)
            if hit is not None and hit.payload:
                return self._decode(hit.payload)
        except CacheInputError as exc:
            question = None
            self._passes_through(exc)
        token = await self.cache.awatch() if question is not None else None
        run_config, retrieved = self._watched(config) if question is not None else (config, _Retrieved())
        try:
            output = await self.chain.ainvoke(input, run_config, **kwargs)
        except BaseException:
            await self.cache.aunwatch(token)
            raise
        if question is not None:
            try:
                text, payload, refs = self._encode(output, retrieved)
                await self.cache.astore(
                    question, text, llm=identity, scope=scope, payload=payload, sources=refs, since=token
                )
            except CacheInputError as exc:
                await self.cache.aunwatch(token)
                logger.debug("CachedRAGChain did not cache: %s", exc)
        return output
