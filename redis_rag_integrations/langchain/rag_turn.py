"""Retrieval and the semantic-cache lookup of one agent model call in one Redis round trip.

Why: behind :class:`~.middleware.RedisRAGMiddleware`, a :class:`~.agent_cache.SemanticCacheMiddleware` looked up
its cache after the retrieval had come back, although the lookup needs neither the passages nor anything else the
retrieval produces: the cache keys on the question and on the system prompt as it was *before* the context was
added. So the RAG middleware now sends the cache lookup in the same pipeline as the hybrid search (one write, one
read; measured in ``benchmarks/bench_agents.py``), and the cache middleware takes the finished lookup instead of
sending its own.

How the two find each other, without the user wiring them: while the RAG middleware's handler runs, a
:class:`RagTurn` is the current turn (a context variable, so it follows the call into LangChain's worker threads
and tasks and never leaks to another call). A cache middleware that runs inside it *follows* that RAG middleware;
from the next model call on, the RAG middleware asks each follower for its lookup before retrieving. A lookup
sent ahead is used only when the key the cache middleware computes for the request it actually receives is the
one the lookup was made for (same question, same exact identity, same scope), so a middleware in between that
changes the messages gets its own lookup, as before. A follower whose lookup went unused several times in a row
is dropped (and may
follow again): a few wasted server-side searches, never a wrong answer. Statistics count a lookup only when
it is used.

Only the hybrid search (the RAG middleware's default) is pipelined, and only when the store and the cache use the
same client (same URL and settings: the shared client of :mod:`redis_rag_integrations.clients`) on a server that
is not a cluster; anything else runs as before, one command after the other.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document

from .. import metrics
from ..cache.lookup_plan import LookupPlan
from .vectorstore import RedisVectorStoreRetriever

__all__ = ["Follower", "PipelinedRetriever", "Prefetched", "RagTurn", "current_turn"]

#: The keys of ``search_kwargs`` that the hybrid search takes (others are ignored, as ``hybrid_search`` does).
_HYBRID_ARGS = ("k", "filter", "alpha", "fetch_k", "fusion")
#: Followers one RAG middleware keeps (a cache middleware per agent sharing it; more is a misuse, not a leak).
_MAX_FOLLOWERS = 8
#: Model calls in a row whose lookup sent ahead went unused before a follower is no longer asked.
UNUSED_LIMIT = 4


@dataclass
class Prefetched:
    """A lookup sent ahead for one follower: the key it was made for, the question's vector and the plan."""

    follower: Any
    text: str
    identity: str
    vector: np.ndarray
    plan: LookupPlan
    embed_s: float = 0.0
    used: bool = False


class Follower(Protocol):
    """What a cache middleware offers the RAG middleware it follows (see :mod:`.agent_cache`)."""

    def prefetch(self, request: Any, base_prompt: str | None, config: str) -> Prefetched | None: ...

    async def aprefetch(self, request: Any, base_prompt: str | None, config: str) -> Prefetched | None: ...


@dataclass
class RagTurn:
    """One model call of a RAG middleware: its followers' lookups, sent ahead, and who ran inside it."""

    leader: Any
    prefetched: list[Prefetched] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)

    def take(self, follower: Any, text: str, identity: str) -> Prefetched | None:
        """The lookup sent ahead for ``follower`` if it was made for exactly this key (else ``None``: the
        follower looks up itself). Marks ``follower`` as having run inside this turn."""
        if not any(f is follower for f in self.seen):
            self.seen.append(follower)
        for found in self.prefetched:
            same = found.text == text and found.identity == identity
            if found.follower is follower and not found.used and found.plan.done and same:
                found.used = True
                return found
        return None

    def on_client(self, found: Sequence[Prefetched | None], client: Any) -> list[Prefetched]:
        """The lookups that can go in a pipeline on ``client``; followers whose cache uses another client (other
        URL or settings) become solo: they look up on their own from now on and are not asked again."""
        leader = self.leader
        out = []
        for p in found:
            if p is None:
                continue
            if p.plan.client is client:
                out.append(p)
                continue
            p.plan.unsent()
            if not any(s is p.follower for s in leader.solo):
                leader.solo = (*leader.solo, p.follower)[-_MAX_FOLLOWERS:]
                leader.followers = tuple(f for f in leader.followers if f is not p.follower)
        return out

    def close(self) -> None:
        """Followers whose lookup went unused :data:`UNUSED_LIMIT` times in a row stop being asked (a RAG
        middleware shared by agents with and without that cache); followers that ran without one start."""
        leader = self.leader
        streaks = leader.unused_streaks
        keep = list(leader.followers)
        for p in self.prefetched:
            if not p.used and p.plan.token is not None:  # a watch sent ahead for a lookup nobody took: end it
                p.plan.cache.unwatch_later(p.plan.token)
            streak = 0 if p.used else streaks.get(id(p.follower), 0) + 1
            streaks[id(p.follower)] = streak
            if streak >= UNUSED_LIMIT:
                keep = [f for f in keep if f is not p.follower]
                streaks.pop(id(p.follower), None)
        for follower in self.seen:
            known = any(f is follower for f in keep) or any(s is follower for s in leader.solo)
            if not known and len(keep) < _MAX_FOLLOWERS:
                keep.append(follower)
        leader.followers = tuple(keep)


