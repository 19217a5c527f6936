"""What a cache entry holds, and the source references that keep RAG answers fresh.

An entry is one Redis hash written in a single MULTI: either all of its fields exist or none do, so a crash or a
connection drop in the middle of a store can never leave a half-written entry that a later lookup would return.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .guard import CacheInputError


@dataclass(frozen=True)
class SourceRef:
    """A source document an answer was built from: its id (what the vector store invalidates) and content hash."""

    id: str
    content_hash: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"id": self.id, "hash": self.content_hash}


def source_fingerprint(text: str, metadata: Mapping[str, Any] | None = None) -> str:
    """sha256 of a document's text and metadata (canonical JSON), the fingerprint recorded with RAG answers.

    Used only when a retrieved document carries no ``content_hash`` of its own (the store's records do: see
    :func:`..store.records.content_hash`, a different encoding). Named apart from that one because the two give
    different digests for the same text: one name, one meaning.
    """
    key = _fingerprint_key(text, metadata)
    found = _FINGERPRINTS.get(key) if key is not None else None
    if found is not None:
        return found
    body = text + "\x00" + json.dumps(dict(metadata or {}), sort_keys=True, default=repr)
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    if key is not None:
        if len(_FINGERPRINTS) >= _MAX_FINGERPRINTS:
            _FINGERPRINTS.clear()
        _FINGERPRINTS[key] = digest
    return digest


#: Fingerprints of documents seen lately: the RAG agent middleware fingerprints its ``k`` passages on every model
#: call, mostly the same ones (the canonical JSON of the metadata was two thirds of ``sources_of``'s time).
_FINGERPRINTS: dict[tuple[Any, ...], str] = {}
_MAX_FINGERPRINTS = 1024
_SCALARS = frozenset({str, int, bool, type(None)})


def _fingerprint_key(text: Any, metadata: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """A key that equals another only when both give the same fingerprint: the text, and the metadata's items in
    order with each value's exact type (``1``, ``1.0`` and ``True`` are equal in Python, not in JSON) and a float
    by its ``repr`` (``-0.0``, ``nan``); ``None`` (not kept) for anything else (containers, other types)."""
    if type(text) is not str:
        return None
    items: list[Any] = [text]
    for name, value in (metadata or {}).items():
        kind = type(value)
        if type(name) is not str:
            return None
        if kind is float:
            items.append((name, kind, repr(value)))
        elif kind in _SCALARS:
            items.append((name, kind, value))
        else:
            return None
    return tuple(items)


@dataclass(frozen=True)
class CacheHit:
    """A cached answer and how close its question was (cosine distance: 0 identical .. 2 opposite)."""

    key: str
    prompt: str
    response: str
    distance: float
    payload: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> list[SourceRef]:
        return [SourceRef(s["id"], s.get("hash")) for s in self.meta.get("sources", [])]


def encode_meta(meta: Mapping[str, Any] | None, sources: Sequence[SourceRef] | None) -> str:
    """JSON for the ``meta`` field; refuses values JSON cannot carry instead of storing their ``repr``."""
    body: dict[str, Any] = dict(meta or {})
    if sources:
        for ref in sources:
            if not isinstance(ref, SourceRef) or not isinstance(ref.id, str) or not ref.id:
                raise CacheInputError(f"sources must be SourceRef objects with a non-empty str id, got {ref!r}")
        body["sources"] = [ref.to_json() for ref in sources]
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CacheInputError(f"cache entry metadata is not JSON-serializable: {exc}") from exc


def decode_hit(row: Mapping[str, Any]) -> CacheHit:
    """Turn one search result row into a :class:`CacheHit`."""

    def text(name: str) -> str:
        value = row.get(name, "")
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    payload = text("extra") or None
    raw_meta = text("meta")
    return CacheHit(
        key=text("id"),
        prompt=text("prompt"),
        response=text("response"),
        distance=max(0.0, float(row.get("vector_distance", 0.0))),
        payload=payload,
        meta=json.loads(raw_meta) if raw_meta else {},
    )
