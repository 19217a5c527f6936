""":class:`VectorSetIndex`: the vector store core on a Redis 8 vector set, behind :class:`~..index.RedisVectorIndex`.

``RedisVectorIndex(..., backend="vectorset")`` (or ``REDIS_RAG_BACKEND=vectorset``) builds one of these, so the
adapters, the ingestion worker and the caches' freshness links drive it unchanged. A subclass so that it *is* a
``RedisVectorIndex`` to every caller, but it overrides every public method (a test checks that none is inherited:
an inherited one would send ``FT.*`` commands to an index that has none). What a vector set cannot do (BM25 text
search, hybrid, text and geo fields) raises :class:`.layout.VectorSetUnsupported` naming the query-engine backend.

Opening: the options a set was built with live in its meta hash (:class:`.layout.VectorSetKeys`), so a second
process, or the other framework, opens it with the same dims, fields and quantisation without repeating them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from ... import metrics, replication, tenancy
from ...clients import RedisClients
from ...connection import AsyncClient, SyncClient, is_cluster
from ...decoding import as_str
from ...errors import IndexNotFoundError
from ...freshness import keys_of
from ...settings import Settings, get_settings
from .. import versioned as common
from ..executor import Plan, aapply, apply
from ..filters import FilterLike
from ..index import WRITE_BATCH, RedisVectorIndex
from ..layout import Checked, FieldType, Layout, Record
from ..opening import LayoutMismatchError
from ..search import check_ids
from . import versioned, writes
from .layout import (
    QUANT_INFO,
    QUERY_ENGINE,
    AttributeCodec,
    VectorSetKeys,
    VectorSetOptions,
    check_fields,
    unsupported,
)
from .query import VsimPlanner
from .search import VectorSetReads


class VectorSetIndex(VectorSetReads, RedisVectorIndex):
    """One vector store index in a Redis 8 vector set (``VADD`` / ``VSIM``), sync and async."""

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
        tenant: tenancy.TenantLike = None,
        backend: str | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.tenant = tenancy.resolve(tenant)
        if self.tenant is not None:
            base = index_name or self.settings.index_name
            prefix = self.tenant.scoped(prefix or (self.settings.key_prefix if index_name is None else None) or base)
            index_name = self.tenant.scoped(base)
        s = self.settings
        if s.distance_metric != "cosine":
            raise unsupported(f"distance_metric={s.distance_metric!r} (vector sets compare by cosine only)")
        if s.vector_datatype != "float32":
            raise unsupported(
                f"vector_datatype={s.vector_datatype!r} (a vector set quantises on its own: set "
                "vectorset_quantization to q8, bin or noquant)"
            )
        if s.vector_algorithm != "hnsw":
            raise unsupported(f"vector_algorithm={s.vector_algorithm!r} (a vector set is an HNSW graph)")
        # Vector sets are built into Redis 8: no search module is required (a plain Redis 8 or a managed one will do).
        self._clients = RedisClients(url, settings=s, client=client, async_client=async_client, require=("vectorset",))
        self.client: SyncClient = self._clients.client
        self.invalidate_caches = invalidate_caches
        self.ef_runtime = s.hnsw_ef_runtime
        self._cluster = is_cluster(self.client)
        name = index_name or s.index_name
        self.keys = VectorSetKeys(prefix or (s.key_prefix if index_name is None else None) or name)
        if self.tenant is None:
            tenancy.check_untenanted(name, "index name")
            tenancy.check_untenanted(self.keys.prefix, "key prefix")
        self.options, dims, fields = self._open(name, dims, metadata_fields, VectorSetOptions.from_settings(s))
        check_fields(fields)
        self.layout = Layout(index_name=name, dims=dims, prefix=self.keys.prefix, metadata_fields=fields,
                             hnsw_m=self.options.m, hnsw_ef_construction=self.options.ef_construction)  # fmt: skip
        self.codec = AttributeCodec(fields)
        self._vsim = VsimPlanner(self.keys.vset, fields, self.options)
        if create:
            self._create()
        #: ``write_replicas`` > 0: every write waits for replicas (a marker on the set's slot: :mod:`...replication`).
        self._durability = replication.Durability.from_settings(s, replication.marker_for(self.keys.vset))

    # --- opening ---------------------------------------------------------------------------------------------

    def _open(
        self, name: str, dims: int | None, fields: dict[str, FieldType] | None, wanted: VectorSetOptions
    ) -> tuple[VectorSetOptions, int, dict[str, FieldType]]:
        """Adopt the meta hash of an existing set (refusing a different dims / fields), else what was asked."""
        meta = {as_str(k): as_str(v) for k, v in self.client.hgetall(self.keys.meta).items()}
        if not meta:
            if self._query_engine_index_exists(name):
                raise LayoutMismatchError(
                    f"index {name!r} exists as a query-engine index: open it with backend='query_engine', or use "
                    "another index name for a vector set"
                )
            if dims is None:
                raise IndexNotFoundError(
                    f"vector-set index {name!r} does not exist and no dims were given to create it: pass dims "
                    "(or an embedding model), or add data first"
                )
            return wanted, dims, dict(fields or {})
        have_dims, have_fields = int(meta["dims"]), json.loads(meta["fields"])
        if dims is not None and dims != have_dims:
            raise LayoutMismatchError(
                f"vector-set index {name!r} holds {have_dims}-dimensional vectors but the embedding model makes "
                f"{dims}: use the model the index was built with, or another index name"
            )
        if fields is not None and any(have_fields.get(n) != t for n, t in fields.items()):
            raise LayoutMismatchError(
                f"vector-set index {name!r} exists with the metadata fields {have_fields or 'none'}, not {fields}: "
                "filters on the others would find nothing, and a vector set cannot add fields in place. Drop it "
                f"and re-ingest (RedisVectorIndex({name!r}, backend='vectorset').drop() deletes the set and its "
                "records), or use another index name (or backend='query_engine', which adds fields in place)"
            )
        reduce = int(meta["reduce"]) or None
        options = VectorSetOptions(meta["quantization"], reduce, int(meta["m"]), int(meta["ef_construction"]),  # type: ignore[arg-type]
                                   wanted.ef_runtime, wanted.filter_ef, wanted.threaded)  # fmt: skip
        return options, have_dims, have_fields

    def _query_engine_index_exists(self, name: str) -> bool:
        try:
            self.client.execute_command("FT.INFO", name)
        except Exception:  # no such index, or no search module at all: either way no clash
            return False
        return True

    def _create(self) -> None:
        o = self.options
        meta = {"dims": self.layout.dims, "fields": json.dumps(dict(self.layout.metadata_fields)),
                "quantization": o.quantization, "reduce": o.reduce or 0, "m": o.m, "ef_construction": o.ef_construction,
                "name": self.layout.index_name}  # fmt: skip
        pipe = self.client.pipeline(transaction=True)
        for field, value in meta.items():
            pipe.hsetnx(self.keys.meta, field, value)  # a racing creator's options win whole or not at all
        pipe.execute()
        self.client.script_load(writes.UPSERT_SCRIPT)

    @property
    def name(self) -> str:
        return self.layout.index_name

    @property
    def backend(self) -> str:
        return "vectorset"

    @property
    def aindex(self) -> NoReturn:
        raise unsupported("redisvl's search index (aindex)")

    def info(self) -> dict[str, Any]:
        """The server's ``VINFO`` of the set (quantisation, dims, size...) and the options it was built with."""
        raw = self.client.execute_command("VINFO", self.keys.vset) or {}
        pairs = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2], strict=True)
        info = {as_str(k): as_str(v) if isinstance(v, bytes) else v for k, v in pairs}
        if "quant-type" in info:
            info["quantization"] = QUANT_INFO.get(info["quant-type"], info["quant-type"])
        return info

    def _apply(self, plan: Plan[Any], *, wait: bool = True) -> Any:
        return apply(self.client, plan, self._durability if wait else None)

    async def _aapply(self, plan: Plan[Any], *, wait: bool = True) -> Any:
        return await aapply(self.async_client, plan, self._durability if wait else None)

    # --- writing ---------------------------------------------------------------------------------------------

    def _checked(self, records: Sequence[Record]) -> list[Checked]:
        """Every record checked before any is written: one bad record fails the call and loses nothing."""
        checked = [_check(self.layout, r) for r in records]
        seen: set[str] = set()
        for c in checked:
            if c.record.id in seen:
                raise ValueError(f"record id {c.record.id!r} appears twice in one call")
            seen.add(c.record.id)
        return checked

    def _upsert_plan(self, records: Sequence[Record], batch_size: int) -> Plan[None]:
        checked = self._checked(records)
        return writes.upsert(self.keys, self.codec, self.options, checked, self.invalidate_caches, self._cluster,
                             batch_size)  # fmt: skip

    @metrics.timed("store.upsert")
    def upsert(self, records: Sequence[Record], batch_size: int = WRITE_BATCH) -> list[str]:
        """Write ``records``, each replaced atomically (element, attributes, document set; :mod:`.writes`)."""
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
        return self._apply(writes.delete(self.keys, check_ids(ids), self.invalidate_caches, self._cluster))

    @metrics.timed("store.delete")
    async def adelete(self, ids: Iterable[str]) -> int:
        return await self._aapply(writes.delete(self.keys, check_ids(ids), self.invalidate_caches, self._cluster))

    @metrics.timed("store.delete")
    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        plan = writes.delete_documents(self.keys, check_ids(doc_ids), self.invalidate_caches, self._cluster)
        return self._apply(plan)

    @metrics.timed("store.delete")
    async def adelete_documents(self, doc_ids: Iterable[str]) -> int:
        plan = writes.delete_documents(self.keys, check_ids(doc_ids), self.invalidate_caches, self._cluster)
        return await self._aapply(plan)

    def _document_steps(
        self, doc_id: str, op: common.Op, version: common.Version, records: Sequence[Record], **kw: Any
    ) -> common.Steps:
        checked = self._checked(records)
        if op == "upsert" and kw.get("content_hash") is None:
            kw["content_hash"] = common.chunks_hash(records)
        return versioned.write_steps(self.keys, self.codec, self.options, doc_id, op, version, checked,
                                     invalidate=self.invalidate_caches, cluster=self._cluster, **kw)  # fmt: skip

    def replace_document(
        self, doc_id: str, records: Sequence[Record], *, version: common.Version, content_hash: str | None = None
    ) -> common.DocumentWrite:
        steps = self._document_steps(doc_id, "upsert", version, records, content_hash=content_hash)
        return self._apply(common.settled(steps, keys_of(self.keys.prefix)))

    async def areplace_document(
        self, doc_id: str, records: Sequence[Record], *, version: common.Version, content_hash: str | None = None
    ) -> common.DocumentWrite:
        steps = self._document_steps(doc_id, "upsert", version, records, content_hash=content_hash)
        return await self._aapply(common.settled(steps, keys_of(self.keys.prefix)))

    def delete_document(
        self, doc_id: str, *, version: common.Version, tombstone_ttl: int = common.TOMBSTONE_TTL
    ) -> common.DocumentWrite:
        steps = self._document_steps(doc_id, "delete", version, (), tombstone_ttl=tombstone_ttl)
        return self._apply(common.settled(steps, keys_of(self.keys.prefix)))

    async def adelete_document(
        self, doc_id: str, *, version: common.Version, tombstone_ttl: int = common.TOMBSTONE_TTL
    ) -> common.DocumentWrite:
        steps = self._document_steps(doc_id, "delete", version, (), tombstone_ttl=tombstone_ttl)
        return await self._aapply(common.settled(steps, keys_of(self.keys.prefix)))

    def advance_document(self, doc_id: str, content_hash: str, *, version: common.Version) -> common.DocumentWrite:
        return self._apply(self._document_steps(doc_id, "advance", version, (), content_hash=content_hash))

    async def aadvance_document(
        self, doc_id: str, content_hash: str, *, version: common.Version
    ) -> common.DocumentWrite:
        return await self._aapply(self._document_steps(doc_id, "advance", version, (), content_hash=content_hash))

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, common.DocumentState]:
        return self._apply(versioned.read_states(self.keys, check_ids(doc_ids)), wait=False)

    async def adocument_states(self, doc_ids: Sequence[str]) -> dict[str, common.DocumentState]:
        return await self._aapply(versioned.read_states(self.keys, check_ids(doc_ids)), wait=False)

    def delete_where(self, filter: FilterLike) -> int:
        total = 0
        while batch := self.find(filter, limit=WRITE_BATCH):
            total += self.delete([r.id for r in batch])
        return total

    async def adelete_where(self, filter: FilterLike) -> int:
        total = 0
        while batch := await self.afind(filter, limit=WRITE_BATCH):
            total += await self.adelete([r.id for r in batch])
        return total

    # --- lifecycle -------------------------------------------------------------------------------------------

    def _all_keys(self, with_meta: bool) -> list[Any]:
        found = [self.keys.vset]
        for infix in ("~vs:doc:", "~doc:"):
            found += self.client.scan_iter(match=self.keys.pattern(infix), count=1000)
        return [*found, self.keys.meta] if with_meta else found

    async def _aall_keys(self, with_meta: bool) -> list[Any]:
        found: list[Any] = [self.keys.vset]
        for infix in ("~vs:doc:", "~doc:"):
            found += [k async for k in self.async_client.scan_iter(match=self.keys.pattern(infix), count=1000)]
        return [*found, self.keys.meta] if with_meta else found

    def clear(self) -> int:
        """Delete every record, the document sets and version records; keep the index (its options)."""
        removed = self.count()
        batch = self._all_keys(with_meta=False)
        for start in range(0, len(batch), 1000):
            self.client.unlink(*batch[start : start + 1000])
        return removed

    async def aclear(self) -> int:
        removed = await self.acount()
        batch = await self._aall_keys(with_meta=False)
        for start in range(0, len(batch), 1000):
            await self.async_client.unlink(*batch[start : start + 1000])
        return removed

    def drop(self, delete_records: bool = True) -> None:
        """Drop the index. A vector set *is* its records: ``delete_records=False`` is refused, not ignored."""
        if not delete_records:
            raise unsupported("dropping the index but keeping its records (the set holds the records)")
        batch = self._all_keys(with_meta=True)
        for start in range(0, len(batch), 1000):
            self.client.unlink(*batch[start : start + 1000])

    async def adrop(self, delete_records: bool = True) -> None:
        if not delete_records:
            raise unsupported("dropping the index but keeping its records (the set holds the records)")
        batch = await self._aall_keys(with_meta=True)
        for start in range(0, len(batch), 1000):
            await self.async_client.unlink(*batch[start : start + 1000])

    def exists(self) -> bool:
        return bool(self.client.exists(self.keys.meta))

    def count(self) -> int:
        return int(self.client.execute_command("VCARD", self.keys.vset) or 0)

    async def acount(self) -> int:
        return int(await self.async_client.execute_command("VCARD", self.keys.vset) or 0)

    def close(self) -> None:
        self._clients.release()

    async def aclose(self) -> None:
        self._clients.release()


__all__ = ["QUERY_ENGINE", "VectorSetIndex"]


def _check(layout: Layout, record: Record) -> Checked:
    """:meth:`Layout.check`, but an id may hold NUL: the query engine refuses it (its reads lose such keys), an
    element name is binary-safe and the filter form encodes it (ids are any string here)."""
    if not (isinstance(record.id, str) and "\x00" in record.id):
        return layout.check(record)
    c = layout.check(dataclasses.replace(record, id=record.id.replace("\x00", "\ufffd")))
    return Checked(record, c.vector, c.metadata_json, c.extra_json, c.indexed)
