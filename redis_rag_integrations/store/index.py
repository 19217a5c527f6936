"""The vector index core: create or open an index in the shared layout, write, read, delete and search it.

:class:`RedisVectorIndex` is what both framework adapters drive; it knows nothing of LangChain or LlamaIndex.
Index management (``FT.CREATE`` from the schema, ``FT.INFO``, dropping) is redisvl's; every query, and every search a
delete runs first, is ours (:mod:`.knn`, :mod:`.text`, :mod:`.find`), as are the layout, the checks that turn bad input
into clear errors before anything is written, atomic replacement of a record, and telling the caches (through
:mod:`redis_rag_integrations.freshness`) when a document changed. Every operation has an ``a``-prefixed async twin.

The class is the entry point; the work is in its neighbours: :mod:`.opening` (adopting an existing index, legacy
layouts), :mod:`.search` (reads and searches, a mixin), :mod:`.writes` and :mod:`.versioned` (every write as a
plan of ops) and :mod:`.executor` (one sync and one async runner for those plans).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from redis.exceptions import NoPermissionError
from redisvl.index import AsyncSearchIndex, SearchIndex

from .. import freshness, metrics, placement, replication, tenancy
from ..clients import RedisClients
from ..connection import AsyncClient, SyncClient, is_cluster
from ..settings import Backend, Settings, get_settings
from . import auto_fields, evolution, versioned, writes
from .executor import Plan, aapply, apply
from .filters import FilterLike
from .knn import KnnPlanner
from .layout import Checked, FieldType, Layout, Record
from .opening import LayoutMismatchError, existing_dims, num_docs, reconcile, refuse_overlapping_prefix
from .search import IndexSearch, check_ids
from .text import TextPlanner

__all__ = ["SMALL_WRITE", "WRITE_BATCH", "LayoutMismatchError", "RedisVectorIndex"]

WRITE_BATCH = 500
#: Below this many records the script alone writes them: one round trip, where creating new records first takes two.
SMALL_WRITE = 8


class RedisVectorIndex(IndexSearch):
    """One search index in the shared layout, sync and async.

    Opening an index that exists adopts its filterable metadata fields, so a store created by the LangChain
    adapter can be opened by the LlamaIndex one (and the other way) without repeating the declaration.
    """

    #: ``metadata_fields="auto"`` (set in ``__init__``; other backends refuse it).
    _auto: bool = False
    #: Under ``"auto"``: keys left undeclared because the records already written hold them with mixed kinds.
    _mixed: set[str]

    def __new__(cls, *args: Any, backend: Backend | None = None, **kwargs: Any) -> RedisVectorIndex:
        """``backend`` (default: the settings' ``backend``) picks the storage: ``"vectorset"`` builds a
        :class:`~.vectorset.VectorSetIndex` (a Redis 8 vector set; a subclass, so callers see no difference)."""
        settings = kwargs.get("settings") or get_settings()
        if cls is RedisVectorIndex and (backend or settings.backend) == "vectorset":
            if auto_fields.is_auto(kwargs.get("metadata_fields")):
                raise ValueError(
                    'metadata_fields="auto" needs the query-engine backend (backend="query_engine"): a vector set '
                    "cannot add filterable fields in place; declare them as a {name: type} map"
                )
            from .vectorset import VectorSetIndex

            return super().__new__(VectorSetIndex)
        return super().__new__(cls)

    def __init__(
        self,
        index_name: str | None = None,
        *,
        dims: int | None = None,
        metadata_fields: auto_fields.MetadataFields | None = None,
        prefix: str | None = None,
        url: str | None = None,
        settings: Settings | None = None,
        client: SyncClient | None = None,
        async_client: AsyncClient | None = None,
        invalidate_caches: bool = True,
        create: bool = True,
        tenant: tenancy.TenantLike = None,
        backend: Backend | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        #: What the caller chose (not defaults): an existing index that differs in these is refused (:mod:`.evolution`).
        explicit = frozenset(self.settings.model_fields_set) | ({"prefix"} if prefix is not None else set())
        if (backend or self.settings.backend) != "query_engine":
            raise ValueError(f"backend must be 'query_engine' or 'vectorset', got {backend!r}")
        #: ``tenant``: the index and its records live under the tenant's hash tag (:mod:`..tenancy`).
        self.tenant = tenancy.resolve(tenant)
        if self.tenant is not None:
            base = index_name or self.settings.index_name
            prefix = self.tenant.scoped(prefix or (self.settings.key_prefix if index_name is None else None) or base)
            index_name = self.tenant.scoped(base)
        #: Every client comes from here; async ones per event loop, at call time (see :mod:`..clients`).
        self._clients = RedisClients(url, settings=self.settings, client=client, async_client=async_client)
        self.client: SyncClient = self._clients.client
        self.invalidate_caches = invalidate_caches
        self.ef_runtime = self.settings.hnsw_ef_runtime
        if dims is None:
            dims = existing_dims(self.client, index_name or self.settings.index_name)
        auto_fields.check_spelling(metadata_fields)
        #: ``metadata_fields="auto"``: every write declares the metadata keys no field covers yet (:mod:`.auto_fields`).
        self._auto = auto_fields.is_auto(metadata_fields)
        self._mixed = set()
        if self._auto:
            metadata_fields = None  # adopt the existing index's fields; writes add the rest
        layout = Layout.from_settings(
            dims, self.settings, index_name=index_name, prefix=prefix, metadata_fields=metadata_fields
        )
        if self.tenant is None:
            tenancy.check_untenanted(layout.index_name, "index name")
            tenancy.check_untenanted(layout.key_prefix, "key prefix")
        self.layout = reconcile(self.client, layout, explicit_fields=metadata_fields is not None, explicit=explicit)
        # Cluster clients route FT.* to the index's node (see :mod:`..placement`); without a search coordinator an
        # index must sit with all of its keys, or it would answer from one shard only: refused, never partial.
        self._cluster = is_cluster(self.client)
        if self._cluster and not placement.has_coordinator(self.client):
            placement.check_single_slot(self.name, [self.layout.key_prefix + self.layout.key_separator])
        if self.layout.dialect == "native":  # the kinds "auto" noted for its tag fields: filters keep to them
            kinds = auto_fields.recorded_kinds(self.client, self.layout)
            self.layout = dataclasses.replace(self.layout, tag_kinds=kinds)
        self._index = SearchIndex(self.layout.schema(), redis_client=self.client)
        self._knn = KnnPlanner(self.layout)
        self._text = TextPlanner(self.layout)
        self._similarity = self.layout.similarity_fn()
        #: The freshness keys this index's writes invalidate through (its tenant's: :mod:`..freshness`).
        self._fresh = freshness.keys_of(self.layout.key_prefix)
        if create and not self._index.exists():
            refuse_overlapping_prefix(self.client, self.layout)
            kept = evolution.kept_records_checked(self.client, self.layout)  # refused before anything is created
            self._index.create()
            if kept:
                evolution.resume(self.client, self.layout, checked=True)
        #: How records are written (see :mod:`.writes`): tests switch it to cover every path on one server.
        self._write_path: writes.WritePath = writes.default_path(self.client)
        self._small_write = SMALL_WRITE
        if self._write_path != "client-side":
            # Ready before the first write (EVALSHA reloads it anyway). A read-only ACL user (rag-reader) may not
            # load scripts: it never writes, and a write would name the missing permission then.
            with contextlib.suppress(NoPermissionError):
                self.client.script_load(writes.UPSERT_SCRIPT)
        #: ``write_replicas`` > 0: every write waits for that many replicas (WAIT after a marker in the records'
        #: slot, hence on their node; see :mod:`..replication`).
        marker = replication.marker_for(self.layout.key(""))
        self._durability = replication.Durability.from_settings(self.settings, marker)

    @property
    def async_client(self) -> AsyncClient:
        """The running event loop's asyncio client (a client serves one loop). No I/O: the constructor resolved
        the URL and, through the sync client, whether it names a cluster node."""
        return self._clients.current_async_client()

    @property
    def aindex(self) -> AsyncSearchIndex:
        """redisvl's async index on the running loop's client."""
        make = lambda c: AsyncSearchIndex(self.layout.schema(), redis_client=c)  # noqa: E731
        return self._clients.on_loop("index", self.async_client, make)

    def _apply(self, plan: Plan[Any], *, wait: bool = True) -> Any:
        return apply(self.client, plan, self._durability if wait else None)

    async def _aapply(self, plan: Plan[Any], *, wait: bool = True) -> Any:
        return await aapply(self.async_client, plan, self._durability if wait else None)

    # --- writing ---------------------------------------------------------------------------------------------

    def _check_all(self, records: Sequence[Record]) -> list[tuple[str, Checked]]:
        """Every record checked before any is written: one bad record fails the call and loses nothing."""
        if self.layout.dialect != "native":
            raise LayoutMismatchError(
                f"index {self.name!r} was written by {self.layout.dialect} and is opened read-only: search it, "
                "and re-ingest into a new index to write (two layouts in one index would confuse both readers)"
            )
        if self._auto:
            auto_fields.check_tag_values(records, self.layout.metadata_fields, self.layout.tag_kinds)
            # Keys found mixed in the records already written are not scanned for again by this instance.
            known = {**dict.fromkeys(self._mixed, "mixed"), **self.layout.metadata_fields}
            kinds = auto_fields.infer_kinds(records, known)
            new = auto_fields.agreeing(self.client, self.layout, kinds) if kinds else {}
            self._mixed.update(key for key in kinds if key not in new)
            if new:
                auto_fields.record_kinds(self.client, self.layout, {key: kinds[key] for key in new})
                self._declare(new)
        checked = [(self.layout.key(r.id), self.layout.check(r)) for r in records]
        seen: set[str] = set()
        for key, _ in checked:
            if key in seen:
                raise ValueError(f"record id {key[len(self.layout.key_prefix) + 1 :]!r} appears twice in one call")
            seen.add(key)
        return checked

    def _declare(self, fields: dict[str, FieldType]) -> None:
        """Add ``fields`` to the index (``FT.ALTER`` and backfill, :mod:`.evolution`) before a write that holds them.
        Sync even under an ``a``-method: once per new metadata key, it blocks the loop for the alteration."""
        wanted = dataclasses.replace(self.layout, metadata_fields={**self.layout.metadata_fields, **fields})
        kinds = auto_fields.recorded_kinds(self.client, self.layout)
        self.layout = dataclasses.replace(reconcile(self.client, wanted, explicit_fields=True), tag_kinds=kinds)
        self._knn = KnnPlanner(self.layout)
        self._text = TextPlanner(self.layout)
        self._index = SearchIndex(self.layout.schema(), redis_client=self.client)

    def _upsert_plan(self, records: Sequence[Record], batch_size: int) -> Plan[None]:
        checked = self._check_all(records)
        return writes.upsert(
            self.layout, checked, self._write_path, self._small_write, self.invalidate_caches, batch_size
        )

    @metrics.timed("store.upsert")
    def upsert(self, records: Sequence[Record], batch_size: int = WRITE_BATCH) -> list[str]:
        """Write ``records`` (replacing any with the same id, stale fields included); returns their ids.

        Every record is checked before anything is written. Then, on a standalone server, new
        records are created as plain hashes and existing ones replaced by a script, batches streamed on one
        connection (:mod:`.writes`, :mod:`.bulk`). A cluster takes the client-side path: read old hashes, write
        in a pipeline, then invalidate.
        """
        self._apply(self._upsert_plan(records, batch_size))
        metrics.count("store.records_written", len(records))
        return [r.id for r in records]

    @metrics.timed("store.upsert")
    async def aupsert(self, records: Sequence[Record], batch_size: int = WRITE_BATCH) -> list[str]:
        await self._aapply(self._upsert_plan(records, batch_size))
        metrics.count("store.records_written", len(records))
        return [r.id for r in records]

    @metrics.timed("store.delete")
    def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed."""
        return self._apply(writes.delete(self.layout, check_ids(ids), self.invalidate_caches))

    @metrics.timed("store.delete")
    async def adelete(self, ids: Iterable[str]) -> int:
        return await self._aapply(writes.delete(self.layout, check_ids(ids), self.invalidate_caches))

    @metrics.timed("store.delete")
    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Delete every chunk of the given source documents; returns how many chunks went."""
        return self._apply(writes.delete_documents(self.layout, check_ids(doc_ids), self.invalidate_caches))

    @metrics.timed("store.delete")
    async def adelete_documents(self, doc_ids: Iterable[str]) -> int:
        return await self._aapply(writes.delete_documents(self.layout, check_ids(doc_ids), self.invalidate_caches))

    # --- versioned documents (streaming ingestion; the protocol is in :mod:`.versioned`) ------------------------

    def replace_document(
        self, doc_id: str, records: Sequence[Record], *, version: versioned.Version, content_hash: str | None = None
    ) -> versioned.DocumentWrite:
        """Make ``records`` the whole chunk set of ``doc_id`` if ``version`` (``ms-seq``) is newer than the indexed one.

        Checked like :meth:`upsert` (each record, duplicate ids, read-only legacy layouts) before anything is
        written. The version check, removing the chunks the new version lacks and writing it are then one atomic
        step on the server, so writers racing or replaying old events never leave an older version, or a mix,
        behind. ``content_hash`` names the content for :meth:`advance_document` (default: hash of the chunks).
        """
        steps = self._document_steps(doc_id, "upsert", version, records, content_hash=content_hash)
        return self._apply(versioned.settled(steps, self._fresh))

    async def areplace_document(
        self, doc_id: str, records: Sequence[Record], *, version: versioned.Version, content_hash: str | None = None
    ) -> versioned.DocumentWrite:
        steps = self._document_steps(doc_id, "upsert", version, records, content_hash=content_hash)
        return await self._aapply(versioned.settled(steps, self._fresh))

    def delete_document(
        self, doc_id: str, *, version: versioned.Version, tombstone_ttl: int = versioned.TOMBSTONE_TTL
    ) -> versioned.DocumentWrite:
        """Delete every chunk of ``doc_id`` if ``version`` is newer than the indexed one, leaving a tombstone so an
        older upsert arriving later is refused (for ``tombstone_ttl`` seconds)."""
        steps = self._document_steps(doc_id, "delete", version, (), tombstone_ttl=tombstone_ttl)
        return self._apply(versioned.settled(steps, self._fresh))

    async def adelete_document(
        self, doc_id: str, *, version: versioned.Version, tombstone_ttl: int = versioned.TOMBSTONE_TTL
    ) -> versioned.DocumentWrite:
        steps = self._document_steps(doc_id, "delete", version, (), tombstone_ttl=tombstone_ttl)
        return await self._aapply(versioned.settled(steps, self._fresh))

    def advance_document(
        self, doc_id: str, content_hash: str, *, version: versioned.Version
    ) -> versioned.DocumentWrite:
        """Record ``version`` as applied without rewriting chunks, if the indexed content still has ``content_hash``
        (status ``unchanged``; ``changed`` means it has not: embed and :meth:`replace_document` instead). Why: an
        unchanged document must still move its version on, or an older event could overwrite it later."""
        steps = self._document_steps(doc_id, "advance", version, (), content_hash=content_hash)
        return self._apply(steps)

    async def aadvance_document(
        self, doc_id: str, content_hash: str, *, version: versioned.Version
    ) -> versioned.DocumentWrite:
        steps = self._document_steps(doc_id, "advance", version, (), content_hash=content_hash)
        return await self._aapply(steps)

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, versioned.DocumentState]:
        """The applied version and content hash of each document that has a version record (others are left out)."""
        return self._apply(versioned.read_states(self.layout, check_ids(doc_ids)), wait=False)

    async def adocument_states(self, doc_ids: Sequence[str]) -> dict[str, versioned.DocumentState]:
        return await self._aapply(versioned.read_states(self.layout, check_ids(doc_ids)), wait=False)

    def _document_steps(
        self, doc_id: str, op: versioned.Op, version: versioned.Version, records: Sequence[Record], **kw: Any
    ) -> versioned.Steps:
        checked = self._check_all(records)
        if op == "upsert" and kw.get("content_hash") is None:
            kw["content_hash"] = versioned.chunks_hash(records)
        target = versioned.Target(self.layout, self.name, self.invalidate_caches, self._cluster)
        return versioned.write_steps(target, doc_id, op, version, checked, **kw)

    def delete_where(self, filter: FilterLike) -> int:
        """Delete every record matching ``filter`` (required: use :meth:`clear` to empty the index)."""
        total = 0
        while batch := self.find(filter, limit=WRITE_BATCH):
            total += self.delete([r.id for r in batch])
        return total

    async def adelete_where(self, filter: FilterLike) -> int:
        total = 0
        while batch := await self.afind(filter, limit=WRITE_BATCH):
            total += await self.adelete([r.id for r in batch])
        return total

    def clear(self) -> int:
        """Delete every record and the documents' version records, keep the index."""
        removed = self._apply(writes.drop_where(self.layout, "*"), wait=False)
        self._forget_versions()
        return int(removed)

    async def aclear(self) -> int:
        removed = await self._aapply(writes.drop_where(self.layout, "*"), wait=False)
        await self._aforget_versions()
        return int(removed)

    def drop(self, delete_records: bool = True) -> None:
        """Drop the index (and by default its records and the documents' version records)."""
        self._index.delete(drop=delete_records)
        evolution.after_drop(self.client, self.layout, delete_records)
        if delete_records:
            self._forget_versions()

    async def adrop(self, delete_records: bool = True) -> None:
        if self._cluster:
            # redisvl sends FT.DROPINDEX to the asyncio cluster client's *default* node: not the index's node (a
            # MOVED hop), and None at times (redis-py clears it when a slot-map refresh fails; seen here after the
            # failover and resharding tests: "'NoneType' object has no attribute 'connection_kwargs'", 1 run in 3).
            # The index lives on its name's node: drop it there (placement.aft_call).
            client = await self._clients.aclient()
            if delete_records:
                await self._aapply(writes.drop_where(self.layout, "*"), wait=False)
            await placement.aft_call(client, self.name, "FT.DROPINDEX", self.name)
        else:
            await self.aindex.delete(drop=delete_records)
        await evolution.aafter_drop(self.async_client, self.layout, delete_records)
        if delete_records:
            await self._aforget_versions()

    def _forget_versions(self) -> None:
        """Version records left behind would refuse a re-ingestion that numbers its versions from 1 again."""
        batch = list(self.client.scan_iter(match=versioned.records_pattern(self.layout), count=1000))
        for start in range(0, len(batch), 1000):
            self.client.unlink(*batch[start : start + 1000])

    async def _aforget_versions(self) -> None:
        client = self.async_client
        batch = [key async for key in client.scan_iter(match=versioned.records_pattern(self.layout), count=1000)]
        for start in range(0, len(batch), 1000):
            await client.unlink(*batch[start : start + 1000])

    def count(self) -> int:
        """How many records the index holds (``FT.INFO`` on the index's node: redisvl's asyncio ``info`` picked a
        cluster node at random, one without the index, or none)."""
        return num_docs(placement.ft_call(self.client, self.name, "FT.INFO", self.name))

    async def acount(self) -> int:
        return num_docs(await placement.aft_call(self.async_client, self.name, "FT.INFO", self.name))

    def close(self) -> None:
        """Let go of the clients: shared ones stay open for other components, async ones close with their loop."""
        self._clients.release()

    async def aclose(self) -> None:
        self._clients.release()
