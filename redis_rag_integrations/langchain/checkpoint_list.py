"""Exact ``list()`` / ``alist()`` for the Redis checkpointers: what LangGraph's ``InMemorySaver`` returns for the
same calls, on the index and the key layout of ``langgraph-checkpoint-redis`` (0.5.2).

Why: the library's list() selects a thread's checkpoints with TAG equality, and a TAG field is split on ``,``,
trimmed and case-insensitive. So ``get_state_history`` of ``user-1`` also showed ``USER-1``'s and ``user-1,x``'s
checkpoints, a thread id holding ``,`` or only spaces had an empty history, the namespace ``""`` (the root graph)
matched every namespace and ``sub`` matched ``Sub``. ``before`` was read as a ULID (LangGraph's ids are uuid6) and
silently dropped, and a metadata filter key other than four indexed ones raised a bare ``ValueError``. Its list()
also loads each checkpoint's pending writes and sends with the same TAG queries, so a thread id with a tab made it
fail with a query syntax error (for every thread whose candidates included that one) and one with a ``,`` lost its
pending writes. Post-filtering its answer is therefore not enough.

How: one light search on the library's checkpoint index selects candidates (thread, namespace, id and metadata
only, newest first, paged) with a :func:`tag_probe` per value: one comma-free, trimmed part of it that the TAG
query matches, so the answer is a superset of the exact one (a value made of separators and spaces gives none, and
that field is not narrowed). Every candidate is checked exactly here (thread, namespace, checkpoint id, ``before``
as ``InMemorySaver`` compares it: ``checkpoint_id < before``, which is time order for LangGraph's uuid6 ids, fixed
length lowercase hex with the timestamp first, and every ``filter`` key against the checkpoint's metadata), and
``limit`` is applied last, so a limit never returns fewer than ``InMemorySaver``. The checkpoints chosen are then
read by the library itself: with its own list() (batched: one search, one query per thread and namespace for
pending writes and sends) when :meth:`ListPlan.batch` shows that is exact (plain values, the usual case; also for
``list(None)``, every thread), else one by one with the saver's ``get_tuple`` (direct keys and the write registry,
pending writes included whatever the checkpoint's ``has_writes`` flag says, :func:`registry_writes`: exact for any
id, but up to seven round trips per checkpoint). :class:`ListPlan` does no I/O, so the sync and the async saver
run the same logic with a short loop each.

Order: newest first by checkpoint id (``InMemorySaver`` groups by namespace in insertion order when no namespace is
given; Redis does not know that order, so across namespaces the order is by id only). Cost: one light search per
1,000 candidates before the library's reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, PendingWrite, get_checkpoint_id
from langgraph.checkpoint.redis.base import BaseRedisSaver
from langgraph.checkpoint.redis.key_registry import CheckpointKeyRegistry
from langgraph.checkpoint.redis.util import (
    from_storage_safe_id,
    from_storage_safe_str,
    to_storage_safe_id,
    to_storage_safe_str,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression, Tag

__all__ = ["ListPlan", "plain_thread", "registry_writes", "tag_probe", "thread_keys", "writes_registry"]

#: What RediSearch trims around each TAG value (C ``isspace``); other spaces (U+00A0, U+3000) stay in the tag.
_TAG_TRIM = " \t\n\r\v\f"

#: Candidates per search page (a page with a small ``limit`` starts smaller).
_PAGE = 1000

_FIELDS = ["thread_id", "checkpoint_ns", "checkpoint_id", "$.metadata"]


def _probe_safe(part: str) -> bool:
    """A trimmed part the library's escaped TAG query matches: no control characters (``\\x00`` is a syntax error,
    ``\\x01`` / ``\\x7f`` never match) and no backtick (not escaped by redisvl)."""
    return all(ord(c) >= 32 and c not in "\x7f`" for c in part)


def tag_probe(value: str) -> str | None:
    """A value whose TAG equality query (as the library sends it) matches every document whose field is exactly
    ``value`` (the stored form: the library's empty-string sentinels already applied), or None when there is none.

    The stored value is split on ``,`` and each part trimmed; the query value is matched against those parts
    (ASCII case-insensitively). A NUL ends the indexed value (nothing after it is indexed). The longest usable
    part narrows most."""
    parts = [p.strip(_TAG_TRIM) for p in value.split("\x00", 1)[0].split(",")]
    usable = [p for p in parts if p and _probe_safe(p)]
    return max(usable, key=len) if usable else None


def _plain(value: str) -> bool:
    """A stored value its TAG equality query matches as itself (up to ASCII case): a single usable part."""
    return tag_probe(value) == value


_Key = tuple[str, str, str]


class ListPlan:
    """One ``list()`` call: the candidate searches to send, the exact checks, when to stop, what to read (no I/O).

    Drive it with ``while not plan.done``: search ``plan.query()``, read the documents of ``plan.unreadable(docs)``
    by key, ``plan.take(docs, those)``. Then, if ``plan.batch()`` gives arguments, ``plan.pick(<the library's
    list(**batch)>)``; return ``plan.selected()``, reading with ``get_tuple`` each one that has no tuple."""

    def __init__(
        self,
        config: RunnableConfig | None,
        filter: Mapping[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> None:
        configurable: Mapping[str, Any] = (config or {}).get("configurable") or {}
        if config and "thread_id" not in configurable:
            raise ValueError(
                "list() needs config['configurable']['thread_id'] (or config=None to list every thread's checkpoints)"
            )
        self._thread: str | None = str(configurable["thread_id"]) if config else None
        self._ns: str | None = configurable.get("checkpoint_ns") if config else None
        self._checkpoint_id: str | None = (get_checkpoint_id(config) or None) if config else None
        self._before: str | None = (get_checkpoint_id(before) or None) if before else None
        self._filter: dict[str, Any] = dict(filter or {})
        self._limit = limit
        self._kept: dict[_Key, None] = {}  # (thread, ns, id), in the order found; a dict dedupes pages
        self._seen: dict[_Key, int] = {}  # every candidate -> its position in the search's order
        self._loaded: dict[_Key, CheckpointTuple] = {}
        self._offset = 0
        self._page = _PAGE if limit is None else min(_PAGE, max(4, 2 * limit))
        self.done = limit is not None and limit <= 0  # InMemorySaver returns nothing for a limit <= 0

    def _narrowing(self) -> FilterExpression | str:
        """TAG clauses that keep every exact match: the clauses of the library's own list() query when the values
        are plain (see :meth:`batch`). ``run_id`` in the config is ignored, as by ``InMemorySaver``; a metadata
        ``filter`` is checked on the candidates only."""
        clauses: list[FilterExpression] = []
        probes = [("thread_id", None if self._thread is None else to_storage_safe_id(self._thread))]
        probes.append(("checkpoint_ns", None if self._ns is None else to_storage_safe_str(self._ns)))
        probes.append(("checkpoint_id", self._checkpoint_id))
        for field, value in probes:
            probe = None if value is None else tag_probe(value)
            if probe is not None:
                clauses.append(Tag(field) == probe)
        if not clauses:
            return "*"
        combined = clauses[0]
        for clause in clauses[1:]:
            combined &= clause
        return combined

    def query(self) -> FilterQuery:
        """The next page of candidates, newest first."""
        query = FilterQuery(
            filter_expression=self._narrowing(),
            return_fields=_FIELDS,
            num_results=self._page,
            sort_by=("checkpoint_id", "DESC"),
        )
        query.paging(self._offset, self._page)
        return query

    def keep(self, thread: str, ns: str, checkpoint_id: str, metadata: Mapping[str, Any]) -> bool:
        """The exact checks of ``InMemorySaver.list``."""
        if self._thread is not None and thread != self._thread:
            return False
        if self._ns is not None and ns != self._ns:
            return False
        if self._checkpoint_id is not None and checkpoint_id != self._checkpoint_id:
            return False
        if self._before is not None and checkpoint_id >= self._before:
            return False
        return all(metadata.get(key) == value for key, value in self._filter.items())

    @staticmethod
    def unreadable(docs: Sequence[Any]) -> list[str]:
        """Keys of candidates the search returned without their fields (it does so for a document holding a NUL or
        another control character): the driver reads them with ``JSON.GET`` and passes them to :meth:`take`."""
        return [doc.id for doc in docs if any(field not in doc.__dict__ for field in _FIELDS)]

    def take(self, docs: Sequence[Any], stored: Sequence[Any] = ()) -> None:
        """Absorb one page of candidates (``stored``: the documents of :meth:`unreadable`, in order): done when the
        search had no more or the exact checks kept enough."""
        fetched = iter(stored)
        for doc in docs:
            fields = doc.__dict__
            if any(field not in fields for field in _FIELDS):
                document = next(fetched, None)
                if not isinstance(document, Mapping):
                    continue  # deleted since the search
                fields = {**document, "$.metadata": document.get("metadata")}
            metadata = fields.get("$.metadata") or "{}"
            metadata = json.loads(metadata) if isinstance(metadata, (str, bytes)) else metadata
            found = (
                from_storage_safe_id(fields["thread_id"]),
                from_storage_safe_str(fields["checkpoint_ns"]),
                from_storage_safe_id(fields["checkpoint_id"]),
            )
            self._seen.setdefault(found, len(self._seen))
            if self.keep(*found, metadata if isinstance(metadata, Mapping) else {}):
                self._kept[found] = None
        self._offset += self._page
        enough = self._limit is not None and len(self._kept) >= self._limit
        self.done = len(docs) < self._page or enough
        self._page = _PAGE

    def chosen(self) -> list[_Key]:
        """(thread, namespace, checkpoint id) of the checkpoints to return, newest first, ``limit`` applied."""
        return sorted(self._kept, key=lambda found: found[2], reverse=True)[: self._limit]

    def batch(self) -> dict[str, Any] | None:
        """Arguments for the library's own list() that load the chosen checkpoints in a few batched queries, when
        that is exact; else None (each is read with ``get_tuple``: one to seven round trips apiece).

        Exact when the thread (and namespace, checkpoint id) asked for are plain TAG values (:func:`_plain`) or not
        given (``list(None)``: every thread), so the library's query is the candidate search's and ``limit`` = the
        last chosen candidate's position + 1 gives the same candidates; when every one of those is plain too (the
        library reads each candidate's pending writes and sends with TAG queries of its own: a tab there is a
        syntax error, a ',' loses them); and when no two of them share a checkpoint id (it groups the writes it
        reads by id). Its list() reads pending writes whatever a checkpoint's ``has_writes`` flag says."""
        chosen = self.chosen()
        if not chosen:
            return None
        asked = [None if self._thread is None else to_storage_safe_id(self._thread), self._checkpoint_id]
        asked.append(None if self._ns is None else to_storage_safe_str(self._ns))
        if not all(value is None or _plain(value) for value in asked):
            return None
        candidates = [found for found, at in self._seen.items() if at <= max(self._seen[c] for c in chosen)]
        if not all(_plain(to_storage_safe_id(t)) and _plain(to_storage_safe_str(ns)) for t, ns, _ in candidates):
            return None
        if len({checkpoint_id for _, _, checkpoint_id in candidates}) < len(candidates):
            return None
        if self._thread is None:  # list(None): every thread, the library's "*" query is the candidate search's
            return {"config": None, "limit": len(candidates)}
        configurable: dict[str, Any] = {"thread_id": self._thread}
        if self._ns is not None:
            configurable["checkpoint_ns"] = to_storage_safe_str(self._ns)  # "" as the sentinel: the library skips ""
        if self._checkpoint_id is not None:
            configurable["checkpoint_id"] = self._checkpoint_id
        return {"config": {"configurable": configurable}, "limit": len(candidates)}

    def pick(self, loaded: Iterable[CheckpointTuple]) -> None:
        """Keep what :meth:`batch`'s list() loaded for the chosen checkpoints (the rest are other candidates)."""
        chosen = set(self.chosen())
        for found in loaded:
            conf = found.config["configurable"]
            key = (str(conf["thread_id"]), conf.get("checkpoint_ns", ""), conf["checkpoint_id"])
            if key in chosen:
                self._loaded[key] = found

    def selected(self) -> list[tuple[RunnableConfig, CheckpointTuple | None]]:
        """The checkpoints to return, newest first, ``limit`` applied: each with its tuple if :meth:`pick` has it,
        else None (read it with the saver's ``get_tuple``)."""
        return [
            ({"configurable": {"thread_id": t, "checkpoint_ns": ns, "checkpoint_id": i}}, self._loaded.get((t, ns, i)))
            for t, ns, i in self.chosen()
        ]


