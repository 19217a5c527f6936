"""The framework-neutral record types every part of the store speaks: what the adapters translate their types into
(:class:`Record`), what a search returns (:class:`Hit`), what a write checked (:class:`Checked`).

Why a module of its own: these are values, without any Redis layout; :mod:`.layout` says how they sit in a hash,
the vector-set backend stores them its own way, and the adapters, the worker and the tests build them directly.
Re-exported by :mod:`.layout` and :mod:`redis_rag_integrations.store`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class RawJson(str):
    """JSON text already encoded by the caller, stored as it is (for ``Record.extra``).

    Why: the LlamaIndex adapter gets a node's fields as JSON straight from pydantic's Rust serialiser; turning
    that into a dict only to encode it again cost a bulk add several microseconds per node.
    """


@dataclass
class Record:
    """One chunk, framework-neutral: what both adapters translate their types into and out of."""

    id: str
    text: str
    vector: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    doc_id: str | None = None
    #: Framework extras; read back as a dict. Writers may pass :class:`RawJson` of a JSON object instead.
    extra: dict[str, Any] | RawJson | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text, self.metadata)


@dataclass(frozen=True, slots=True)
class Checked:
    """A record that passed :meth:`.layout.Layout.check`, with the encodings the check produced."""

    record: Record
    vector: bytes
    metadata_json: str
    extra_json: str | None
    indexed: dict[str, str | float]


@dataclass
class Hit:
    """A query result: the record (vector left out), Redis' ``distance`` (lower is closer) and ``score``.

    ``score`` is what both adapters return, so it means the same in LangChain and LlamaIndex: a similarity,
    higher is better. For KNN it is :meth:`.layout.Layout.similarity` of the distance; for BM25 the BM25 score; for
    hybrid the fused score (relative score in [0, 1] by default, or the reciprocal-rank-fusion score).
    """

    record: Record
    distance: float
    score: float


def content_hash(text: str, metadata: Mapping[str, Any]) -> str:
    """A stable hash of text + metadata: equal content gives equal hashes across processes and frameworks."""
    payload = json.dumps([text, metadata], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
