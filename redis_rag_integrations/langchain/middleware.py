"""RAG for LangChain 1.x agents: retrieved context in the system prompt (2-step RAG), or a retriever tool (agentic).

:class:`RedisRAGMiddleware` runs before every model call of ``create_agent``: it searches our ``RedisVectorStore``
(hybrid BM25 + vector by default) with the latest user message and appends the passages, numbered with their
sources, to the system prompt. The model needs no tool calling for this, so it works with small local models. It
also records, in the system message's ``additional_kwargs["redis_rag"]``, the system prompt as it was before the
context was added and the sources used: :class:`~redis_rag_integrations.langchain.agent_cache.
SemanticCacheMiddleware` (placed after it) keys answers on the question and that base prompt, and links them to
the sources, so a document change drops the answers built from it (as ``CachedRAGChain`` does for chains).

:func:`retriever_tool` gives the same search as a tool, for agents that decide themselves when to look things up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from ..cache.scope import digest
from ..questions import request_scope
from . import rag_turn
from .fingerprint import stable_repr, store_identity
from .rag_cache import source_json
from .rag_turn import PipelinedRetriever, RagTurn
from .run_observers import unobserved
from .vectorstore import RedisVectorStore

__all__ = ["RAG_KEY", "RedisRAGMiddleware", "format_context", "retriever_tool"]

#: Where the middleware leaves the base prompt and the sources in the system message's ``additional_kwargs``.
RAG_KEY = "redis_rag"
DEFAULT_TEMPLATE = (
    "Answer using the context below when it is relevant, and cite the passages you use by their number, "
    "e.g. [1].\n\nContext:\n{context}"
)


def _source(doc: Document) -> str:
    return str(doc.metadata.get("source") or doc.metadata.get("doc_id") or doc.id or "unknown")


def format_context(docs: Sequence[Document]) -> str:
    """Passages numbered ``[1]``, ``[2]``... each with its source, as the prompt and the tool show them."""
    return "\n\n".join(f"[{i}] (source: {_source(d)})\n{d.page_content}" for i, d in enumerate(docs, 1))


_SENTINEL = "\x00redis-rag-context\x00"


def _check_template(template: str) -> None:
    """Refuse a template that cannot hold the passages: other placeholders or stray braces (every model call would
    fail with a bare ``KeyError``), or ``{{context}}`` (formats to a literal, the model would get no passages)."""
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}")
    try:
        rendered = template.format(context=_SENTINEL)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:  # '{context.x}', '{context[0]}'...
        raise ValueError(
            f"template must hold '{{context}}' and no other placeholder (double other braces: '{{{{' '}}}}'): {exc!r}"
        ) from exc
    if _SENTINEL not in rendered:
        raise ValueError("template must contain the placeholder '{context}' (not escaped as '{{context}}')")


def _rag_identity(store: Any, search_type: str, search_kwargs: dict[str, Any], template: str) -> str:
    """A digest of what decides the context besides the question: the store (:func:`.fingerprint.store_identity`),
    the search type and its arguments (:func:`.fingerprint.stable_repr`: a filter expression by its query text),
    and the template. The same for the same configuration in another process."""
    return digest(repr((store_identity(store), search_type, stable_repr(search_kwargs), template)))


def last_user_text(messages: Sequence[AnyMessage]) -> str | None:
    """The text of the latest user message: what a turn is about, also in the middle of a tool loop."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return str(message.text) or None
    return None


