"""A semantic-cache lookup as one command and a finisher, so a caller can send it in its own pipeline.

Why: an agent model call behind the RAG middleware used to pay one round trip for retrieval and another for the
cache lookup, although both only need the question and its vector. With :func:`plan_lookup` the caller queues the
lookup's ``FT.SEARCH`` beside its own commands (one write, one read) and hands the reply to
:meth:`LookupPlan.finish`, which applies exactly what :meth:`~.semantic.SemanticCache.check` applies: the same range
query (scopes as a prefilter, the long-prompt hash), the same rows (parsed by redis-py and redisvl as
``SearchIndex.query`` parses them), the near-miss verifier, ``refresh_on_hit``, and "a Redis fault is a miss".

Statistics are recorded only when the caller says the lookup was used (:meth:`LookupPlan.record`): a lookup sent
ahead for a model call that then took another path must not count as a hit or a miss.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.commands.search.result import Result
from redisvl.index.index import process_results

from .entry import CacheHit, decode_hit
from .gate import accepts
from .guard import REDIS_FAULTS, check_prompt
from .semantic_entries import LLMScope, UserScope, queue_refresh

if TYPE_CHECKING:
    from .semantic import SemanticCache

__all__ = ["LookupPlan", "aplan_lookup", "plan_lookup"]


class LookupPlan:
    """One lookup of ``cache``: :attr:`command` to send on :attr:`client`, then :meth:`finish` with its reply."""

    __slots__ = ("_query", "_rejected", "_row", "cache", "client", "command", "done", "hit", "ok", "prompt", "search_s")

    def __init__(self, cache: SemanticCache, client: Any, prompt: str, query: Any) -> None:
        self.cache = cache
        self.client = client
        self.prompt = prompt
        self._query = query
        params = query.params or {}
        pairs = itertools.chain.from_iterable(params.items())
        tail = ("PARAMS", 2 * len(params), *pairs) if params else ()
        self.command: tuple[Any, ...] = ("FT.SEARCH", cache.name, *query.get_args(), *tail)
        self.hit: CacheHit | None = None
        #: Whether :meth:`finish` got a search reply (``False``: not finished yet, or a fault: a miss, not counted).
        self.ok = False
        #: Whether :meth:`finish` ran (a reply or a fault: either way the lookup happened).
        self.done = False
        self.search_s = 0.0
        self._row: dict[str, Any] | None = None
        self._rejected = 0

    def finish(self, reply: Any, started: float) -> CacheHit | None:
        """The hit ``reply`` holds (``None`` for a miss); an exception object in its place (a pipeline run with
        ``raise_on_error=False``) is a Redis fault: recorded as the cache records one, and a miss."""
        self.done = True
        if isinstance(reply, BaseException):
            return self.failed(reply)
        cache = self.cache
        try:
            if isinstance(reply, dict):  # RESP3
                parsed = Result.from_resp3(
                    reply, duration=0, with_scores=self._query._with_scores,
                    field_encodings=self._query._return_fields_decode_as,
                )  # fmt: skip
            else:
                parsed = Result(
                    reply, not self._query._no_content, duration=0, has_payload=self._query._with_payloads,
                    with_scores=self._query._with_scores, field_encodings=self._query._return_fields_decode_as,
                )  # fmt: skip
            rows = process_results(parsed, query=self._query, schema=cache.schema())
        except (ValueError, TypeError, IndexError, KeyError) as exc:  # not a search reply: treated as a fault
            return self.failed(exc)
        self._row = self._pick(rows)
        self.hit = decode_hit(self._row) if self._row is not None else None
        self.search_s = time.perf_counter() - started
        self.ok = True
        return self.hit

    def _pick(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        """:meth:`~.semantic.SemanticCache._pick` without its counting (that waits for :meth:`record`)."""
        for row in rows:
            cached = row.get("prompt", "")
            cached = cached.decode("utf-8") if isinstance(cached, bytes) else str(cached)
            if not self.cache.verify or accepts(cached, self.prompt, float(row.get("vector_distance", 0.0))):
                return row
            self._rejected += 1
        return None

    def failed(self, exc: BaseException) -> None:
        """A fault of the pipeline the lookup went in: the cache's guard and stats learn it; the lookup missed."""
        if isinstance(exc, REDIS_FAULTS):
            self.cache._fault("lookup", exc)
        return None

    def _refreshes(self) -> bool:
        return self._row is not None and self.cache.refresh_on_hit and bool(self._row.get("ttl"))

    def _counted(self, embed_s: float) -> CacheHit | None:
        cache = self.cache
        if self._rejected:
            cache.stats.count("rejected", self._rejected)
        cache.guard.succeeded()
        cache.stats.record_lookup(self.hit is not None, embed_s, self.search_s)
        return self.hit

    def record(self, embed_s: float = 0.0) -> CacheHit | None:
        """The lookup was used: count it (hit or miss, rejected candidates), refresh a hit's TTL when the cache
        does that, and return the hit (``None`` after a fault, which :meth:`finish` already recorded)."""
        if not self.ok:
            return None
        if self._refreshes():
            try:
                pipe = self.client.pipeline(transaction=False)
                queue_refresh(pipe, self._row)
                pipe.execute()
            except REDIS_FAULTS as exc:
                self.cache._fault("lookup", exc)
                return None
        return self._counted(embed_s)

    async def arecord(self, embed_s: float = 0.0) -> CacheHit | None:
        """Async :meth:`record` (the plan was made on the cache's asyncio client)."""
        if not self.ok:
            return None
        if self._refreshes():
            try:
                pipe = self.client.pipeline(transaction=False)
                queue_refresh(pipe, self._row)
                await pipe.execute()
            except REDIS_FAULTS as exc:
                self.cache._fault("lookup", exc)
                return None
        return self._counted(embed_s)


def _query(cache: SemanticCache, prompt: str, llm: LLMScope, scope: UserScope, vector: Any) -> Any | None:
    check_prompt(prompt, cache.max_prompt_bytes)
    if not cache.guard.available():
        return None
    return cache._query(prompt, cache._vector(vector), llm, scope, None)


def plan_lookup(
    cache: SemanticCache, prompt: str, *, llm: LLMScope = None, scope: UserScope = None, vector: Any
) -> LookupPlan | None:
    """The lookup :meth:`~.semantic.SemanticCache.check` would run for ``prompt`` with ``vector``, as a plan on
    the cache's synchronous client (:attr:`LookupPlan.client`: pipeline it only with commands for that client).

    ``None`` when no plan can be made now (Redis marked down, or reaching it failed): the caller then lets
    ``check`` run as usual, which counts the skip or the fault once. Bad input raises as ``check`` does
    (:class:`~.guard.CacheInputError`).
    """
    query = _query(cache, prompt, llm, scope, vector)
    if query is None:
        return None
    try:
        client, _ = cache._sync_index()
    except REDIS_FAULTS:
        return None
    return LookupPlan(cache, client, prompt, query)


async def aplan_lookup(
    cache: SemanticCache, prompt: str, *, llm: LLMScope = None, scope: UserScope = None, vector: Any
) -> LookupPlan | None:
    """Async :func:`plan_lookup`: the plan is on the running loop's client of the cache."""
    query = _query(cache, prompt, llm, scope, vector)
    if query is None:
        return None
    try:
        client, _ = await cache._async_index()
    except REDIS_FAULTS:
        return None
    return LookupPlan(cache, client, prompt, query)