def plain_thread(thread_id: Any) -> bool:
    """Whether the library's own TAG query for this thread id finds its checkpoints (then its delete_thread works)."""
    return _plain(to_storage_safe_id(str(thread_id)))


def thread_keys(saver: Any, chosen: Iterable[_Key]) -> tuple[list[str], list[str]]:
    """For ``delete_thread``: the keys of the ``chosen`` checkpoints (a :class:`ListPlan` over the whole thread) and
    of their namespaces' latest-checkpoint pointers, and the library's registry sorted sets that list each one's
    writes (the driver deletes those, and the keys they hold). Built by the library's own key functions."""
    chosen = list(chosen)
    keys = [saver._make_redis_checkpoint_key(t, ns, i) for t, ns, i in chosen]
    keys.extend(
        saver._make_redis_checkpoint_latest_key(t, ns) for t, ns in dict.fromkeys((t, ns) for t, ns, _ in chosen)
    )
    registries = [CheckpointKeyRegistry.make_write_keys_zset_key(t, ns, i) for t, ns, i in chosen]
    return keys, registries


def writes_registry(config: RunnableConfig) -> str:
    """The library's sorted set of one checkpoint's pending-write keys (its ``put_writes`` registers every write
    there, whatever the checkpoint document's ``has_writes`` flag ended up as)."""
    conf = config["configurable"]
    thread, ns, checkpoint_id = str(conf["thread_id"]), conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
    return CheckpointKeyRegistry.make_write_keys_zset_key(thread, ns, checkpoint_id)


def registry_writes(serde: SerializerProtocol, documents: Iterable[Any]) -> list[PendingWrite]:
    """The pending writes of one checkpoint from the write documents its :func:`writes_registry` lists (read in
    the registry's order; a write deleted since is skipped), decoded as the library decodes them. The sync and the
    async saver both fill ``pending_writes`` with this when the library's read left them out: its sync
    ``get_tuple`` skips them when the checkpoint's ``has_writes`` flag is false, which a put() of the same
    checkpoint after its put_writes() leaves (LangGraph runs both on background threads)."""
    writes: dict[tuple[str, str], Mapping[str, Any]] = {}
    for document in documents:
        if isinstance(document, Mapping):
            writes[(str(document.get("task_id", "")), str(document.get("idx", 0)))] = document
    return BaseRedisSaver._load_writes(serde, writes)  # type: ignore[arg-type]
