"""Opening an index that may already exist: adopt its layout, refuse one that does not fit, read legacy ones.

Why a module of its own: what an existing index looks like (``FT.INFO`` through redisvl's schema) is decided once,
when :class:`~.index.RedisVectorIndex` is built, and never again on the hot path. Everything here turns an
existing index into a :class:`~.layout.Layout` (ours, or the read-only layout of an index written by
langchain-redis or llama-index-vector-stores-redis), or into a clear error before anything is written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from redis.exceptions import ResponseError
from redisvl.exceptions import RedisVLError
from redisvl.index import SearchIndex

from ..connection import SyncClient, is_cluster
from ..decoding import as_str
from ..errors import IndexNotFoundError, RedisRagError
from ..placement import prefix_tag
from .layout import RESERVED_FIELDS, VECTOR, Layout, detect_dialect

#: The fields (and their index types) an index must have to be read and written in this package's layout.
REQUIRED_FIELDS = {"id": "tag", "doc_id": "tag", "text": "text", "vector": "vector", "content_hash": "tag"}


class LayoutMismatchError(RedisRagError, ValueError):
    """An index of that name exists with another layout (other dims, or not written by this package)."""


def existing_dims(client: SyncClient, name: str) -> int:
    """The vector dims of the existing index ``name`` (for callers that do not know their model's dims)."""
    try:
        schema = SearchIndex.from_existing(name, redis_client=client).schema
    except RedisVLError as exc:
        raise IndexNotFoundError(
            f"index {name!r} does not exist and no dims were given to create it: pass dims "
            "(or an embedding model), or add data first"
        ) from exc
    vectors = [f for f in schema.fields.values() if str(getattr(f.type, "value", f.type)) == "vector"]
    if not vectors:
        raise LayoutMismatchError(f"index {name!r} has no vector field: it is not a vector index")
    return int(vectors[0].attrs.dims)


def reconcile(
    client: SyncClient, wanted: Layout, explicit_fields: bool, explicit: frozenset[str] = frozenset()
) -> Layout:
    """The layout to use: ``wanted``, checked against (and completed from) an existing index of that name.

    Declared fields the index lacks are added in place (``FT.ALTER`` and a backfill of the old records:
    :mod:`.evolution`); what cannot change in place (dims; the algorithm, metric, datatype or prefix named in
    ``explicit``; a field's type) is refused with the command that migrates or drops it.
    """
    from . import evolution  # here: evolution's error class derives from this module's

    probe = SearchIndex(wanted.schema(), redis_client=client)
    if not probe.exists():
        return wanted
    existing = SearchIndex.from_existing(wanted.index_name, redis_client=client).schema
    types = {name: f.type.value if hasattr(f.type, "value") else str(f.type) for name, f in existing.fields.items()}
    missing = {n: t for n, t in REQUIRED_FIELDS.items() if types.get(n) != t}
    legacy = detect_dialect(types) if missing else None
    if legacy is not None:
        return _legacy_layout(wanted, existing, types, *legacy)
    if missing:
        raise LayoutMismatchError(
            f"index {wanted.index_name!r} exists but was not built in this package's layout (it lacks "
            f"{', '.join(f'{n} ({t})' for n, t in missing.items())}; it has {', '.join(sorted(types))}). "
            "Use another index name, or drop that index."
        )
    attrs = existing.fields[VECTOR].attrs
    have = {n: t for n, t in types.items() if n not in REQUIRED_FIELDS}
    prefixes = existing.index.prefix
    prefix = (prefixes[0] if isinstance(prefixes, list) else prefixes).removesuffix(wanted.key_separator)
    found = Layout(
        index_name=wanted.index_name,
        dims=int(attrs.dims),
        prefix=prefix,
        metadata_fields=have,  # type: ignore[arg-type]
        **_vector_attrs(attrs),
    )
    evolution.compare(found, wanted, explicit)
    added: dict[str, Any] = {}
    if explicit_fields:
        evolution.changed_types(wanted.index_name, have, wanted.metadata_fields)
        added = {n: t for n, t in wanted.metadata_fields.items() if n not in have}
    layout = dataclasses.replace(found, metadata_fields={**have, **added})
    if added:
        evolution.add_fields(client, layout, added)
    else:
        evolution.resume(client, layout)
    return layout


def _legacy_layout(wanted: Layout, existing: Any, types: dict[str, str], dialect: str, vfield: str) -> Layout:
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
        prefix = prefix.removesuffix(":")
    fields = {
        n: t for n, t in types.items() if n not in (vfield, *RESERVED_FIELDS) and t in ("tag", "numeric", "text", "geo")
    }
    return Layout(
        index_name=wanted.index_name,
        dims=wanted.dims,
        prefix=prefix,
        metadata_fields=fields,  # type: ignore[arg-type]
        dialect=dialect,  # type: ignore[arg-type]
        vector_field=vfield,
        **_vector_attrs(attrs),
    )


def _vector_attrs(attrs: Any) -> dict[str, Any]:
    """The existing vector field's algorithm, metric and datatype, as the lower-case names :class:`Layout` takes."""
    names = ("algorithm", "distance_metric", "datatype")
    return {n: str(getattr(getattr(attrs, n), "value", getattr(attrs, n))).lower() for n in names}


def info_dict(info: Any) -> dict[Any, Any]:
    """``FT.INFO`` as a dict: redis-py's ``ft().info()`` gives one, a bare RESP2 reply is a flat list."""
    if isinstance(info, list):
        return {as_str(k): v for k, v in zip(info[::2], info[1::2], strict=False)}
    return {as_str(k): v for k, v in info.items()}


def num_docs(info: Any) -> int:
    """``num_docs`` of an ``FT.INFO`` reply, whichever protocol sent it (what ``count`` reports)."""
    value = info_dict(info).get("num_docs")
    return int(float(as_str(value))) if value not in (None, b"", "") else 0


def refuse_overlapping_prefix(client: SyncClient, layout: Layout) -> None:
    """Refuse an index whose key prefix contains, or lies inside, another index's prefix.

    Why: an index sees every hash under its prefix. Index ``docs`` (keys ``docs:*``) would also return the records of
    an index ``docs:fr`` (keys ``docs:fr:*``), and one record written to ``docs:fr`` would appear in both. Checked once,
    when the index is created; a server that refuses ``FT._LIST`` / ``FT.INFO`` (an ACL) skips the check. On a
    cluster each node lists only its own indexes: an index whose prefix pins one slot (a tenant's) is checked against
    that slot's node, where every index over such keys lives; others are not checked (no complete answer there).
    """
    ours = layout.key_prefix + layout.key_separator
    options: dict[str, Any] = {}
    if is_cluster(client):
        if prefix_tag(ours) is None:
            return
        options["target_nodes"] = client.get_node_from_key(ours)  # type: ignore[union-attr]
    try:
        for name in map(as_str, client.execute_command("FT._LIST", **options)):
            info = info_dict(client.execute_command("FT.INFO", name, **options) if options else client.ft(name).info())
            pairs = info_dict(info.get("index_definition") or [])  # a flat list (RESP2) or a map (RESP3)
            for theirs in map(as_str, pairs.get("prefixes") or []):
                if theirs and (ours.startswith(theirs) or theirs.startswith(ours)):
                    raise LayoutMismatchError(
                        f"index {layout.index_name!r} (keys {ours}*) would overlap index {name!r} (keys {theirs}*): "
                        "each would return the other's records. Choose an index name or key prefix that neither "
                        "contains nor lies inside another index's prefix"
                    )
    except ResponseError:
        return