_turn: contextvars.ContextVar[RagTurn | None] = contextvars.ContextVar("redis_rag_turn", default=None)


def current_turn() -> RagTurn | None:
    """The RAG middleware model call this code runs inside, if any."""
    return _turn.get()


def enter(turn: RagTurn) -> contextvars.Token[RagTurn | None]:
    return _turn.set(turn)


def leave(token: contextvars.Token[RagTurn | None]) -> None:
    _turn.reset(token)


def _pipelinable(plans: Sequence[Prefetched], client: Any) -> list[Prefetched]:
    return [p for p in plans if p.plan.client is client]


def _queued(pipe: Any, ahead: Sequence[Prefetched], plan: Any) -> Any:
    """The cache lookups first, then the hybrid search's two commands (:meth:`PipelinedRetriever._finish` reads the
    replies in that order)."""
    for p in ahead:
        for cmd in p.plan.commands:  # a follower's freshness watch (if it asked for one), then its lookup
            pipe.execute_command(*cmd)
    for cmd in plan.commands:
        pipe.execute_command(*cmd)
    return pipe


class PipelinedRetriever(RedisVectorStoreRetriever):
    """The RAG middleware's retriever: a hybrid search that carries the current turn's cache lookups in its
    pipeline when they use the same client. Other search types, clusters and other clients search as usual.
    LangChain's callbacks (tracing) see one retriever run either way."""

    def pipelines(self) -> bool:
        """Whether this retriever's searches can carry lookups (a hybrid search, not on a cluster): the RAG
        middleware asks its followers for nothing otherwise."""
        return self.search_type == "hybrid" and not self.vectorstore.index._cluster

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        turn = current_turn()
        store = self.vectorstore
        index = store.index
        if turn is None or kwargs or not self.pipelines():
            return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)
        ahead = _pipelinable(turn.prefetched, index.client)
        if not ahead:
            return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)
        args = {k: v for k, v in self.search_kwargs.items() if k in _HYBRID_ARGS}
        with metrics.timer("store.hybrid_search"):
            plan = index.hybrid_plan(query, store._embed_query(query), **args)
            pipe = _queued(index.client.pipeline(transaction=False), ahead, plan)
            started = time.perf_counter()
            replies = pipe.execute(raise_on_error=False)
            return self._finish(ahead, plan, replies, started)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        turn = current_turn()
        store = self.vectorstore
        index = store.index
        if turn is None or kwargs or not self.pipelines():
            return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
        client = index.async_client
        ahead = _pipelinable(turn.prefetched, client)
        if not ahead:
            return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
        args = {k: v for k, v in self.search_kwargs.items() if k in _HYBRID_ARGS}
        with metrics.timer("store.hybrid_search"):
            plan = index.hybrid_plan(query, await store._aembed_query(query), **args)
            pipe = _queued(client.pipeline(transaction=False), ahead, plan)
            started = time.perf_counter()
            replies = await pipe.execute(raise_on_error=False)
            return self._finish(ahead, plan, replies, started)

    def _finish(self, ahead: list[Prefetched], plan: Any, replies: list[Any], started: float) -> list[Document]:
        """The lookups get their replies (an error reply is that lookup's fault: a miss); a search error raises
        as the search alone would."""
        at = 0
        for p in ahead:
            n = len(p.plan.commands)
            p.plan.finish_all(replies[at : at + n], started)
            at += n
        searched = replies[at:]
        for reply in searched:
            if isinstance(reply, BaseException):
                raise reply
        hits = plan.finish(searched)
        return [self.vectorstore._document(h.record) for h in hits]
