"""Swap a document's whole chunk set in one MULTI/EXEC, so readers see the old version or the new, never a mix."""

from __future__ import annotations

from collections.abc import Sequence

from redisvl.query.filter import Tag

from .. import freshness
from ..store.index import RedisVectorIndex
from ..store.layout import DOC_ID, Record


def replace_document(
    index: RedisVectorIndex, doc_id: str, records: Sequence[Record], *, state: tuple[str, str, str] | None = None
) -> int:
    """Make ``records`` the only chunks of ``doc_id`` in ``index``; returns how many old chunks were removed.

    Every record is encoded (and so validated: dims, metadata) before anything is written. Chunks of the old
    version that the new one lacks are deleted in the same transaction as the new chunks are written, and the
    optional ``state`` hash field ``(key, field, value)`` is set with them, so the pipeline's bookkeeping can never
    disagree with the index. Cache entries built from the document are invalidated afterwards.
    """
    for record in records:
        if record.doc_id != doc_id:
            raise ValueError(f"record {record.id!r} belongs to {record.doc_id!r}, not {doc_id!r}")
    layout = index.layout
    encoded = [(layout.key(r.id), layout.encode(r)) for r in records]
    old_ids = {r.id for r in index.find(Tag(DOC_ID) == doc_id, limit=100_000)}
    stale = old_ids - {r.id for r in records}
    pipe = index._pipeline(index.client)
    for record_id in stale:
        pipe.delete(layout.key(record_id))
    for key, mapping in encoded:
        pipe.delete(key)  # no field of an older layout survives
        pipe.hset(key, mapping=mapping)
    if state is not None:
        pipe.hset(state[0], state[1], state[2])
    pipe.execute()
    if index.invalidate_caches:
        freshness.invalidate_documents(index.client, [doc_id, *old_ids])
    return len(stale)
