"""The vector index core: create or open an index in the shared layout, write, read, delete and search it.

:class:`RedisVectorIndex` is what both framework adapters drive; it knows nothing of LangChain or LlamaIndex.
Index management and query building are redisvl's; what is ours is the layout, the checks that turn bad input
into clear errors before anything is written, atomic replacement of a record, and telling the caches (through
:mod:`redis_rag_integrations.freshness`) when a document changed. Every operation has an ``a``-prefixed async twin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError
from redisvl.exceptions import RedisVLError
from redisvl.index import AsyncSearchIndex, SearchIndex
from redisvl.query import BaseQuery

from .. import freshness, metrics, tags
from ..clients import RedisClients
from ..connection import AsyncClient, SyncClient
from ..errors import IndexNotFoundError, RedisRagError
from ..settings import HybridFusion, Settings, get_settings
from . import bulk, versioned, writes
from .filters import FilterLike
from .knn import KnnPlanner, parse_reply
from .layout import (
    CONTENT_HASH,
    DOC_ID,
    EXTRA,
    METADATA,
    QUERY_FIELDS,
    RESERVED_FIELDS,
    RETURN_FIELDS,
    VECTOR,
    Checked,
    FieldType,
    Hit,
    Layout,
    Record,
    detect_dialect,
)
from .query import (
    filter_query,
    hits_from_results,
    mmr_order,
    relative_score_fuse,
    rrf_fuse,
    text_query,
    vector_query,
)

WRITE_BATCH = 500
#: Below this many records the script alone writes them: one round trip, where creating new records first takes two.
SMALL_WRITE = 8
_REQUIRED = {"id": "tag", "doc_id": "tag", "text": "text", "vector": "vector", "content_hash": "tag"}


class LayoutMismatchError(RedisRagError, ValueError):
    """An index of that name exists with another layout (other dims, or not written by this package)."""


class RedisVectorIndex:
    """One search index in the shared layout, sync and async.

    Opening an index that exists adopts its filterable metadata fields, so a store created by the LangChain
    adapter can be opened by the LlamaIndex one (and the other way) without repeating the declaration.
    """

    def __init__(
        self,
        index_name: str | None = None,
        *,
        dims: int | None = None,
        metadata_fields: dict[str, FieldType] | None = None,
        prefix: str | None = None,
        url: str | None = None,
        settings: Settings | None = None,
        client: SyncClient | None = None,
        async_client: AsyncClient | None = None,
        invalidate_caches: bool = True,
        create: bool = True,
    ) -> None:
        self.settings = settings or get_settings()
        #: Every client comes from here; async ones per event loop, at call time (see :mod:`..clients`).
        self._clients = RedisClients(url, settings=self.settings, client=client, async_client=async_client)
        self.client: SyncClient = self._clients.client
        self.invalidate_caches = invalidate_caches
        self.ef_runtime = self.settings.hnsw_ef_runtime
        if dims is None:
            dims = self._existing_dims(index_name or self.settings.index_name)
        layout = Layout.from_settings(
            dims, self.settings, index_name=index_name, prefix=prefix, metadata_fields=metadata_fields
        )
        self.layout = self._reconcile(layout, explicit_fields=metadata_fields is not None)
        self._index = SearchIndex(self.layout.schema(), redis_client=self.client)
        self._knn = KnnPlanner(self.layout)
        self._similarity = self.layout.similarity_fn()
        # Cluster clients cannot route a bare FT.SEARCH by index name: they keep redis-py's search command.
        self._cluster = isinstance(self.client, RedisCluster) or hasattr(self.client, "nodes_manager")
        if create and not self._index.exists():
            _refuse_overlapping_prefix(self.client, self.layout)
            self._index.create()
        self._optional_fields = (DOC_ID, EXTRA, *self.layout.metadata_fields)
        #: How records are written (see :mod:`.writes`): tests switch it to cover every path on one server.
        self._write_path: writes.WritePath = writes.default_path(self.client)
        self._small_write = SMALL_WRITE
        self._upsert_sha = "" if self._write_path == "client-side" else self.client.script_load(writes.UPSERT_SCRIPT)
        self._scripts = _Scripts.on(self.client)

    # --- opening ---------------------------------------------------------------------------------------------

    def _existing_dims(self, name: str) -> int:
        """The vector dims of the existing index ``name`` (for callers that do not know their model's dims)."""
        try:
            schema = SearchIndex.from_existing(name, redis_client=self.client).schema
        except RedisVLError as exc:
            raise IndexNotFoundError(
                f"index {name!r} does not exist and no dims were given to create it: pass dims "
                "(or an embedding model), or add data first"
            ) from exc
        vectors = [f for f in schema.fields.values() if str(getattr(f.type, "value", f.type)) == "vector"]
        if not vectors:
            raise LayoutMismatchError(f"index {name!r} has no vector field: it is not a vector index")
        return int(vectors[0].attrs.dims)

    def _reconcile(self, wanted: Layout, explicit_fields: bool) -> Layout:
        """The layout to use: ``wanted``, checked against (and completed from) an existing index of that name."""
        probe = SearchIndex(wanted.schema(), redis_client=self.client)
        if not probe.exists():
            return wanted
        existing = SearchIndex.from_existing(wanted.index_name, redis_client=self.client).schema
        types = {name: f.type.value if hasattr(f.type, "value") else str(f.type) for name, f in existing.fields.items()}
        missing = {n: t for n, t in _REQUIRED.items() if types.get(n) != t}
        legacy = detect_dialect(types) if missing else None
        if legacy is not None:
            return self._legacy_layout(wanted, existing, types, *legacy)
        if missing:
            raise LayoutMismatchError(
                f"index {wanted.index_name!r} exists but was not built in this package's layout (it lacks "
                f"{', '.join(f'{n} ({t})' for n, t in missing.items())}; it has {', '.join(sorted(types))}). "
                "Use another index name, or drop that index."
            )
        attrs = existing.fields[VECTOR].attrs
        if int(attrs.dims) != wanted.dims:
            raise LayoutMismatchError(
                f"index {wanted.index_name!r} holds {attrs.dims}-dimensional vectors but the embedding model makes "
                f"{wanted.dims}: use the model the index was built with, or another index name"
            )
        have = {n: t for n, t in types.items() if n not in _REQUIRED}
        if explicit_fields:
            absent = {n: t for n, t in wanted.metadata_fields.items() if have.get(n) != t}
            if absent:
                raise LayoutMismatchError(
                    f"index {wanted.index_name!r} exists without the metadata fields {absent} (it has {have or 'none'})"
                    ": filters on them would find nothing. Re-create the index to add fields."
                )
        prefixes = existing.index.prefix
        prefix = (prefixes[0] if isinstance(prefixes, list) else prefixes).rstrip(wanted.key_separator)
        return Layout(
            index_name=wanted.index_name,
            dims=wanted.dims,
            prefix=prefix,
            metadata_fields=have,  # type: ignore[arg-type]
            algorithm=str(getattr(attrs.algorithm, "value", attrs.algorithm)).lower(),  # type: ignore[arg-type]
            distance_metric=str(getattr(attrs.distance_metric, "value", attrs.distance_metric)).lower(),  # type: ignore[arg-type]
            datatype=str(getattr(attrs.datatype, "value", attrs.datatype)).lower(),  # type: ignore[arg-type]
        )

    def _legacy_layout(self, wanted: Layout, existing: Any, types: dict[str, str], dialect: str, vfield: str) -> Layout:
        """The read-only layout of an index written by langchain-redis or llama-index-vector-stores-redis."""
        attrs = existing.fields[vfield].attrs
        if int(attrs.dims) != wanted.dims:
            raise LayoutMismatchError(
                f"index {wanted.index_name!r} holds {attrs.dims}-dimensional vectors but the embedding model makes "
                f"{wanted.dims}: use the model the index was built with"
            )
        prefixes = existing.index.prefix
        prefix = prefixes[0] if isinstance(prefixes, list) else prefixes
        if dialect == "langchain-redis":
            prefix = prefix.rstrip(":")
        fields = {
            n: t
            for n, t in types.items()
            if n not in (vfield, *RESERVED_FIELDS) and t in ("tag", "numeric", "text", "geo")
        }
        return Layout(
            index_name=wanted.index_name,
            dims=wanted.dims,
            prefix=prefix,
            metadata_fields=fields,  # type: ignore[arg-type]
            algorithm=str(getattr(attrs.algorithm, "value", attrs.algorithm)).lower(),  # type: ignore[arg-type]
            distance_metric=str(getattr(attrs.distance_metric, "value", attrs.distance_metric)).lower(),  # type: ignore[arg-type]
            datatype=str(getattr(attrs.datatype, "value", attrs.datatype)).lower(),  # type: ignore[arg-type]
            dialect=dialect,  # type: ignore[arg-type]
            vector_field=vfield,
        )

    @property
    def name(self) -> str:
        return self.layout.index_name

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

    def _pipeline(self, client: Any) -> Any:
        # MULTI/EXEC makes each batch's DEL + HSET atomic; a cluster cannot span slots, so there it is per key.
        return client.pipeline(
            transaction=not isinstance(client, RedisCluster) and not hasattr(client, "nodes_manager")
        )

    # --- writing ---------------------------------------------------------------------------------------------

    def _check_all(self, records: Sequence[Record]) -> list[tuple[str, Checked]]:
        """Every record checked before any is written: one bad record fails the call and loses nothing."""
        if self.layout.dialect != "native":
            raise LayoutMismatchError(
                f"index {self.name!r} was written by {self.layout.dialect} and is opened read-only: search it, "
                "and re-ingest into a new index to write (two layouts in one index would confuse both readers)"
            )
        checked = [(self.layout.key(r.id), self.layout.check(r)) for r in records]
        seen: set[str] = set()
        for key, _ in checked:
            if key in seen:
                raise ValueError(f"record id {key[len(self.layout.key_prefix) + 1 :]!r} appears twice in one call")
            seen.add(key)
        return checked

    @metrics.timed("store.upsert")
    def upsert(self, records: Sequence[Record], batch_size: int = WRITE_BATCH) -> list[str]:
        """Write ``records`` (replacing any with the same id, stale fields included); returns their ids.

        Every record is checked before anything is written. Then, on a standalone server, new
        records are created as plain hashes and existing ones replaced by a script, batches streamed on one
        connection (:mod:`.writes`, :mod:`.bulk`). A cluster takes the client-side path: read old hashes, write
        in a pipeline, then invalidate.
        """
        checked = self._check_all(records)
        stream = min(batch_size, bulk.STREAM_BATCH)
        if self._write_path == "client-side":
            encoded = [(key, Layout.assemble(c)) for key, c in checked]
            for start in range(0, len(encoded), batch_size):
                batch = encoded[start : start + batch_size]
                changed = self._changed_ids(batch, self._read_old(batch))
                pipe = self._pipeline(self.client)
                for key, mapping in batch:
                    pipe.delete(key)
                    pipe.hset(key, mapping=mapping)
                pipe.execute()
                if changed:
                    freshness.invalidate_documents(self.client, changed)
        elif self._write_path == "new-first" and len(checked) >= self._small_write:
            args = writes.new_records_args(checked, self.invalidate_caches)
            new, old = writes.split_new(checked, self._scripts.new_records(keys=[k for k, _ in checked], args=args))
            encoded: list[tuple[str, dict[str, Any]]] = []
            replies = bulk.send_overlapped(self.client, writes.create_commands(new, encoded), stream)
            existing, created = writes.split_created(encoded, replies)
            if created and self.invalidate_caches:
                self._scripts.invalidate(args=writes.invalidate_args(created))
            if existing or old:
                commands = self._script_commands(chain(existing, _assembled(old)))
                writes.run_scripts(self.client, commands, stream)
        elif checked:
            writes.run_scripts(self.client, self._script_commands(_assembled(checked)), stream)
        metrics.count("store.records_written", len(records))
        return [r.id for r in records]

    @metrics.timed("store.upsert")
    async def aupsert(self, records: Sequence[Record], batch_size: int = WRITE_BATCH) -> list[str]:
        checked = self._check_all(records)
        stream = min(batch_size, bulk.STREAM_BATCH)
        client = self.async_client
        if self._write_path == "client-side":
            encoded = [(key, Layout.assemble(c)) for key, c in checked]
            for start in range(0, len(encoded), batch_size):
                batch = encoded[start : start + batch_size]
                changed = self._changed_ids(batch, await self._aread_old(batch))
                pipe = self._pipeline(client)
                for key, mapping in batch:
                    pipe.delete(key)
                    pipe.hset(key, mapping=mapping)
                await pipe.execute()
                if changed:
                    await freshness.ainvalidate_documents(client, changed)
        elif self._write_path == "new-first" and len(checked) >= self._small_write:
            scripts = self._clients.on_loop("scripts", client, _Scripts.on)
            args = writes.new_records_args(checked, self.invalidate_caches)
            new, old = writes.split_new(checked, await scripts.new_records(keys=[k for k, _ in checked], args=args))
            encoded: list[tuple[str, dict[str, Any]]] = []
            replies = await bulk.asend_overlapped(client, writes.create_commands(new, encoded), stream)
            existing, created = writes.split_created(encoded, replies)
            if created and self.invalidate_caches:
                await scripts.invalidate(args=writes.invalidate_args(created))
            if existing or old:
                await writes.arun_scripts(client, self._script_commands(chain(existing, _assembled(old))), stream)
        elif checked:
            await writes.arun_scripts(client, self._script_commands(_assembled(checked)), stream)
        metrics.count("store.records_written", len(records))
        return [r.id for r in records]

    def _script_commands(self, encoded: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[Any]:
        return writes.script_commands(self._upsert_sha, encoded, self._optional_fields, self.invalidate_caches)

    def _read_old(self, batch: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        if not self.invalidate_caches:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key, _ in batch:
            pipe.hmget(key, [CONTENT_HASH, DOC_ID])
        return pipe.execute()

    async def _aread_old(self, batch: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        if not self.invalidate_caches:
            return []
        pipe = self.async_client.pipeline(transaction=False)
        for key, _ in batch:
            pipe.hmget(key, [CONTENT_HASH, DOC_ID])
        return await pipe.execute()

    def _changed_ids(self, batch: list[tuple[str, dict[str, Any]]], old: list[Any]) -> list[str]:
        """Ids and document ids whose content changed: the caches must forget answers built from them."""
        out: list[str] = []
        for (_, mapping), (old_hash, old_doc) in zip(batch, old, strict=False):
            same_doc = (old_doc.decode() if old_doc else None) == mapping.get(DOC_ID)
            if old_hash is not None and old_hash.decode() == mapping[CONTENT_HASH] and same_doc:
                continue
            out.append(str(mapping["id"]))
            out.extend(str(d) for d in (mapping.get(DOC_ID), old_doc and old_doc.decode()) if d)
        return list(dict.fromkeys(tags.decode(i) for i in out))  # stored forms -> the callers' ids

    @metrics.timed("store.delete")
    def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed."""
        keys = [self.layout.key(i) for i in _ids(ids)]
        if not keys:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, DOC_ID)
        doc_ids = pipe.execute()
        deleted = int(self.client.delete(*keys))
        if self.invalidate_caches:
            freshness.invalidate_documents(self.client, _stale(keys, doc_ids, self.layout.key_prefix))
        return deleted

    @metrics.timed("store.delete")
    async def adelete(self, ids: Iterable[str]) -> int:
        keys = [self.layout.key(i) for i in _ids(ids)]
        if not keys:
            return 0
        pipe = self.async_client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, DOC_ID)
        doc_ids = await pipe.execute()
        deleted = int(await self.async_client.delete(*keys))
        if self.invalidate_caches:
            await freshness.ainvalidate_documents(self.async_client, _stale(keys, doc_ids, self.layout.key_prefix))
        return deleted

    def _docs_filter(self, doc_ids: list[str]) -> str:
        return tags.tag_clause(DOC_ID, doc_ids, encoded=self.layout.dialect == "native")

    @metrics.timed("store.delete")
    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Delete every chunk of the given source documents; returns how many chunks went."""
        ids = _ids(doc_ids)
        if not ids:
            return 0
        result = self._index.drop_by_filter(self._docs_filter(ids))
        if self.invalidate_caches:
            freshness.invalidate_documents(self.client, ids)
        return int(result.processed)

    @metrics.timed("store.delete")
    async def adelete_documents(self, doc_ids: Iterable[str]) -> int:
        ids = _ids(doc_ids)
        if not ids:
            return 0
        result = await self.aindex.drop_by_filter(self._docs_filter(ids))
        if self.invalidate_caches:
            await freshness.ainvalidate_documents(self.async_client, ids)
        return int(result.processed)

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
        return self._settled(versioned.drive(self.client, steps))

    async def areplace_document(
        self, doc_id: str, records: Sequence[Record], *, version: versioned.Version, content_hash: str | None = None
    ) -> versioned.DocumentWrite:
        steps = self._document_steps(doc_id, "upsert", version, records, content_hash=content_hash)
        return await self._asettled(await versioned.adrive(self.async_client, steps))

    def delete_document(
        self, doc_id: str, *, version: versioned.Version, tombstone_ttl: int = versioned.TOMBSTONE_TTL
    ) -> versioned.DocumentWrite:
        """Delete every chunk of ``doc_id`` if ``version`` is newer than the indexed one, leaving a tombstone so an
        older upsert arriving later is refused (for ``tombstone_ttl`` seconds)."""
        steps = self._document_steps(doc_id, "delete", version, (), tombstone_ttl=tombstone_ttl)
        return self._settled(versioned.drive(self.client, steps))

    async def adelete_document(
        self, doc_id: str, *, version: versioned.Version, tombstone_ttl: int = versioned.TOMBSTONE_TTL
    ) -> versioned.DocumentWrite:
        steps = self._document_steps(doc_id, "delete", version, (), tombstone_ttl=tombstone_ttl)
        return await self._asettled(await versioned.adrive(self.async_client, steps))

    def advance_document(
        self, doc_id: str, content_hash: str, *, version: versioned.Version
    ) -> versioned.DocumentWrite:
        """Record ``version`` as applied without rewriting chunks, if the indexed content still has ``content_hash``
        (status ``unchanged``; ``changed`` means it has not: embed and :meth:`replace_document` instead). Why: an
        unchanged document must still move its version on, or an older event could overwrite it later."""
        steps = self._document_steps(doc_id, "advance", version, (), content_hash=content_hash)
        return versioned.drive(self.client, steps)

    async def aadvance_document(
        self, doc_id: str, content_hash: str, *, version: versioned.Version
    ) -> versioned.DocumentWrite:
        steps = self._document_steps(doc_id, "advance", version, (), content_hash=content_hash)
        return await versioned.adrive(self.async_client, steps)

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, versioned.DocumentState]:
        """The applied version and content hash of each document that has a version record (others are left out)."""
        ids = _ids(doc_ids)
        pipe = self.client.pipeline(transaction=False)
        for command in versioned.read_commands(self.layout, ids):
            pipe.execute_command(*command)
        return versioned.states(ids, pipe.execute())

    async def adocument_states(self, doc_ids: Sequence[str]) -> dict[str, versioned.DocumentState]:
        ids = _ids(doc_ids)
        pipe = self.async_client.pipeline(transaction=False)
        for command in versioned.read_commands(self.layout, ids):
            pipe.execute_command(*command)
        return versioned.states(ids, await pipe.execute())

    def _document_steps(
        self, doc_id: str, op: versioned.Op, version: versioned.Version, records: Sequence[Record], **kw: Any
    ) -> versioned.Steps:
        checked = self._check_all(records)
        if op == "upsert" and kw.get("content_hash") is None:
            kw["content_hash"] = versioned.chunks_hash(records)
        target = versioned.Target(self.layout, self.name, self.invalidate_caches, self._cluster)
        return versioned.write_steps(target, doc_id, op, version, checked, **kw)

    def _settled(self, result: versioned.DocumentWrite) -> versioned.DocumentWrite:
        if result.invalidate:  # clusters: the script could not reach the cache links
            freshness.invalidate_documents(self.client, result.invalidate)
        return result

    async def _asettled(self, result: versioned.DocumentWrite) -> versioned.DocumentWrite:
        if result.invalidate:
            await freshness.ainvalidate_documents(self.async_client, result.invalidate)
        return result

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
        removed = int(self._index.clear())
        self._forget_versions()
        return removed

    async def aclear(self) -> int:
        removed = int(await self.aindex.clear())
        await self._aforget_versions()
        return removed

    def drop(self, delete_records: bool = True) -> None:
        """Drop the index (and by default its records and the documents' version records)."""
        self._index.delete(drop=delete_records)
        if delete_records:
            self._forget_versions()

    async def adrop(self, delete_records: bool = True) -> None:
        await self.aindex.delete(drop=delete_records)
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
        return int(self._index.info()["num_docs"])

    async def acount(self) -> int:
        return int((await self.aindex.info())["num_docs"])

    # --- reading ---------------------------------------------------------------------------------------------

    _READ = [*RETURN_FIELDS, VECTOR]

    def get(self, ids: Iterable[str], with_vectors: bool = False) -> list[Record]:
        """The records with these ids, in the order asked; ids that do not exist are left out."""
        wanted = _ids(ids)
        pipe = self._queue_reads(self.client.pipeline(transaction=False), wanted)
        return self._records(wanted, pipe.execute(), with_vectors)

    async def aget(self, ids: Iterable[str], with_vectors: bool = False) -> list[Record]:
        wanted = _ids(ids)
        pipe = self._queue_reads(self.async_client.pipeline(transaction=False), wanted)
        return self._records(wanted, await pipe.execute(), with_vectors)

    def _queue_reads(self, pipe: Any, ids: list[str]) -> Any:
        """Our layout's fields by name; a legacy record whole (its metadata fields are named by the record)."""
        for i in ids:
            if self.layout.dialect == "native":
                pipe.hmget(self.layout.key(i), self._READ)
            else:
                pipe.hgetall(self.layout.key(i))
        return pipe

    def _records(self, ids: list[str], rows: list[Any], with_vectors: bool) -> list[Record]:
        out = []
        vfield = self.layout.vector_field
        for record_id, values in zip(ids, rows, strict=True):
            if self.layout.dialect == "native":
                if values[RETURN_FIELDS.index(METADATA)] is None and values[-1] is None:
                    continue  # no such record
                fields, vector = dict(zip(RETURN_FIELDS, values[:-1], strict=True)), values[-1]
            else:
                if not values:
                    continue
                fields, vector = values, values.get(vfield.encode(), values.get(vfield))
            out.append(self.layout.read(self.layout.key(record_id), fields, vector if with_vectors else None))
        return out

    def _run(self, query: BaseQuery) -> list[dict[str, Any]]:
        """One FT.SEARCH with redisvl's query, read straight from redis-py's reply (redisvl's generic result
        processing cost more than the search itself)."""
        result = self.client.ft(self.name).search(query, query_params=query.params)
        return [doc.__dict__ for doc in result.docs]

    async def _arun(self, query: BaseQuery) -> list[dict[str, Any]]:
        result = await self.async_client.ft(self.name).search(query, query_params=query.params)
        return [doc.__dict__ for doc in result.docs]

    def find(self, filter: FilterLike, limit: int = 1000) -> list[Record]:
        """Records matching ``filter`` (no ranking), at most ``limit``."""
        rows = self._index.query(filter_query(self.layout, filter, limit))
        return [h.record for h in hits_from_results(self.layout, rows, score_field="__none__")]

    async def afind(self, filter: FilterLike, limit: int = 1000) -> list[Record]:
        rows = await self.aindex.query(filter_query(self.layout, filter, limit))
        return [h.record for h in hits_from_results(self.layout, rows, score_field="__none__")]

    @metrics.timed("store.search")
    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fields: Sequence[str] = QUERY_FIELDS,
    ) -> list[Hit]:
        """The ``k`` nearest records to ``vector`` (KNN, pre-filtered), closest first.

        ``fields`` are the record fields Redis sends back (a subset of ``doc_id``, ``text``, ``metadata``,
        ``extra``): an adapter that has no use for one saves its transfer and decoding.
        """
        args = self._knn.args(filter, k, fields, self.ef_runtime)
        blob = self.layout.vector_bytes(vector, "query vector")
        if self._cluster:
            return hits_from_results(
                self.layout, self._run(vector_query(self.layout, vector, k, filter, self.ef_runtime))
            )
        reply = self.client.execute_command(*args, "PARAMS", 2, "vector", blob, "DIALECT", 2)
        return parse_reply(self.layout, reply, self._similarity)

    @metrics.timed("store.search")
    async def asearch(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fields: Sequence[str] = QUERY_FIELDS,
    ) -> list[Hit]:
        args = self._knn.args(filter, k, fields, self.ef_runtime)
        blob = self.layout.vector_bytes(vector, "query vector")
        if self._cluster:
            query = vector_query(self.layout, vector, k, filter, self.ef_runtime)
            return hits_from_results(self.layout, await self._arun(query))
        reply = await self.async_client.execute_command(*args, "PARAMS", 2, "vector", blob, "DIALECT", 2)
        return parse_reply(self.layout, reply, self._similarity)

    @metrics.timed("store.text_search")
    def text_search(self, text: str, k: int = 4, filter: FilterLike = None) -> list[Hit]:
        """BM25 over the chunk text; ``score`` is the BM25 score, ``distance`` its negation (lower is better)."""
        return hits_from_results(self.layout, self._run(text_query(self.layout, text, k, filter)), score_field="score")

    @metrics.timed("store.text_search")
    async def atext_search(self, text: str, k: int = 4, filter: FilterLike = None) -> list[Hit]:
        rows = await self._arun(text_query(self.layout, text, k, filter))
        return hits_from_results(self.layout, rows, score_field="score")

    @metrics.timed("store.hybrid_search")
    def hybrid_search(
        self,
        text: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fetch_k: int | None = None,
        alpha: float | None = None,
        fusion: HybridFusion | None = None,
    ) -> list[Hit]:
        """BM25 and KNN results fused into one ranking (:func:`.query.relative_score_fuse` or ``"rrf"``).

        ``alpha`` weighs the vector side (1 = vectors only, 0 = BM25 only); ``alpha`` and ``fusion`` default to
        the settings' ``hybrid_alpha`` / ``hybrid_fusion``. Each side fetches ``fetch_k`` candidates.
        """
        n = fetch_k or max(4 * k, 20)
        return self._fuse([self.search(vector, n, filter), self.text_search(text, n, filter)], k, alpha, fusion)

    @metrics.timed("store.hybrid_search")
    async def ahybrid_search(
        self,
        text: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        filter: FilterLike = None,
        fetch_k: int | None = None,
        alpha: float | None = None,
        fusion: HybridFusion | None = None,
    ) -> list[Hit]:
        n = fetch_k or max(4 * k, 20)
        dense, sparse = await asyncio.gather(self.asearch(vector, n, filter), self.atext_search(text, n, filter))
        return self._fuse([dense, sparse], k, alpha, fusion)

    @metrics.timed("store.fusion")
    def _fuse(self, rankings: list[list[Hit]], k: int, alpha: float | None, fusion: HybridFusion | None) -> list[Hit]:
        alpha = self.settings.hybrid_alpha if alpha is None else alpha
        fusion = fusion or self.settings.hybrid_fusion
        if fusion == "rrf":
            return rrf_fuse(rankings, k, _alpha_weights(alpha))
        if fusion == "relative_score":
            return relative_score_fuse(rankings, k, _alpha_weights(alpha))
        raise ValueError(f"unknown hybrid fusion {fusion!r}; use 'relative_score' or 'rrf'")

    @metrics.timed("store.mmr_search")
    def mmr_search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[Hit]:
        """``k`` of the ``fetch_k`` nearest records, chosen for relevance and diversity (MMR)."""
        hits = self.search(vector, max(fetch_k, k), filter)
        vectors = self.get([h.record.id for h in hits], with_vectors=True)
        return _mmr(vector, hits, vectors, k, lambda_mult)

    @metrics.timed("store.mmr_search")
    async def ammr_search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[Hit]:
        hits = await self.asearch(vector, max(fetch_k, k), filter)
        vectors = await self.aget([h.record.id for h in hits], with_vectors=True)
        return _mmr(vector, hits, vectors, k, lambda_mult)

    def close(self) -> None:
        """Let go of the clients: shared ones stay open for other components, async ones close with their loop."""
        self._clients.release()

    async def aclose(self) -> None:
        self._clients.release()


def _refuse_overlapping_prefix(client: SyncClient, layout: Layout) -> None:
    """Refuse an index whose key prefix contains, or lies inside, another index's prefix.

    Why: an index sees every hash under its prefix. Index ``docs`` (keys ``docs:*``) would also return the records of
    an index ``docs:fr`` (keys ``docs:fr:*``), and one record written to ``docs:fr`` would appear in both. Checked once,
    when the index is created; a server that refuses ``FT._LIST`` / ``FT.INFO`` (an ACL) skips the check.
    """
    if isinstance(client, RedisCluster) or hasattr(client, "nodes_manager"):
        return  # each node lists only its own indexes: no complete answer to check against
    ours = layout.key_prefix + layout.key_separator
    try:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in client.execute_command("FT._LIST")]
        for name in names:
            info = client.ft(name).info()
            definition = info.get("index_definition") or []
            pairs = dict(zip(definition[::2], definition[1::2], strict=False)) if isinstance(definition, list) else {}
            prefixes = pairs.get("prefixes") or pairs.get(b"prefixes") or []
            for prefix in prefixes:
                theirs = prefix.decode() if isinstance(prefix, bytes) else str(prefix)
                if theirs and (ours.startswith(theirs) or theirs.startswith(ours)):
                    raise LayoutMismatchError(
                        f"index {layout.index_name!r} (keys {ours}*) would overlap index {name!r} (keys {theirs}*): "
                        "each would return the other's records. Choose an index name or key prefix that neither "
                        "contains nor lies inside another index's prefix"
                    )
    except ResponseError:
        return


def _ids(ids: Iterable[str] | None) -> list[str]:
    if ids is None:
        return []
    if isinstance(ids, str):
        raise TypeError("pass a list of ids, not a single string")
    out = list(ids)
    for i in out:
        if not isinstance(i, str) or not i:
            raise ValueError(f"ids must be non-empty strings, got {i!r}")
    return out


def _stale(keys: list[str], doc_ids: list[Any], prefix: str) -> list[str]:
    out = [k[len(prefix) + 1 :] for k in keys]
    out.extend(tags.decode(d.decode()) for d in doc_ids if d)
    return list(dict.fromkeys(out))


def _alpha_weights(alpha: float) -> list[float]:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    return [alpha, 1.0 - alpha]


def _mmr(query: Sequence[float] | np.ndarray, hits: list[Hit], records: list[Record], k: int, lam: float) -> list[Hit]:
    by_id = {r.id: r.vector for r in records if r.vector is not None}
    kept = [h for h in hits if h.record.id in by_id]
    if not kept:
        return []
    matrix = np.stack([by_id[h.record.id] for h in kept])
    return [kept[i] for i in mmr_order(np.asarray(query, dtype=np.float32), matrix, k, lam)]


class _Scripts(NamedTuple):
    """The new-first path's two scripts, registered on one client (redis-py loads them on first use)."""

    new_records: Any
    invalidate: Any

    @classmethod
    def on(cls, client: Any) -> _Scripts:
        return cls(client.register_script(writes.NEW_RECORDS_SCRIPT), client.register_script(writes.INVALIDATE_SCRIPT))


def _assembled(checked: Iterable[tuple[str, Checked]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Hash fields of checked records, assembled lazily (as their batch is about to be sent)."""
    for key, c in checked:
        yield key, Layout.assemble(c)
