"""A semantic-cache lookup as one command and a finisher, so a caller can send it in its own pipeline.

Why: an agent model call behind the RAG middleware used to pay one round trip for retrieval and another for the
cache lookup, although both only need the question and its vector. With :func:`plan_lookup` the caller queues the
lookup's ``FT.SEARCH`` beside its own commands (one write, one read) and hands the reply to
:meth:`LookupPlan.finish`, which applies exactly what :meth:`~.semantic.SemanticCache.check` applies: the same range
query (scopes as a prefilter, the long-prompt hash; :func:`.semantic_entries.lookup_query` builds it through redisvl,
which costs more than the search's Python side: here the command is written directly), the same rows (decoded as
redis-py decodes them for ``SearchIndex.query``), the near-miss verifier, ``refresh_on_hit``, and "a Redis fault is a
miss". ``tests/cache/test_lookup_plan.py`` holds the two to the same answers.

Statistics are recorded only when the caller says the lookup was used (:meth:`LookupPlan.record`): a lookup sent
ahead for a model call that then took another path must not count as a hit or a miss.

``watch=True`` also queues the freshness watch (:func:`redis_rag_integrations.freshness.watch`) *before* the lookup
and whatever the caller sends after it: a miss whose answer will be linked to the documents the caller retrieves
in the same pipeline then needs no round trip of its own for the token, and the token predates the retrieval (a
document changed after the search read it is stamped, and the stored answer dropped as stale). Whoever takes a
token ends it: stored with the answer, or :meth:`~.semantic.SemanticCache.unwatch_later` (a hit, an unused plan).
Before planning, a pending write-behind of the same entry is waited for (read-your-writes).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import freshness, metrics
from ..connection import is_cluster
from .entry import CacheHit, decode_hit
from .guard import REDIS_FAULTS, check_prompt
from .scope import digest, llm_scope_tag, user_scope_tag
from .semantic_entries import CANDIDATES, RETURN_FIELDS, LLMScope, UserScope, pick, queue_refresh

if TYPE_CHECKING:
    from .semantic import SemanticCache

__all__ = ["LookupPlan", "alookup", "aplan_lookup", "lookup", "plan_lookup"]


class LookupPlan:
    """One lookup of ``cache``: :attr:`command` to send on :attr:`client`, then :meth:`finish` with its reply."""

    __slots__ = (
        "_rejected", "_row", "cache", "client", "command", "done", "hit", "ok", "prompt", "search_s", "token",
        "watch_command",
    )  # fmt: skip

    def __init__(
        self, cache: SemanticCache, client: Any, prompt: str, command: tuple[Any, ...],
        watch_command: tuple[Any, ...] | None = None,
    ) -> None:  # fmt: skip
        self.cache = cache
        self.client = client
        self.prompt = prompt
        self.command = command
        #: The freshness watch to queue before :attr:`command` (``None``: not asked for), and its token once read.
        self.watch_command = watch_command
        self.token: int | None = None
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
        try:
            rows = _rows(reply)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:  # not a search reply: a fault
            return self.failed(exc)
        self._row, self._rejected = pick(rows, self.prompt, self.cache.verify)  # counted when used (record)
        self.hit = decode_hit(self._row) if self._row is not None else None
        self.search_s = time.perf_counter() - started
        self.ok = True
        return self.hit

    def unsent(self) -> None:
        """This plan will not be sent: the watches its watch was to end go back to the cache."""
        if self.watch_command is not None:
            for token in self.watch_command[6:]:  # after EVAL, script, 2, clock, in-flight set, lifetime
                self.cache.unwatch_later(int(token))

    @property
    def commands(self) -> list[tuple[Any, ...]]:
        """What to queue, in order: the watch (when asked for), then the lookup; :meth:`finish_all` takes their
        replies in the same order."""
        return [self.command] if self.watch_command is None else [self.watch_command, self.command]

    def finish_all(self, replies: list[Any], started: float) -> CacheHit | None:
        """The replies of :attr:`commands`: the watch's token (a fault there: no token, recorded as the cache
        records a fault; the caller watches on its own if it needs one), then :meth:`finish`."""
        if self.watch_command is not None:
            token = replies[0]
            if isinstance(token, BaseException):
                self.failed(token)
            else:
                self.token = int(token)
        return self.finish(replies[-1], started)

    def failed(self, exc: BaseException) -> None:
        """A fault of the pipeline the lookup went in: the cache's guard and stats learn it; the lookup missed."""
        if isinstance(exc, REDIS_FAULTS):
            self.cache._fault("lookup", exc)
        return None

    def _refresh_pipe(self) -> Any:
        """The pipeline that refreshes a hit's TTL when the cache does that, else ``None``."""
        if self._row is None or not self.cache.refresh_on_hit or not self._row.get("ttl"):
            return None
        pipe = self.client.pipeline(transaction=False)
        queue_refresh(pipe, self._row)
        return pipe

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
        try:
            if (pipe := self._refresh_pipe()) is not None:
                pipe.execute()
        except REDIS_FAULTS as exc:
            self.cache._fault("lookup", exc)
            return None
        return self._counted(embed_s)

    async def arecord(self, embed_s: float = 0.0) -> CacheHit | None:
        """Async :meth:`record` (the plan was made on the cache's asyncio client)."""
        if not self.ok:
            return None
        try:
            if (pipe := self._refresh_pipe()) is not None:
                await pipe.execute()
        except REDIS_FAULTS as exc:
            self.cache._fault("lookup", exc)
            return None
        return self._counted(embed_s)


