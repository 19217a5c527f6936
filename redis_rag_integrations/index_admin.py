"""Listing, describing and dropping search indexes: what ``redis-rag index list|info|drop`` run.

Why a module apart from :mod:`.usage_report`: that report sums up sizes and latencies; this answers "what is this
index and may I remove it". Each index is classified from its fields (:func:`.usage_report.classify`): ours (a
vector store in this package's layout, a semantic cache, chat recall), a legacy one written by langchain-redis or
llama-index-vector-stores-redis (readable here, not ours), or foreign. Dropping keeps the records by default (an
index is derived data; the records are not) and refuses an index that is not ours unless forced.

On a cluster without a search coordinator every primary lists only its own indexes: ``FT._LIST`` runs on each
(:func:`.tenant_admin` does the same) and ``FT.INFO`` / ``FT.DROPINDEX`` go to the index's node
(:func:`.placement.ft_call`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from . import placement
from .connection import SyncClient
from .decoding import as_str
from .errors import IndexNotFoundError, RedisRagError
from .store import evolution
from .store.layout import Layout
from .store.versioned import records_pattern
from .tenant_admin import index_lists
from .usage_report import classify

#: Kinds written by this package (dropping them needs no ``--force``).
OURS = ("vector store", "semantic cache", "chat recall")
#: How :func:`.usage_report.classify`'s kinds are shown.
KIND_NAMES = {
    "vector store": "native vector store",
    "semantic cache": "native semantic cache",
    "chat recall": "native chat recall",
    "legacy langchain-redis": "langchain-redis (legacy)",
    "legacy llama-index": "llama-index (legacy)",
    "other": "foreign",
}


#: The kind of an index ``FT._LIST`` names but ``FT.INFO`` does not know under that name.
UNREADABLE = "unreadable (FT._LIST altered its name: a carriage return in it?)"


class NotOursError(RedisRagError, ValueError):
    """Dropping an index this package did not write, without ``force``."""


@dataclass
class IndexDetails:
    """One index as ``FT.INFO`` describes it."""

    name: str
    kind: str
    docs: int
    fields: dict[str, str] = field(default_factory=dict)
    prefixes: list[str] = field(default_factory=list)
    dims: int | None = None
    metric: str | None = None
    algorithm: str | None = None
    memory_mb: float = 0.0
    indexing: bool = False

    @property
    def ours(self) -> bool:
        return self.kind.startswith("native")


def _pairs(value: Any) -> dict[str, Any]:
    """A flat RESP2 list or a RESP3 map as ``{str: value}``."""
    if isinstance(value, dict):
        return {as_str(k): v for k, v in value.items()}
    items = list(value or [])
    return {as_str(k): v for k, v in zip(items[::2], items[1::2], strict=False)}


def _text(value: Any) -> str:
    return as_str(value, "surrogateescape") if isinstance(value, bytes | str) else str(value)


def describe(client: SyncClient, name: str) -> IndexDetails:
    """``FT.INFO`` of ``name`` (on its node) as :class:`IndexDetails`; :class:`IndexNotFoundError` if none."""
    try:
        info = _pairs(placement.ft_call(client, name, "FT.INFO", name))
    except ResponseError as exc:  # "Unknown index name" (search 2.10) / "no such index" (later engines)
        if "unknown index" in str(exc).lower() or "no such index" in str(exc).lower():
            raise IndexNotFoundError(f"no index named {name!r} (see `redis-rag index list`)") from exc
        raise
    fields: dict[str, str] = {}
    details = IndexDetails(name=name, kind="", docs=int(float(_text(info.get("num_docs", 0)))))
    for attr in info.get("attributes") or []:
        pairs = {k: _text(v) for k, v in _pairs(attr).items()}
        kind = pairs.get("type", "").lower()
        fields[pairs.get("attribute", pairs.get("identifier", ""))] = kind
        if kind == "vector":
            details.dims = int(pairs.get("dim", pairs.get("dims", "0")) or 0) or None
            details.metric = pairs.get("distance_metric", "").lower() or None
            details.algorithm = pairs.get("algorithm", "").lower() or None
    definition = _pairs(info.get("index_definition") or [])
    details.fields = fields
    details.prefixes = [_text(p) for p in definition.get("prefixes") or []]
    details.kind = KIND_NAMES[classify(fields)]
    parts = ("vector_index_sz_mb", "inverted_sz_mb", "offset_vectors_sz_mb", "doc_table_size_mb", "key_table_size_mb")
    details.memory_mb = sum(float(_text(info.get(p, 0) or 0)) for p in parts)
    details.indexing = bool(int(float(_text(info.get("indexing", 0) or 0))))
    return details


def list_indexes(client: SyncClient) -> list[IndexDetails]:
    """Every search index on this Redis (every primary of a cluster), sorted by name.

    Search 2.10.5's ``FT._LIST`` shows a carriage return in a name as the two characters ``\\r``, so ``FT.INFO`` of
    the listed name fails: such an index is listed as ``unreadable`` (its real name still works with ``info`` /
    ``drop``) instead of failing the whole list.
    """
    found = []
    for _, name in index_lists(client):
        try:
            found.append(describe(client, name))
        except IndexNotFoundError:
            found.append(IndexDetails(name=name, kind=UNREADABLE, docs=0))
    return sorted(found, key=lambda d: d.name)


@dataclass
class Dropped:
    """What :func:`drop` did."""

    name: str
    kind: str
    docs: int
    documents_deleted: bool


def drop(client: SyncClient, name: str, *, delete_documents: bool = False, force: bool = False) -> Dropped:
    """Drop index ``name``; its records stay unless ``delete_documents``. An index that is not ours is refused
    (:class:`NotOursError`) unless ``force``: its owner may still need it.

    For our vector stores the rest of the index's state follows the records: kept records are marked so that the
    index re-created over them re-encodes its declared fields (:mod:`.store.evolution`); deleted records take their
    documents' version records and that marker with them (as :meth:`.store.RedisVectorIndex.drop` does).
    """
    details = describe(client, name)
    if not details.ours and not force:
        raise NotOursError(
            f"index {name!r} is {details.kind}, not written by redis-rag: refusing to drop it (its owner may need "
            f"it). Pass --force (force=True) to drop it anyway{'' if delete_documents else ' (its records are kept)'}"
        )
    args = ("FT.DROPINDEX", name, "DD") if delete_documents else ("FT.DROPINDEX", name)
    placement.ft_call(client, name, *args)
    if details.kind == KIND_NAMES["vector store"] and details.prefixes:
        layout = Layout(index_name="x", dims=1, prefix=details.prefixes[0].removesuffix(":"))
        evolution.after_drop(client, layout, delete_documents)
        if delete_documents:
            batch = [key for key in client.scan_iter(match=records_pattern(layout), count=1000)]
            for start in range(0, len(batch), 500):
                client.unlink(*batch[start : start + 500])
    return Dropped(name, details.kind, details.docs, delete_documents)
