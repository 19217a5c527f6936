"""The one Redis layout that the LangChain and the LlamaIndex vector stores share: fields, keys, encode / decode.

One hash per chunk under ``{prefix}:{id}``, the caller's id untouched (never re-derived by stripping prefixes).
Both adapters write and read exactly these fields, so an index filled from one framework is queryable from the other:

========================  =========  ====================================================================
field                     indexed    holds
========================  =========  ====================================================================
``id``                    TAG        the record id (LangChain ``Document.id``, LlamaIndex ``node_id``)
``doc_id``                TAG        the source document (``ref_doc_id``, or metadata ``doc_id``)
``text``                  TEXT       the chunk text (BM25 for hybrid search)
``vector``                VECTOR     the embedding, float32/float16 bytes
``metadata``              -          the full metadata as JSON, so types survive (an int stays an int)
``content_hash``          TAG        sha256 of text + metadata: drives dedup and cache freshness
``extra``                 -          framework extras as JSON (LlamaIndex relationships, templates...)
declared fields           TAG etc.   copies of chosen metadata keys, so filters run inside Redis
========================  =========  ====================================================================

The record types (:mod:`.records`) and what a metadata value becomes in its indexed field (:mod:`.field_values`)
have modules of their own; their names are re-exported here, where callers import them.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from redisvl.schema import IndexSchema

from .. import tags
from ..decoding import as_str
from ..settings import Settings, get_settings

# Re-exported (``X as X``): callers import the record types and MAX_EXACT_INT from here.
from .field_values import MAX_EXACT_INT as MAX_EXACT_INT
from .field_values import TAG_SEPARATOR, check_tag_ids, holds_values, index_value
from .records import Checked, RawJson, Record
from .records import Hit as Hit
from .records import content_hash as content_hash

FieldType = Literal["tag", "numeric", "text", "geo"]

ID, DOC_ID, TEXT, VECTOR, METADATA, CONTENT_HASH, EXTRA = (
    "id",
    "doc_id",
    "text",
    "vector",
    "metadata",
    "content_hash",
    "extra",
)
RESERVED_FIELDS = frozenset({ID, DOC_ID, TEXT, VECTOR, METADATA, CONTENT_HASH, EXTRA, "vector_distance"})
#: What a query reads back: everything except the vector blob, which no caller needs on the hot path.
RETURN_FIELDS = (ID, DOC_ID, TEXT, METADATA, CONTENT_HASH, EXTRA)
#: What a search reads back: the id comes from the key and the hash is recomputable, so neither is sent.
QUERY_FIELDS = (DOC_ID, TEXT, METADATA, EXTRA)
_FIELD_TYPES = ("tag", "numeric", "text", "geo")
#: Layouts we can open besides our own: written by ``langchain-redis`` 0.2.x / ``llama-index-vector-stores-redis``
#: 0.9 with their defaults. Read-only: writing into them would mix two layouts in one index.
Dialect = Literal["native", "langchain-redis", "llama-index"]
_LEGACY_SKIP = frozenset({"vector_distance", "_index_name", "_metadata_json", "_node_content", "_node_type"})
_DTYPES = {"float32": np.float32, "float16": np.float16}


def _is_control(c: str) -> bool:
    """C0 controls and DEL: characters the search engine does not keep in an index name or prefix."""
    return ord(c) < 0x20 or ord(c) == 0x7F


@dataclass(frozen=True)
class Layout:
    """The shape of one index: name, key prefix, vector settings and the metadata keys that are filterable.

    ``metadata_fields`` maps a metadata key to ``tag`` / ``numeric`` / ``text`` / ``geo``; those keys are copied
    into their own hash fields so Redis can filter on them. Every other metadata key is still stored (in the
    ``metadata`` JSON) and returned, just not filterable.
    """

    index_name: str
    dims: int
    prefix: str | None = None
    metadata_fields: Mapping[str, FieldType] = field(default_factory=dict)
    algorithm: Literal["hnsw", "flat"] = "hnsw"
    distance_metric: Literal["cosine", "ip", "l2"] = "cosine"
    datatype: Literal["float32", "float16"] = "float32"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    #: ``native`` is this package's layout; the others are legacy layouts opened read-only (see :func:`detect_dialect`).
    dialect: Dialect = "native"
    vector_field: str = VECTOR
    #: The kind (``str`` / ``bool``) of each tag field ``metadata_fields="auto"`` declared: filters keep to it.
    tag_kinds: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The engine cuts an index name or a prefix at NUL and lists a CR as "\r": the index could not be found
        # again under the caller's name, or would cover other keys than asked.
        if not self.index_name or any(c.isspace() or _is_control(c) for c in self.index_name):
            raise ValueError(
                f"index_name must be non-empty, without whitespace or control characters, got {self.index_name!r}"
            )
        if self.prefix and any(_is_control(c) for c in self.prefix):
            raise ValueError(f"prefix must not hold control characters, got {self.prefix!r}")
        if not isinstance(self.dims, int) or self.dims <= 0:
            raise ValueError(f"dims must be a positive int, got {self.dims!r}")
        for name, ftype in self.metadata_fields.items():
            if name in RESERVED_FIELDS and self.dialect == "native":
                raise ValueError(
                    f"metadata field {name!r} clashes with a field of the layout "
                    f"({', '.join(sorted(RESERVED_FIELDS))}): rename it in the metadata"
                )
            if self.dialect == "native" and any(_is_control(c) for c in name):
                # Measured: a query naming such a field is a syntax error or matches nothing, escaped or not.
                raise ValueError(
                    f"metadata field {name!r}: the search engine cannot query a name with control characters"
                )
            if ftype not in _FIELD_TYPES:
                raise ValueError(f"metadata field {name!r} has type {ftype!r}; expected one of {_FIELD_TYPES}")
        if self.datatype not in _DTYPES:
            raise ValueError(f"datatype must be float32 or float16, got {self.datatype!r}")

    @classmethod
    def from_settings(
        cls,
        dims: int,
        settings: Settings | None = None,
        *,
        index_name: str | None = None,
        prefix: str | None = None,
        metadata_fields: Mapping[str, FieldType] | None = None,
    ) -> Layout:
        """A layout whose vector settings come from :class:`~redis_rag_integrations.settings.Settings`."""
        s = settings or get_settings()
        return cls(
            index_name=index_name or s.index_name,
            prefix=prefix or (s.key_prefix if index_name is None else None),
            dims=dims,
            metadata_fields=dict(metadata_fields or {}),
            algorithm=s.vector_algorithm,
            distance_metric=s.distance_metric,
            datatype=s.vector_datatype,
            hnsw_m=s.hnsw_m,
            hnsw_ef_construction=s.hnsw_ef_construction,
        )

    def similarity(self, distance: float) -> float:
        """Redis' vector distance as a similarity, higher is better, per metric.

        * ``cosine``: ``1 - distance`` = the cosine similarity, in [-1, 1] (1 = same direction).
        * ``ip``: Redis returns ``1 - dot``, so ``1 - distance`` = the dot product (the cosine for unit vectors).
        * ``l2``: Redis returns the *squared* euclidean distance; ``1 - distance / 2`` equals the cosine similarity
          for unit vectors (what embedding models emit) and stays monotone (closer = higher) for any vectors.
        """
        return self.similarity_fn()(distance)

    def similarity_fn(self) -> Callable[[float], float]:
        """:meth:`similarity` as a bare function of the distance (no attribute lookups on the hot path)."""
        if self.distance_metric == "l2":
            return _l2_similarity
        return _one_minus

    @property
    def key_prefix(self) -> str:
        return self.prefix or self.index_name

    @property
    def key_separator(self) -> str:
        """``_`` for llama-index-vector-stores-redis keys (``llama_index/vector_<id>``), ``:`` otherwise."""
        return "_" if self.dialect == "llama-index" else ":"

    def key(self, record_id: str) -> str:
        return f"{self.key_prefix}{self.key_separator}{record_id}"

    @property
    def returned_fields(self) -> list[str] | None:
        """What a search asks Redis to send back: our fields, or everything (``None``) for a legacy layout, whose
        metadata sits in fields only its records know (one per metadata key, or ``_metadata_json``)."""
        return list(QUERY_FIELDS) if self.dialect == "native" else None

    def read(self, key: str, fields: Mapping[str | bytes, Any], vector: bytes | None = None) -> Record:
        """The :class:`Record` stored under ``key``, from its hash fields, in this layout's dialect: the one decoder
        behind every read (get, KNN, BM25, hybrid, find), so no path reads a legacy index differently."""
        if self.dialect == "native":
            record = self.decode(fields, vector)
        else:
            record = self.decode_legacy(key, fields)
            if vector is not None:
                record.vector = np.frombuffer(vector, dtype=_DTYPES[self.datatype]).astype(np.float32)
        head = self.key_prefix + self.key_separator
        record.id = key[len(head) :] if key.startswith(head) else key
        return record

    def decode_legacy(self, key: str, fields: Mapping[str | bytes, Any]) -> Record:
        """A :class:`Record` from one search row of a legacy layout (the vector blob, if sent, is dropped).

        * ``langchain-redis``: text in ``text``, every metadata key a hash field of its own (values come back as
          strings: that layout does not keep types), or all of it in ``_metadata_json`` when the schema has it;
          the id is the key after ``{prefix}:``.
        * ``llama-index``: the whole node as JSON in ``_node_content`` (metadata, relationships, templates), the
          id in ``id``, the source document in ``doc_id``: the node comes back whole through ``extra``.
        """
        f = {as_str(k): v for k, v in fields.items() if as_str(k) != self.vector_field}
        head = self.key_prefix + self.key_separator
        record_id = key[len(head) :] if key.startswith(head) else key
        if self.dialect == "llama-index":
            content = json.loads(as_str(f["_node_content"])) if f.get("_node_content") else {}
            node = {k: v for k, v in content.items() if k not in ("text", "embedding", "metadata", "id_")}
            doc = f.get(DOC_ID)
            return Record(
                id=as_str(f[ID]) if f.get(ID) else content.get("id_", record_id),
                text=as_str(f.get(TEXT, content.get("text", ""))),
                metadata=dict(content.get("metadata") or {}),
                doc_id=as_str(doc) if doc not in (None, "", b"", "None") else None,
                extra={"type": as_str(f.get("_node_type", "TextNode")), "node": node} if content else None,
            )
        if f.get("_metadata_json"):
            metadata = json.loads(as_str(f["_metadata_json"]))
        else:
            metadata = {k: as_str(v) for k, v in f.items() if k not in (TEXT, ID) and k not in _LEGACY_SKIP}
        return Record(id=record_id, text=as_str(f.get(TEXT, "")), metadata=metadata)

    def schema(self) -> IndexSchema:
        """The redisvl schema of this layout (FT.CREATE is redisvl's job)."""
        exact_tag = {"separator": TAG_SEPARATOR, "case_sensitive": True}
        vector_attrs: dict[str, Any] = {
            "dims": self.dims,
            "algorithm": self.algorithm,
            "distance_metric": self.distance_metric,
            "datatype": self.datatype,
        }
        if self.algorithm == "hnsw":
            vector_attrs |= {"m": self.hnsw_m, "ef_construction": self.hnsw_ef_construction}
        fields: list[dict[str, Any]] = [
            {"name": ID, "type": "tag", "attrs": exact_tag},
            {"name": DOC_ID, "type": "tag", "attrs": exact_tag},
            {"name": CONTENT_HASH, "type": "tag", "attrs": exact_tag},
            {"name": TEXT, "type": "text"},
            {"name": VECTOR, "type": "vector", "attrs": vector_attrs},
        ]
        for name, ftype in self.metadata_fields.items():
            fields.append({"name": name, "type": ftype, "attrs": exact_tag if ftype == "tag" else {}})
        return IndexSchema.from_dict(
            {
                # With the separator: a bare "docs" would also index keys such as "docs-cache:..." of other data.
                "index": {
                    "name": self.index_name,
                    "prefix": f"{self.key_prefix}{self.key_separator}",
                    "storage_type": "hash",
                },
                "fields": fields,
            }
        )

    # --- encode / decode ---------------------------------------------------------------------------------------

    def vector_bytes(self, vector: Sequence[float] | np.ndarray, what: str = "vector") -> bytes:
        """``vector`` as the bytes Redis stores, after checking its length and that it holds only finite numbers.

        Two fast paths because this runs on every query: a list of floats (what LangChain / LlamaIndex pass) is
        packed by ``struct`` (half numpy's time), a float32 array of the stored type is sent as it is.

        Both check the packed bytes with :meth:`_finite`.
        """
        if isinstance(vector, list) and len(vector) == self.dims:
            try:
                blob = _packer(self.dims, self.datatype).pack(*vector)
            except (struct.error, TypeError, OverflowError):
                blob = None  # out of range or not numbers: the general path below says what is wrong
            if blob is not None and self._finite(blob):
                return blob
        elif isinstance(vector, np.ndarray) and vector.dtype == _DTYPES[self.datatype] and vector.shape == (self.dims,):
            blob = vector.tobytes()
            if self._finite(blob):
                return blob
        with np.errstate(over="ignore"):  # a value beyond float32 becomes infinity, refused below with a message
            arr = np.asarray(vector, dtype=np.float32)
        if arr.ndim != 1 or arr.shape[0] != self.dims:
            raise ValueError(
                f"{what} has {arr.shape[0] if arr.ndim == 1 else arr.shape} dimensions but index "
                f"{self.index_name!r} holds {self.dims}-dimensional vectors (was it built with another model?)"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} contains NaN or infinity")
        return arr.astype(_DTYPES[self.datatype]).tobytes()

    def _finite(self, blob: bytes) -> bool:
        """Whether packed vector bytes hold only finite numbers.

        Float32 (the default) by a builtin ``sum`` over a memoryview: NaN or infinity anywhere makes the sum
        non-finite, and values that fit float32 are too small for 32k of them to overflow a float64 sum. Not numpy:
        a numpy call right after the previous search's network wait runs with cold caches and cost 30-35 us per
        query there (measured in place, between two searches), against 2-3 us in a tight loop.
        """
        if self.datatype == "float32":
            return math.isfinite(sum(memoryview(blob).cast("f")))
        return bool(np.isfinite(np.frombuffer(blob, dtype=_DTYPES[self.datatype])).all())

    def encode(self, record: Record) -> dict[str, str | bytes | float]:
        """The hash fields of ``record``; raises ``ValueError`` / ``TypeError`` naming the record on bad input."""
        return self.assemble(self.check(record))

    def check(self, record: Record) -> Checked:
        """Everything about ``record`` that can be wrong, checked, keeping the work the check already did.

        Split from :meth:`assemble` so a bulk write can check every record before writing any (one bad record
        fails the call and loses nothing) and still assemble batch *n + 1* while the server indexes batch *n*.
        """
        if not isinstance(record.id, str) or not record.id:
            raise ValueError(f"record id must be a non-empty string, got {record.id!r}")
        if "\x00" in record.id:
            # Search 2.10 returns no fields for a key holding NUL: the record would come back empty from every query.
            raise ValueError(
                f"record id {record.id!r} contains a NUL character, which the search engine cannot read back"
            )
        if not isinstance(record.text, str):
            raise TypeError(f"record {record.id!r}: text is {type(record.text).__name__}, expected str")
        if record.vector is None:
            raise ValueError(f"record {record.id!r} has no vector")
        if record.doc_id is not None and not (isinstance(record.doc_id, str) and record.doc_id):
            raise ValueError(f"record {record.id!r}: doc_id must be a non-empty string or None, got {record.doc_id!r}")
        check_tag_ids(record.id, record.doc_id)
        try:
            metadata_json = json.dumps(record.metadata, ensure_ascii=False, allow_nan=False)
            extra = record.extra
            extra_json = extra if isinstance(extra, RawJson) or extra is None else json.dumps(extra, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"record {record.id!r}: metadata must be JSON-serialisable (str, int, float, bool, None, "
                f"lists and dicts of those): {exc}"
            ) from exc
        indexed = {
            name: index_value(record.id, name, ftype, record.metadata[name])
            for name, ftype in self.metadata_fields.items()
            if name in record.metadata and holds_values(record.metadata[name])
        }
        vector = self.vector_bytes(record.vector, f"record {record.id!r}: vector")
        return Checked(record, vector, metadata_json, extra_json, indexed)

    @staticmethod
    def assemble(checked: Checked) -> dict[str, str | bytes | float]:
        """The hash fields of a checked record (this cannot fail)."""
        record = checked.record
        mapping: dict[str, str | bytes | float] = {
            ID: tags.encode(record.id),
            TEXT: record.text,
            VECTOR: checked.vector,
            METADATA: checked.metadata_json,
            CONTENT_HASH: record.content_hash,
        }
        if record.doc_id is not None:
            mapping[DOC_ID] = tags.encode(str(record.doc_id))
        if checked.extra_json is not None:
            mapping[EXTRA] = checked.extra_json
        mapping.update(checked.indexed)
        return mapping

    def decode(self, fields: Mapping[str | bytes, Any], vector: bytes | None = None) -> Record:
        """A :class:`Record` from hash fields (bytes or str keys and values)."""
        f = {as_str(k): v for k, v in fields.items()}
        extra = f.get(EXTRA)
        return Record(
            id=as_str(f.get(ID, "")),
            text=as_str(f.get(TEXT, "")),
            metadata=json.loads(as_str(f[METADATA])) if f.get(METADATA) else {},
            doc_id=tags.decode(as_str(f[DOC_ID])) if f.get(DOC_ID) not in (None, "", b"") else None,
            extra=json.loads(as_str(extra)) if extra else None,
            vector=np.frombuffer(vector, dtype=_DTYPES[self.datatype]).astype(np.float32) if vector else None,
        )


@functools.cache
def _packer(dims: int, datatype: str) -> struct.Struct:
    return struct.Struct(f"<{dims}{'f' if datatype == 'float32' else 'e'}")


def detect_dialect(field_types: Mapping[str, str]) -> tuple[Dialect, str] | None:
    """Which legacy layout an index's FT.INFO fields (name -> type) are, and its vector field; ``None`` if neither.

    ``llama-index-vector-stores-redis``: ``id`` / ``doc_id`` tags, ``text``, ``vector`` and no ``content_hash``.
    ``langchain-redis``: ``text`` and a vector field named ``embedding`` (its ``RedisConfig`` default).
    """
    vectors = [name for name, ftype in field_types.items() if ftype == "vector"]
    if len(vectors) != 1 or field_types.get(TEXT) != "text":
        return None
    if vectors[0] == VECTOR and field_types.get(ID) == "tag" and field_types.get(DOC_ID) == "tag":
        return "llama-index", VECTOR
    if vectors[0] == "embedding":
        return "langchain-redis", "embedding"
    return None


def _one_minus(distance: float) -> float:
    return 1.0 - distance


def _l2_similarity(distance: float) -> float:
    return 1.0 - distance / 2.0
