"""What a semantic-cache entry is in Redis, and the commands that find, write and refresh one. No I/O here.

Why apart from :class:`~.semantic.SemanticCache`: the sync and the async methods of the cache build the same
schema, filters, queries and MULTI bodies; keeping them as plain functions means each is written once and the
cache class only decides *when* to talk to Redis (and what to do when Redis is down).

Keys, for a cache named ``{name}``: entries ``{name}:entry:{digest}`` (hashes; the index covers ``{name}:entry:``),
the eviction order ``{name}:order`` and the expiry order ``{name}:expiry`` (sorted sets, :mod:`.order`), and the
document links ``rag:deps:{doc_id}`` (:mod:`..freshness`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from redisvl.query import VectorRangeQuery
from redisvl.query.filter import FilterExpression, Tag
from redisvl.schema import IndexSchema

from .. import freshness
from .entry import decode_hit
from .gate import default_gate
from .options import UNSET
from .order import queue_order
from .scope import digest, llm_scope_tag, user_scope_tag

LLMScope = str | Mapping[str, Any] | None
UserScope = str | Mapping[str, Any] | None
RETURN_FIELDS = ["prompt", "response", "extra", "meta", "ttl"]
#: Same-scope neighbours within the threshold that the verifier may look at, closest first.
CANDIDATES = 4


def entry_prefix(name: str) -> str:
    return f"{name}:entry"


def entry_schema(name: str, dims: int, algorithm: str) -> IndexSchema:
    """The index of a cache: scope tags, the prompt hash (exact matching of long prompts) and the question vector."""
    return IndexSchema.from_dict(
        {
            "index": {"name": name, "prefix": f"{entry_prefix(name)}:", "storage_type": "hash"},
            "fields": [
                {"name": "llm", "type": "tag"},
                {"name": "scope", "type": "tag"},
                {"name": "prompt_hash", "type": "tag"},
                {
                    "name": "vector",
                    "type": "vector",
                    "attrs": {"dims": dims, "distance_metric": "cosine", "algorithm": algorithm, "datatype": "float32"},
                },
            ],
        }
    )


def lookup_query(
    prompt: str, vector: np.ndarray, llm: LLMScope, scope: UserScope, threshold: float, max_semantic_chars: int,
    candidates: int,
) -> VectorRangeQuery:  # fmt: skip
    """The range query of a lookup: the scopes are a prefilter (the nearest neighbour is chosen among same-scope
    entries only), and a prompt longer than ``max_semantic_chars`` must also match by hash."""
    expr = (Tag("llm") == llm_scope_tag(llm)) & (Tag("scope") == user_scope_tag(scope))
    if len(prompt) > max_semantic_chars:
        expr = expr & (Tag("prompt_hash") == digest(prompt))
    return VectorRangeQuery(
        vector=vector.astype(np.float32).tobytes(),
        vector_field_name="vector",
        return_fields=RETURN_FIELDS,
        filter_expression=expr,
        distance_threshold=threshold,
        num_results=candidates,
        return_score=True,
    )


def scope_filter(llm: LLMScope | object, scope: UserScope | object) -> FilterExpression:
    """The entries of an LLM scope and/or a user scope (``UNSET`` leaves one out), for ``invalidate``."""
    if llm is UNSET and scope is UNSET:
        raise ValueError("invalidate() needs llm=... and/or scope=...; use clear() to drop everything")
    parts = []
    if llm is not UNSET:
        parts.append(Tag("llm") == llm_scope_tag(llm))  # type: ignore[arg-type]
    if scope is not UNSET:
        parts.append(Tag("scope") == user_scope_tag(scope))  # type: ignore[arg-type]
    expr = parts[0]
    for part in parts[1:]:
        expr = expr & part
    return expr


def entry_mapping(
    prompt: str, response: str, vector: np.ndarray, llm: LLMScope, scope: UserScope, payload: str | None, meta: str,
    ttl: int | None,
) -> dict[str, Any]:  # fmt: skip
    """The hash fields of one entry."""
    return {
        "prompt": prompt,
        "response": response,
        "extra": payload or "",  # "payload" is a reserved name in redis-py's search Document
        "meta": meta,
        "llm": llm_scope_tag(llm),
        "scope": user_scope_tag(scope),
        "prompt_hash": digest(prompt),
        "vector": vector.astype(np.float32).tobytes(),
        "created_at": repr(time.time()),
        "ttl": "" if ttl is None else str(ttl),
    }


def queue_store(
    pipe: Any, name: str, key: str, mapping: Mapping[str, Any], entry_ttl: int | None, ids: Sequence[str],
    since: int | None, max_entries: int | None,
) -> None:  # fmt: skip
    """One MULTI: replace the entry, link it to its sources, (with a watch token) read their change stamps (see
    :mod:`redis_rag_integrations.freshness`), then list it in the eviction order, which also forgets expired
    entries and evicts beyond ``max_entries`` (see :mod:`.order`)."""
    pipe.delete(key)
    pipe.hset(key, mapping=mapping)
    if entry_ttl is not None:
        pipe.expire(key, entry_ttl)
    freshness.queue_links(pipe, key, ids, entry_ttl)
    if since is not None:
        freshness.queue_stamp_reads(pipe, since, ids, freshness.keys_of(key))  # the entry's tenant's stamps
    queue_order(pipe, order_key(name), expiry_key(name), key, entry_ttl, max_entries)


def store_outcome(results: list[Any], ids: Sequence[str], since: int | None) -> tuple[int, bool]:
    """(entries evicted, whether a source changed while the answer was generated) from :func:`queue_store`'s replies."""
    evicted = int(results[-1][1])
    stamps = results[-2 - len(ids) : -2] if since is not None else []
    return evicted, since is not None and freshness.stale(since, stamps)


def queue_refresh(pipe: Any, row: Mapping[str, Any]) -> None:
    """Extend a hit entry's TTL and its document links with it (links that expired first would let a document
    change miss the entry)."""
    ttl = int(row["ttl"])
    key = str(row["id"])
    pipe.expire(key, ttl)
    freshness.queue_links(pipe, key, list(dict.fromkeys(s.id for s in decode_hit(row).sources)), ttl)


def order_key(name: str) -> str:
    """Sorted set of live entry keys by insertion time: the eviction order for ``max_entries``."""
    return f"{name}:order"


def expiry_key(name: str) -> str:
    """Sorted set of TTL'd entry keys by expiry time, so expired ones leave the order (see :mod:`.order`)."""
    return f"{name}:expiry"


def pick(rows: Sequence[Mapping[str, Any]], prompt: str, verify: bool) -> tuple[Mapping[str, Any] | None, int]:
    """The candidate the verifier chooses for ``prompt`` (rows come sorted by distance; :meth:`.gate.Gate.choose`),
    and how many closer ones it rejected: the one choice behind :meth:`.semantic.SemanticCache.check` and a planned
    lookup (:mod:`.lookup_plan`), which count the rejections when and where each counts its lookup."""
    if not rows or not verify:
        return (rows[0] if rows else None), 0
    candidates = [(_text(row.get("prompt", "")), float(row.get("vector_distance", 0.0))) for row in rows]
    chosen = default_gate().choose(prompt, candidates)
    return (None, len(rows)) if chosen is None else (rows[chosen], chosen)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