class RedisRAGMiddleware(AgentMiddleware):
    """Retrieve from ``vector_store`` before each model call and put the context, with sources, in the system
    prompt. ``search_type`` is ``"hybrid"`` (default), ``"similarity"`` or ``"mmr"``; ``search_kwargs`` go to the
    retriever (``k``, ``filter``...). ``template`` must contain ``{context}``.
    """

    def __init__(
        self,
        vector_store: RedisVectorStore,
        *,
        k: int = 4,
        search_type: str = "hybrid",
        search_kwargs: dict[str, Any] | None = None,
        template: str = DEFAULT_TEMPLATE,
    ) -> None:
        super().__init__()
        _check_template(template)
        k = (search_kwargs or {}).get("k", k)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1 (passages per model call), got {k!r}")
        # our retriever subclass: a hybrid search also carries the lookups of the cache middleware behind this one
        self.retriever = PipelinedRetriever(
            vectorstore=vector_store, search_type=search_type, search_kwargs={"k": k, **(search_kwargs or {})},
            tags=[*vector_store._get_retriever_tags()],
        )  # fmt: skip
        self.template = template
        #: What besides the base prompt decides the context the model sees (the store searched, how, and the
        #: template): part of the cache key of :class:`~.agent_cache.SemanticCacheMiddleware`, so two agents
        #: sharing a cache never share answers built over other corpora or other instructions.
        self.rag_identity = _rag_identity(vector_store, search_type, self.retriever.search_kwargs, template)
        #: Cache middlewares seen running behind this one (:mod:`.rag_turn`): their lookups go with the retrieval.
        self.followers: tuple[Any, ...] = ()
        self.unused_streaks: dict[int, int] = {}
        #: Followers whose cache talks to Redis through another client: never asked (nothing to pipeline with).
        self.solo: tuple[Any, ...] = ()

    @staticmethod
    def _base_prompt(request: ModelRequest) -> str | None:
        # str(): ``.text`` is a str subclass in langchain-core 1.x, which the cache's exact identity refuses
        return str(request.system_message.text) if request.system_message is not None else None

    def _with_context(self, request: ModelRequest, docs: list[Document]) -> ModelRequest:
        base = self._base_prompt(request)
        block = self.template.format(context=format_context(docs) if docs else "(nothing relevant found)")
        sources = source_json(docs)
        system = SystemMessage(
            content=f"{base}\n\n{block}" if base else block,
            additional_kwargs={RAG_KEY: {"base_prompt": base, "sources": sources, "config": self.rag_identity}},
        )
        return request.override(system_message=system)

    def _retrieve(self, query: str) -> list[Document]:
        """The retriever's documents; through ``invoke`` (a retriever run its callbacks and tracing see) unless no
        handler would see it (:func:`.run_observers.unobserved`): then its search alone, the same documents."""
        retriever = self.retriever
        if unobserved(getattr(retriever, "callbacks", None)):
            return retriever._get_relevant_documents(
                query, run_manager=CallbackManagerForRetrieverRun.get_noop_manager()
            )
        return retriever.invoke(query)

    async def _aretrieve(self, query: str) -> list[Document]:
        retriever = self.retriever
        if unobserved(getattr(retriever, "callbacks", None)):
            manager = AsyncCallbackManagerForRetrieverRun.get_noop_manager()
            return await retriever._aget_relevant_documents(query, run_manager=manager)
        return await retriever.ainvoke(query)

    # One request scope around retrieval and the model call: the question's vector is computed once and reused by
    # a SemanticCacheMiddleware listed after this one (see redis_rag_integrations.questions), and one RagTurn: that
    # middleware's lookup goes out in the retrieval's round trip (see .rag_turn).
    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> ModelResponse:
        with request_scope():
            turn = RagTurn(self)
            token = rag_turn.enter(turn)
            try:
                query = last_user_text(request.messages)
                if query and self.followers and self.retriever.pipelines():
                    base = self._base_prompt(request)
                    found = [f.prefetch(request, base, self.rag_identity) for f in self.followers]
                    turn.prefetched = turn.on_client(found, self.retriever.vectorstore.index.client)
                docs = self._retrieve(query) if query else []
                return handler(self._with_context(request, docs))
            finally:
                rag_turn.leave(token)
                turn.close()

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> ModelResponse:
        with request_scope():
            turn = RagTurn(self)
            token = rag_turn.enter(turn)
            try:
                query = last_user_text(request.messages)
                if query and self.followers and self.retriever.pipelines():
                    base = self._base_prompt(request)
                    found = [await f.aprefetch(request, base, self.rag_identity) for f in self.followers]
                    turn.prefetched = turn.on_client(found, self.retriever.vectorstore.index.async_client)
                docs = await self._aretrieve(query) if query else []
                return await handler(self._with_context(request, docs))
            finally:
                rag_turn.leave(token)
                turn.close()


class _SearchArgs(BaseModel):
    query: str = Field(description="What to look for, in plain words.")


def retriever_tool(
    vector_store: RedisVectorStore,
    *,
    name: str = "search_documents",
    description: str = "Search the document collection; returns numbered passages with their sources.",
    k: int = 4,
    search_type: str = "hybrid",
    search_kwargs: dict[str, Any] | None = None,
) -> BaseTool:
    """The vector store as a tool (agentic RAG): the model gets numbered passages with sources, and the
    ``ToolMessage.artifact`` carries the ``Document`` objects."""
    retriever = vector_store.as_retriever(search_type=search_type, search_kwargs={"k": k, **(search_kwargs or {})})

    def search(query: str) -> tuple[str, list[Document]]:
        docs = retriever.invoke(query)
        return format_context(docs) or "No matching documents.", docs

    async def asearch(query: str) -> tuple[str, list[Document]]:
        docs = await retriever.ainvoke(query)
        return format_context(docs) or "No matching documents.", docs

    return StructuredTool.from_function(
        func=search, coroutine=asearch, name=name, description=description,
        args_schema=_SearchArgs, response_format="content_and_artifact",
    )  # fmt: skip