#: The range part of a lookup (the vector and the threshold are parameters), as redisvl's ``VectorRangeQuery``
#: writes it, and what the reply returns: the entry fields and the distance, closest first.
_RANGE = "@vector:[VECTOR_RANGE $distance_threshold $vector]=>{$YIELD_DISTANCE_AS: vector_distance}"
_TAIL = ("RETURN", len(RETURN_FIELDS) + 1, *RETURN_FIELDS, "vector_distance", "SORTBY", "vector_distance", "ASC")


def _command(cache: SemanticCache, prompt: str, llm: LLMScope, scope: UserScope, vector: Any) -> tuple[Any, ...]:
    """The ``FT.SEARCH`` of :func:`.semantic_entries.lookup_query`: the scopes as a prefilter, a prompt longer than
    ``max_semantic_chars`` also by its hash, at most ``CANDIDATES`` rows within the cache's threshold."""
    where = f"@llm:{{{llm_scope_tag(llm)}}} @scope:{{{user_scope_tag(scope)}}}"
    if len(prompt) > cache.max_semantic_chars:
        where += f" @prompt_hash:{{{digest(prompt)}}}"
    blob = cache._vector(vector).tobytes()
    limit = CANDIDATES if cache.verify else 1
    return ("FT.SEARCH", cache.name, f"{_RANGE} ({where})", *_TAIL, "DIALECT", 2, "LIMIT", 0, limit,
            "PARAMS", 4, "vector", blob, "distance_threshold", cache.distance_threshold)  # fmt: skip


def _text(value: Any) -> Any:
    return value.decode("utf-8", "ignore") if isinstance(value, bytes) else value


def _rows(reply: Any) -> list[dict[str, Any]]:
    """The rows of a lookup reply as ``SearchIndex.query`` gives them: ``id`` and each field, decoded as redis-py
    decodes them (UTF-8, undecodable bytes dropped); a row without its distance (a document that expired while the
    search ran) is left out, as redisvl leaves it out."""
    out = []
    if isinstance(reply, dict):  # RESP3
        for r in reply.get(b"results", reply.get("results")) or []:
            attrs = r.get(b"extra_attributes", r.get("extra_attributes")) or {}
            row = {_text(k): _text(v) for k, v in attrs.items()}
            row["id"] = _text(r.get(b"id", r.get("id")))
            out.append(row)
    else:  # RESP2: [total, key, [field, value, ...], ...]
        for i in range(1, len(reply), 2):
            flat = reply[i + 1] or []
            row = {_text(flat[j]): _text(flat[j + 1]) for j in range(0, len(flat) - 1, 2)}
            row["id"] = _text(reply[i])
            out.append(row)
    return [row for row in out if "vector_distance" in row]


