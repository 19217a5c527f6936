"""Document events as they travel through a Redis Stream, and the keys one ingestion pipeline uses.

An event is one stream entry with two fields: ``op`` (``upsert`` / ``delete``) and ``body`` (JSON). Keeping the
payload in one JSON field means a malformed entry is detected in one place (:func:`decode_event`) and moved to the
dead-letter stream whole, with its raw fields, instead of half-processed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import tenancy
from ..store.layout import content_hash

Op = Literal["upsert", "delete"]


class PoisonEvent(ValueError):
    """An event that can never be processed (undecodable); it goes straight to the dead-letter stream."""


@dataclass(frozen=True)
class StreamKeys:
    """Every key of one pipeline, under one hash tag so a cluster keeps them on one shard: ``ingest:{docs}:...``,
    or for a tenant its tag, ``rag:{t}:ingest:docs:...`` (the tenant's shard, beside its index and records)."""

    index_name: str
    tenant: tenancy.Tenant | None = None

    @classmethod
    def of_index(cls, index: Any) -> StreamKeys:
        """The pipeline of a :class:`~..store.RedisVectorIndex` (its name without the tenant's root, its tenant)."""
        tenant = getattr(index, "tenant", None)
        name = index.name[len(tenant.root) :] if tenant is not None else index.name
        return cls(name, tenant)

    @property
    def tag(self) -> str:
        if self.tenant is not None:
            return self.tenant.scoped(f"ingest:{self.index_name}")
        return f"ingest:{{{self.index_name}}}"

    @property
    def events(self) -> str:
        return f"{self.tag}:events"

    @property
    def dead_letters(self) -> str:
        return f"{self.tag}:dead"

    @property
    def failures(self) -> str:
        """stream entry id -> how many times processing it failed (bounds retries)."""
        return f"{self.tag}:failures"


@dataclass(frozen=True)
class DocumentEvent:
    op: Op
    doc_id: str
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    published_at: float = 0.0  # wall-clock seconds at publish: measures publish -> searchable

    @property
    def content_hash(self) -> str:
        return content_hash(self.text, self.metadata)

    def encode(self) -> dict[str, str]:
        body: dict[str, Any] = {"doc_id": self.doc_id, "ts": self.published_at or time.time()}
        if self.op == "upsert":
            body |= {"text": self.text, "metadata": self.metadata}
        return {"op": self.op, "body": json.dumps(body, ensure_ascii=False)}


def upsert_event(doc_id: str, text: str, metadata: dict[str, Any] | None = None) -> DocumentEvent:
    """Validate at the producer, so bad input fails where it is written, not later in a worker."""
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"doc_id must be a non-empty string, got {doc_id!r}")
    if not isinstance(text, str):
        raise TypeError(f"text of {doc_id!r} must be a str, got {type(text).__name__}")
    meta = dict(metadata or {})
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata of {doc_id!r} is not JSON-serializable: {exc}") from exc
    return DocumentEvent("upsert", doc_id, text, meta, time.time())


def delete_event(doc_id: str) -> DocumentEvent:
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"doc_id must be a non-empty string, got {doc_id!r}")
    return DocumentEvent("delete", doc_id, published_at=time.time())


def decode_event(fields: dict[Any, Any]) -> DocumentEvent:
    """Parse a stream entry; raise :class:`PoisonEvent` for anything that is not a well-formed event."""
    try:
        raw = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
        op = raw["op"].decode() if isinstance(raw["op"], bytes) else raw["op"]
        body = json.loads(raw["body"])
        if op not in ("upsert", "delete"):
            raise ValueError(f"unknown op {op!r}")
        doc_id = body["doc_id"]
        if not isinstance(doc_id, str) or not doc_id:
            raise ValueError("doc_id missing or empty")
        if op == "delete":
            return DocumentEvent("delete", doc_id, published_at=float(body.get("ts", 0)))
        text, metadata = body["text"], body.get("metadata") or {}
        if not isinstance(text, str) or not isinstance(metadata, dict):
            raise ValueError("text must be a string and metadata an object")
        return DocumentEvent("upsert", doc_id, text, metadata, float(body.get("ts", 0)))
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, AttributeError) as exc:
        raise PoisonEvent(f"undecodable event: {exc!s}") from exc
