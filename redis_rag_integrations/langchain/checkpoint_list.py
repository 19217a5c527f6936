"""Exact ``list()`` / ``alist()`` for the Redis checkpointers: what LangGraph's ``InMemorySaver`` returns for the
same calls, on top of the search query of ``langgraph-checkpoint-redis`` (0.5.2).

Why: that query selects a thread's checkpoints with TAG equality, and a TAG field is split on ``,``, trimmed and
case-insensitive. So ``get_state_history`` of ``user-1`` also showed ``USER-1``'s and ``user-1,x``'s checkpoints,
a thread id holding ``,`` or only spaces had an empty history, the namespace ``""`` (the root graph) matched every
namespace and ``sub`` matched ``Sub``. ``before`` was read as a ULID (LangGraph's ids are uuid6) and silently
dropped, and a metadata filter key other than four indexed ones raised a bare ``ValueError``.

How: the library's query stays, as a *narrowing* step that must return a superset of the exact answer (a
:func:`tag_probe` per value: one comma-free, trimmed part of it that the TAG query matches; none for a value made
of separators and spaces, then that field is not narrowed). Every candidate is then checked exactly here (thread,
namespace, checkpoint id, ``before`` as ``InMemorySaver`` compares it: ``checkpoint_id < before``, which is time
order for LangGraph's uuid6 ids, and every ``filter`` key against the checkpoint's metadata), and ``limit`` is
applied last. Since the library applies its own limit before our checks, a :class:`ListPlan` asks for ``limit``
candidates and, while the checks leave fewer than ``limit`` and the library had more, asks again for four times as
many: never fewer results than ``InMemorySaver`` would give. The plan does no I/O, so the sync and the async saver
run the same logic with a three-line loop each.

Order: newest first by checkpoint id (``InMemorySaver`` groups by namespace in insertion order when no namespace is
given; Redis does not know that order, so across namespaces the order is by id only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_id
from langgraph.checkpoint.redis.util import to_storage_safe_id, to_storage_safe_str

__all__ = ["ListPlan", "tag_probe"]

#: What RediSearch trims around each TAG value (C ``isspace``); other spaces (U+00A0, U+3000) stay in the tag.
_TAG_TRIM = " \t\n\r\v\f"

#: The library's own page size when it is given no limit (``num_results=limit or 10000``).
_FIRST_PAGE = 10_000

#: How much a page grows when the exact checks left too few results.
_GROWTH = 4


def _probe_safe(part: str) -> bool:
    """A trimmed part the library's escaped TAG query matches: no control characters (``\\x00`` is a syntax error,
    ``\\x01`` / ``\\x7f`` never match) and no backtick (not escaped by redisvl)."""
    return all(ord(c) >= 32 and c not in "\x7f`" for c in part)


def tag_probe(value: str) -> str | None:
    """A value whose TAG equality query (as the library sends it) matches every document whose field is exactly
    ``value`` (the stored form: the library's empty-string sentinels already applied), or None when there is none.

    The stored value is split on ``,`` and each part trimmed; the query value is matched against those parts
    (ASCII case-insensitively). The longest usable part narrows most."""
    parts = [p.strip(_TAG_TRIM) for p in value.split(",")]
    usable = [p for p in parts if p and _probe_safe(p)]
    return max(usable, key=len) if usable else None


class ListPlan:
    """One ``list()`` call: the narrowing query to send, the exact checks, and when to stop asking (no I/O).

    Drive it with ``while not plan.done: plan.take(<the library's list(**plan.query())>)``, then read
    ``plan.found``."""

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
        self.found: list[CheckpointTuple] = []
        self.done = limit is not None and limit <= 0  # InMemorySaver returns nothing for a limit <= 0
        self.fetch = limit if limit is not None and limit > 0 else _FIRST_PAGE

    def query(self) -> dict[str, Any]:
        """The arguments of the library's list() (``config``, ``filter``, ``limit``): each narrows only where its
        TAG or numeric query keeps every exact match (the rest is left to :meth:`keep`; ``before`` and ``run_id``
        are never passed)."""
        narrow_filter: dict[str, Any] = {}
        source = self._filter.get("source")
        if isinstance(source, str) and tag_probe(source) == source:
            narrow_filter["source"] = source
        step = self._filter.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            narrow_filter["step"] = step
        thread = tag_probe(to_storage_safe_id(self._thread)) if self._thread is not None else None
        if thread is None:
            return {"config": None, "filter": narrow_filter or None, "limit": self.fetch}
        configurable: dict[str, Any] = {"thread_id": thread}
        if self._ns is not None and (ns := tag_probe(to_storage_safe_str(self._ns))) is not None:
            configurable["checkpoint_ns"] = ns
        if self._checkpoint_id is not None and (cid := tag_probe(to_storage_safe_id(self._checkpoint_id))):
            configurable["checkpoint_id"] = cid
        return {"config": {"configurable": configurable}, "filter": narrow_filter or None, "limit": self.fetch}

    def keep(self, found: CheckpointTuple) -> bool:
        """The exact checks of ``InMemorySaver.list``."""
        configurable = found.config["configurable"]
        checkpoint_id = configurable["checkpoint_id"]
        if self._thread is not None and str(configurable["thread_id"]) != self._thread:
            return False
        if self._ns is not None and configurable.get("checkpoint_ns", "") != self._ns:
            return False
        if self._checkpoint_id is not None and checkpoint_id != self._checkpoint_id:
            return False
        if self._before is not None and checkpoint_id >= self._before:
            return False
        metadata = found.metadata or {}
        return all(metadata.get(key) == value for key, value in self._filter.items())

    def take(self, batch: list[CheckpointTuple]) -> None:
        """Absorb one answer of the library's list() for ``limit=self.fetch``: done when it had no more to give or
        the exact checks kept enough, else ask again for more."""
        kept = [c for c in batch if self.keep(c)]
        kept.sort(key=lambda c: c.config["configurable"]["checkpoint_id"], reverse=True)
        exhausted = len(batch) < self.fetch
        if exhausted or (self._limit is not None and len(kept) >= self._limit):
            self.found = kept if self._limit is None else kept[: self._limit]
            self.done = True
        else:
            self.fetch *= _GROWTH