def _checked(cache: SemanticCache, prompt: str) -> bool:
    check_prompt(prompt, cache.max_prompt_bytes)
    return cache.guard.available()


def _watch(cache: SemanticCache) -> tuple[Any, ...]:
    """The watch, which also ends the watches the cache kept to end (a hit's: no command of their own)."""
    return freshness.watch_command(cache._fresh, cache._writes.take_ended())


def plan_lookup(
    cache: SemanticCache, prompt: str, *, llm: LLMScope = None, scope: UserScope = None, vector: Any,
    watch: bool = False,
) -> LookupPlan | None:  # fmt: skip
    """The lookup :meth:`~.semantic.SemanticCache.check` would run for ``prompt`` with ``vector``, as a plan on
    the cache's synchronous client (:attr:`LookupPlan.client`: pipeline it only with commands for that client).

    ``None`` when no plan can be made now (Redis marked down, or reaching it failed): the caller then lets
    ``check`` run as usual, which counts the skip or the fault once. Bad input raises as ``check`` does
    (:class:`~.guard.CacheInputError`).
    """
    if not _checked(cache, prompt):
        return None
    command = _command(cache, prompt, llm, scope, vector)
    cache.settle(prompt, llm, scope)
    try:
        client, _ = cache._sync_index()
    except REDIS_FAULTS:
        return None
    return LookupPlan(cache, client, prompt, command, _watch(cache) if watch else None)


async def aplan_lookup(
    cache: SemanticCache, prompt: str, *, llm: LLMScope = None, scope: UserScope = None, vector: Any,
    watch: bool = False,
) -> LookupPlan | None:  # fmt: skip
    """Async :func:`plan_lookup`: the plan is on the running loop's client of the cache."""
    if not _checked(cache, prompt):
        return None
    command = _command(cache, prompt, llm, scope, vector)
    await cache.asettle(prompt, llm, scope)
    try:
        client, _ = await cache._async_index()
    except REDIS_FAULTS:
        return None
    return LookupPlan(cache, client, prompt, command, _watch(cache) if watch else None)


def lookup(
    cache: SemanticCache, prompt: str, *, llm: LLMScope = None, scope: UserScope = None, vector: Any,
    embed_s: float = 0.0,
) -> CacheHit | None:  # fmt: skip
    """:meth:`~.semantic.SemanticCache.check` for a caller that has the vector, as its plan sent alone: the same
    answer (``tests/cache/test_lookup_plan.py``) without building and parsing redisvl query objects, which cost more
    than the search's own Python side. Falls back to ``check`` when no plan can be made and on a cluster (where the
    search must go to the index's node)."""
    plan = plan_lookup(cache, prompt, llm=llm, scope=scope, vector=vector)
    if plan is None or is_cluster(plan.client):
        return cache.check(prompt, llm=llm, scope=scope, vector=vector)
    with metrics.timer("cache.semantic.lookup"):  # as check() is timed
        started = time.perf_counter()
        try:
            reply = plan.client.execute_command(*plan.command)
        except REDIS_FAULTS as exc:
            reply = exc
        plan.finish(reply, started)
        return plan.record(embed_s)


async def alookup(
    cache: SemanticCache, prompt: str, *, llm: LLMScope = None, scope: UserScope = None, vector: Any,
    embed_s: float = 0.0,
) -> CacheHit | None:  # fmt: skip
    """Async :func:`lookup`."""
    plan = await aplan_lookup(cache, prompt, llm=llm, scope=scope, vector=vector)
    if plan is None or is_cluster(plan.client):
        return await cache.acheck(prompt, llm=llm, scope=scope, vector=vector)
    with metrics.timer("cache.semantic.lookup"):
        started = time.perf_counter()
        try:
            reply = await plan.client.execute_command(*plan.command)
        except REDIS_FAULTS as exc:
            reply = exc
        plan.finish(reply, started)
        return await plan.arecord(embed_s)
