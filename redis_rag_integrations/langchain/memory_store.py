"""``RedisMemoryStore``: LangGraph's long-term memory (``BaseStore``) on Redis, exact namespaces, search by meaning.

Why not ``langgraph.store.redis.RedisStore`` (langgraph-checkpoint-redis 0.5.2): it keeps the namespace in a
**TEXT** field and finds items with word queries (``@prefix:users\\.u1*``). Text is tokenized, lower-cased, stemmed
and stop-worded, so on search 2.10.5 (measured, ``tests/agents/test_memory_store.py`` keeps the cases):
``get(("memories", "user-1"), k)`` and ``get(("users", "u1"), k)`` return ``None`` for items just written (the
escaped ``.`` / ``-`` phrase never matches), ``search(("the",))`` is empty (a stop word), and ``search(("user",))``
returns the items of ``("users",)`` and ``("Users",)`` (stemming, case, prefix match). Silently empty or another
namespace's memories: neither is acceptable for per-user memory.

Here every item is one Redis hash at ``{name}:item:{sha256(namespace, key)}``. Namespaces are matched by TAG
values that are hashes of the namespace *prefixes* (``path``: one per depth; ``ns``: the whole namespace), never
by words, so a namespace sees exactly its own items and those of namespaces under it; results are re-checked
against the stored namespace as well. Values are JSON. Semantic search embeds the configured fields of a value
(LangGraph's ``IndexConfig``: ``{"dims", "embed", "fields"}``, or our :class:`~redis_rag_integrations.embeddings.
Embedder`) into one vector per item (LangGraph's in-memory store keeps one per field and takes the best; one per
item keeps writes to one hash); a search by meaning also returns the items without a vector (``index=False``, or none
of the fields), after the others and with score ``None``, as the in-memory store does. TTLs are Redis expiries
(minutes, as LangGraph counts them), refreshed on read when the TTL config says so. What a value, filter, limit or
TTL may be, and how filters match (the in-memory store's rules exactly, or a clear refusal), is in
``memory_store_checks.py``; an existing index with another vector size is refused when the store opens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import redis
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from langgraph.store.base.embed import ensure_embeddings, get_text_at_path, tokenize_path

from ..connection import SyncClient, connection_failed, get_client
from ..decoding import as_str
from ..embeddings import Embedder, embed_documents
from ..settings import Settings, get_settings
from ..tenancy import TenantLike, scoped
from ..urls import redis_url as resolve_url
from .cache import as_embedder
from .memory_store_checks import (
    check_index,
    check_ops,
    check_vectors,
    matches_filter,
    namespace_matches,
    to_json,
    ttl_ms,
)

__all__ = ["RedisMemoryStore", "matches_filter"]

#: ``mtime`` is ``updated_at`` exactly: FT.SEARCH returns a SORTABLE number from the index, rounded to 10 ms.
_RETURN = ("namespace", "key", "value", "created_at", "updated_at", "ttl_ms", "mtime")
_PAGE = 500
_FAULTS = (redis.ConnectionError, redis.TimeoutError, OSError)


def _digest(parts: Sequence[str]) -> str:
    """The TAG value naming a namespace (prefix): hex only, so the engine never trims, splits or stems it."""
    return hashlib.sha256(json.dumps(list(parts), ensure_ascii=False).encode()).hexdigest()[:32]


class RedisMemoryStore(BaseStore):
    """Long-term agent memory for ``create_agent(..., store=...)`` / LangGraph, in Redis.

    Args:
        redis_url: default the package's Redis (``REDIS_URL`` or the embedded server); needs the search module.
        name: the index name; items live under ``{name}:item:``.
        index: LangGraph's ``IndexConfig`` (``dims``, ``embed`` -- a LangChain ``Embeddings``, a function or a
            ``"provider:model"`` string --, ``fields``, default ``["$"]``: the whole value). ``None``: no semantic
            search unless ``embedder`` is given.
        embedder: one of our embedders (or a LangChain ``Embeddings``) instead of ``index["embed"]``.
        ttl: LangGraph's ``TTLConfig`` (``default_ttl`` minutes, ``refresh_on_read``).
    """

    supports_ttl = True

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        name: str = "agent-memory",
        index: IndexConfig | None = None,
        embedder: Embedder | Embeddings | None = None,
        ttl: TTLConfig | None = None,
        settings: Settings | None = None,
        client: SyncClient | None = None,
        tenant: TenantLike = None,
    ) -> None:
        self.settings = settings or get_settings()
        #: ``tenant``: items and their index under the tenant's hash tag (``rag:{t}:agent-memory:item:...``).
        self.name = scoped(tenant, name)
        self.ttl_config = ttl
        ttl_ms((ttl or {}).get("default_ttl"))  # refused now, not at the first put
        self.fields: list[str] = list((index or {}).get("fields") or ["$"])
        self._paths = {f: tokenize_path(f) if f != "$" else f for f in self.fields}
        embed = embedder if embedder is not None else (index or {}).get("embed")
        self.embedder: Embedder | None = None
        if embed is not None:
            self.embedder = as_embedder(embed if isinstance(embed, Embedder | Embeddings) else ensure_embeddings(embed))
        self.dims: int | None = (index or {}).get("dims") or (self.embedder.dims if self.embedder else None)
        self.url = redis_url or (None if client is not None else resolve_url(self.settings))
        self.client = client if client is not None else get_client(self.url, settings=self.settings)
        self.prefix = f"{self.name}:item:"
        self._guard(self._ensure_index)

    # --- layout -----------------------------------------------------------------------------------------------
    def item_key(self, namespace: tuple[str, ...], key: str) -> str:
        return self.prefix + hashlib.sha256(json.dumps([list(namespace), key], ensure_ascii=False).encode()).hexdigest()

    def _ensure_index(self) -> None:
        try:
            info = self.client.ft(self.name).info()
        except redis.ResponseError:
            info = None
        if info is not None:
            check_index(info, self.name, self.prefix, self.dims)
            return
        schema: list[Any] = ["ns", "TAG", "path", "TAG", "updated_at", "NUMERIC", "SORTABLE"]
        if self.dims:
            schema += ["vector", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", self.dims, "DISTANCE_METRIC", "COSINE"]
        try:
            self.client.execute_command(
                "FT.CREATE", self.name, "ON", "HASH", "PREFIX", 1, self.prefix, "SCHEMA", *schema
            )
        except redis.ResponseError as exc:
            if "already exists" not in str(exc):
                raise

    def _guard(self, fn: Any, *args: Any) -> Any:
        """Run ``fn``; an unreachable Redis raises :class:`RedisConnectionFailed` naming the URL (never a miss: a
        memory store that silently forgets is worse than one that fails)."""
        try:
            return fn(*args)
        except _FAULTS as exc:
            raise connection_failed(self.url or "the configured Redis", exc) from exc

    # --- BaseStore --------------------------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._guard(self._batch, list(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """The sync batch on a worker thread: one implementation (no async copy to drift), and the event loop never
        blocks on Redis or on the embedding model."""
        return await asyncio.to_thread(self.batch, list(ops))

    def _batch(self, ops: list[Op]) -> list[Result]:
        check_ops(ops)  # every op checked before the first runs: a refused batch writes nothing
        puts = {(op.namespace, op.key): op for op in ops if isinstance(op, PutOp)}  # last write of a key wins
        vectors = self._embed_puts(list(puts.values()))
        results: list[Result] = []
        written: set[tuple[tuple[str, ...], str]] = set()
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                ident = (op.namespace, op.key)
                if ident not in written:
                    written.add(ident)
                    self._put(puts[ident], vectors.get(ident))
                results.append(None)
            else:
                raise TypeError(f"unknown store operation {type(op).__name__}")
        return results

    # --- writes -----------------------------------------------------------------------------------------------
    def _index_text(self, op: PutOp) -> str | None:
        """The text embedded for an item; ``None``: no vector. As ``InMemoryStore``, a field that is there is
        embedded even when empty (``{"text": ""}`` is scored), an absent one is not."""
        if op.value is None or op.index is False or self.embedder is None:
            return None
        fields = self.fields if op.index is None else list(op.index)
        texts: list[str] = []
        for f in fields:
            texts += get_text_at_path(op.value, self._paths.get(f) or (tokenize_path(f) if f != "$" else f))
        return "\n".join(texts) if texts else None

    def _embed_puts(self, puts: list[PutOp]) -> dict[tuple[tuple[str, ...], str], bytes]:
        todo = [(op, text) for op in puts if (text := self._index_text(op)) is not None]
        if not todo or self.embedder is None:
            return {}
        matrix = check_vectors(embed_documents(self.embedder, [t for _, t in todo]), len(todo), self.dims, self.name)
        return {(op.namespace, op.key): matrix[i].tobytes() for i, (op, _) in enumerate(todo)}

    def _put(self, op: PutOp, vector: bytes | None) -> None:
        key = self.item_key(op.namespace, op.key)
        if op.value is None:
            self.client.delete(key)
            return
        now = time.time()
        ns = tuple(op.namespace)
        mapping: dict[str, Any] = {
            "namespace": json.dumps(list(ns), ensure_ascii=False),
            "key": op.key,
            "value": to_json(op.value),
            "ns": _digest(ns),
            "path": ",".join(_digest(ns[:i]) for i in range(1, len(ns) + 1)),
            "updated_at": repr(now),
            "mtime": repr(now),
        }
        expiry = ttl_ms(op.ttl)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping={**mapping, "ttl_ms": expiry or ""})
        pipe.hsetnx(key, "created_at", repr(now))
        if vector is not None:
            pipe.hset(key, "vector", vector)
        else:
            pipe.hdel(key, "vector")
        if expiry:
            pipe.pexpire(key, expiry)
        else:
            pipe.persist(key)
        pipe.execute()

    # --- reads ------------------------------------------------------------------------------------------------
    @staticmethod
    def _fields(row: dict[str, Any]) -> tuple[tuple[str, ...], str, Any, datetime, datetime]:
        created = datetime.fromtimestamp(float(row["created_at"]), tz=timezone.utc)
        updated = datetime.fromtimestamp(float(row.get("mtime") or row["updated_at"]), tz=timezone.utc)
        return tuple(json.loads(row["namespace"])), row["key"], json.loads(row["value"]), created, updated

    def _refresh(self, rows: list[dict[str, Any]], refresh: bool) -> None:
        timed = [r for r in rows if r.get("ttl_ms")]
        if refresh and timed:
            pipe = self.client.pipeline(transaction=False)
            for r in timed:
                pipe.pexpire(r["_key"], int(r["ttl_ms"]))
            pipe.execute()

    def _get(self, op: GetOp) -> Item | None:
        key = self.item_key(op.namespace, op.key)
        raw = self.client.hmget(key, list(_RETURN))
        if raw[0] is None or raw[2] is None:
            return None
        row = {name: as_str(v) if v is not None else None for name, v in zip(_RETURN, raw, strict=True)}
        if tuple(json.loads(row["namespace"])) != tuple(op.namespace) or row["key"] != op.key:
            return None
        row["_key"] = key
        self._refresh([row], op.refresh_ttl)
        ns, key, value, created, updated = self._fields(row)
        return Item(value=value, key=key, namespace=ns, created_at=created, updated_at=updated)

    def _query_rows(self, query: str, offset: int, num: int, params: dict[str, Any] | None, sort: str) -> list[dict]:
        """One FT.SEARCH page as decoded rows (``_key``: the hash's key)."""
        fields = (*_RETURN, "dist")
        args: list[Any] = ["FT.SEARCH", self.name, query, "RETURN", len(fields), *fields]
        args += ["SORTBY", *sort.split(), "LIMIT", offset, num]
        if params:
            args += ["PARAMS", 2 * len(params), *[x for kv in params.items() for x in kv]]
        reply = self.client.execute_command(*args, "DIALECT", 2)
        if isinstance(reply, dict):  # RESP3
            results = reply.get(b"results", reply.get("results", []))
            pairs = [
                (r.get(b"id", r.get("id")), r.get(b"extra_attributes", r.get("extra_attributes"))) for r in results
            ]
        else:
            pairs = [(reply[i], dict(zip(*[iter(reply[i + 1])] * 2, strict=True))) for i in range(1, len(reply), 2)]
        rows: list[dict[str, Any]] = []
        for key, values in pairs:
            row = {as_str(k): as_str(v) for k, v in values.items()}
            rows.append(row | {"_key": as_str(key)})
        return rows

    def _search(self, op: SearchOp) -> list[SearchItem]:
        """As ``InMemoryStore``: with a query, the items by meaning, then those without a vector (``index=False``,
        or no indexed field) with score ``None``; without one, every item (most recently updated first here).

        One difference, on purpose: the reference slices only the scored items by ``offset`` and fills a short page
        with the *first* unscored ones, so later pages repeat them and the rest are never reached; here offset and
        limit page through the one list, scored then unscored."""
        prefix = tuple(op.namespace_prefix)
        where = f"@path:{{{_digest(prefix)}}}" if prefix else "*"
        vector = self._query_vector(op.query)
        wanted = op.offset + op.limit

        def keep(row: dict[str, Any]) -> bool:
            ns = tuple(json.loads(row["namespace"]))
            return ns[: len(prefix)] == prefix and matches_filter(json.loads(row["value"]), op.filter)

        found: list[tuple[dict[str, Any], float | None]] = []
        if vector is not None:
            found = [(r, 1.0 - float(r["dist"])) for r in self._nearest(where, vector, wanted, keep, op.filter)]
        if len(found) < wanted:  # with a query: the KNN ran out, every item with a vector was seen
            unscored = self._recent(where, wanted - len(found), keep, op.filter, vector is not None)
            found += [(r, None) for r in unscored]
        chosen = found[op.offset : wanted]
        self._refresh([r for r, _ in chosen], op.refresh_ttl)
        return [SearchItem(*self._fields(r), score=s) for r, s in chosen]

    def _nearest(self, where: str, vector: bytes, wanted: int, keep: Any, flt: Any) -> list[dict[str, Any]]:
        """The nearest items that pass ``keep``: KNN returns the k nearest only, so k grows until enough pass."""
        found: list[dict[str, Any]] = []
        fetched, page = 0, max(wanted, 10) if flt is None else max(wanted * 4, _PAGE)
        while len(found) < wanted:
            knn = f"({where})=>[KNN {fetched + page} @vector $vec AS dist]"
            rows = self._query_rows(knn, 0, fetched + page, {"vec": vector}, "dist ASC")
            found += [r for r in rows[fetched:] if keep(r)]
            if len(rows) < fetched + page:
                break
            fetched, page = len(rows), page * 2
        return found

    def _recent(self, where: str, wanted: int, keep: Any, flt: Any, vectorless: bool) -> list[dict[str, Any]]:
        """The most recently updated items that pass ``keep`` (``vectorless``: only those without a vector, asked
        with one pipelined HEXISTS per page: the vector's bytes are never read, whatever the client decodes)."""
        found: list[dict[str, Any]] = []
        fetched, page = 0, max(wanted, 10) if flt is None and not vectorless else max(wanted * 4, _PAGE)
        while len(found) < wanted:
            rows = self._query_rows(where, fetched, page, None, "updated_at DESC")
            kept = [r for r in rows if keep(r)]
            if vectorless and kept:
                pipe = self.client.pipeline(transaction=False)
                for r in kept:
                    pipe.hexists(r["_key"], "vector")
                kept = [r for r, has in zip(kept, pipe.execute(), strict=True) if not has]
            found += kept
            if len(rows) < page:
                break
            fetched, page = fetched + len(rows), page * 2
        return found

    def _query_vector(self, query: str | None) -> bytes | None:
        """The query's vector; ``None`` (and ``""``, as ``InMemoryStore`` treats it) is no query."""
        if not query:
            return None
        if self.embedder is None:
            raise ValueError("search(query=...) needs an index config with an embedder: RedisMemoryStore(index=...)")
        return check_vectors(self.embedder.embed([query]), 1, self.dims, self.name)[0].tobytes()

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces: set[tuple[str, ...]] = set()
        for ns in self._all_namespaces():
            if op.match_conditions and not all(namespace_matches(ns, c) for c in op.match_conditions):
                continue
            spaces.add(ns[: op.max_depth] if op.max_depth is not None else ns)
        return sorted(spaces)[op.offset : op.offset + op.limit]

    def _all_namespaces(self) -> Iterable[tuple[str, ...]]:
        """Distinct namespaces from the index (an FT.AGGREGATE cursor: no KEYS, no SCAN of the keyspace)."""
        reply = self.client.execute_command(
            "FT.AGGREGATE", self.name, "*", "LOAD", 1, "@namespace", "GROUPBY", 1, "@ns",
            "REDUCE", "FIRST_VALUE", 1, "@namespace", "AS", "namespace", "WITHCURSOR", "COUNT", 1000, "DIALECT", 2,
        )  # fmt: skip
        while True:
            rows, cursor = reply
            for row in rows[1:]:
                fields = {as_str(row[j]): row[j + 1] for j in range(0, len(row), 2)}
                if fields.get("namespace") is not None:
                    yield tuple(json.loads(as_str(fields["namespace"])))
            if not cursor:
                return
            reply = self.client.execute_command("FT.CURSOR", "READ", self.name, cursor)

    def clear(self) -> None:
        """Delete every item (the index is recreated empty)."""
        self.drop()
        self._guard(self._ensure_index)

    def drop(self) -> None:
        """Delete the index and every item (for tests and resets)."""
        try:
            self._guard(self.client.execute_command, "FT.DROPINDEX", self.name, "DD")
        except redis.ResponseError as exc:
            if "unknown index" not in str(exc).lower():
                raise
