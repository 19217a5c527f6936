"""What a record is in a Redis 8 vector set: the keys of one index, the element's JSON attributes, the options.

One vector set per index. Its elements are the record ids, untouched (any string). Everything else of a record
lives in the element's JSON attributes, so one ``VSIM ... WITHATTRIBS`` returns the neighbours whole (measured
against a hash per record read in the same script or a second round trip: see ``README.md``, "Vector sets"):

==================  ===================================================================================
``id``              the record id, in its filter form (:func:`encode_str`): filters on ``id`` run in Redis
``doc_id``          the source document in its filter form, or ``null``
declared fields     ``tag``: a list of filter-form strings (``[]`` when absent); ``numeric``: a number or ``null``
``text``            the chunk text
``metadata``        the full metadata (JSON: types kept, an int stays an int)
``content_hash``    sha256 of text + metadata: cache freshness, as in the query-engine layout
``extra``           framework extras (LlamaIndex node fields), when there are any
==================  ===================================================================================

Filterable fields come first: the server's filter reads the JSON from its start.

Keys. ``base`` is the index's key prefix when it holds a hash tag (a tenant's ``rag:{acme}:docs``), else the
prefix wrapped in one (``{docs}``), so every key of an index lives on one cluster slot and the write scripts can
touch them all: ``{base}~vs`` (the vector set), ``{base}~vs:doc:{doc_id}`` (SET: the ids of a document's chunks,
for deleting by document without a scan), ``{base}~vs:meta`` (HASH: the options the set was built with, so any
process, either framework, opens it alike) and ``{base}~doc:{doc_id}`` (the versioned-write records, as in the
query-engine backend). None of them is a HASH under ``{prefix}:``, so no search index ever picks them up.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...errors import RedisRagError
from ...settings import Settings
from ..filters import tag_text
from ..layout import CONTENT_HASH, DOC_ID, EXTRA, ID, MAX_EXACT_INT, METADATA, TEXT, Checked, FieldType, Record

Quantization = Literal["q8", "noquant", "bin"]
QUANT_ARG = {"q8": "Q8", "noquant": "NOQUANT", "bin": "BIN"}
#: What ``VINFO`` calls each quantisation.
QUANT_INFO = {"int8": "q8", "f32": "noquant", "float32": "noquant", "bin": "bin", "binary": "bin"}
#: The one alternative every refusal names.
QUERY_ENGINE = "the query-engine backend (backend='query_engine', the default)"
#: The characters a filter selector (``.name``) may hold on this server (measured: ``.my-field`` is a subtraction,
#: ``.Ü`` a syntax error).
SELECTOR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Starts a string stored in filter form as hex; never the start of a string stored as it is.
ENCODED_MARK = "~"
#: What a filter literal cannot hold as it is (measured on 8.2.3): the parser takes a string literal raw up to its
#: closing quote, skipping ``\\x`` pairs but never unescaping them, so ``"``, ``\\`` and NUL cannot be written
#: exactly; control characters and lone surrogates are encoded too (the latter are not UTF-8).
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f\ud800-\udfff]')


class VectorSetUnsupported(RedisRagError, NotImplementedError):
    """Something the vector-set backend cannot do; the message names the query-engine backend as the way."""


def unsupported(what: str) -> VectorSetUnsupported:
    return VectorSetUnsupported(f"{what} is not supported by the vector-set backend: use {QUERY_ENGINE}")


def encode_str(value: str) -> str:
    """``value`` in filter form: itself when a filter literal can name it exactly, else ``~`` + UTF-8 hex.

    One-to-one (a value starting with ``~`` is encoded too), so a filter on the encoded form of ``v`` matches
    exactly the records holding ``v``.
    """
    if not value.startswith(ENCODED_MARK) and _UNSAFE.search(value) is None:
        return value
    return ENCODED_MARK + value.encode("utf-8", "surrogatepass").hex()


def decode_str(stored: str) -> str:
    if stored.startswith(ENCODED_MARK):
        return bytes.fromhex(stored[1:]).decode("utf-8", "surrogatepass")
    return stored


def literal(value: str) -> str:
    """A filter-expression string literal matching exactly the records holding ``value``."""
    return '"' + encode_str(value) + '"'


def number(value: float) -> str:
    """A filter-expression number reading back as exactly ``value``'s double.

    Positional, shortest digits that round-trip (this parser reads ``1e+20`` / ``1e-05`` as a syntax error). It
    also refuses a number token over 255 characters (measured), which the positional form of ``1e300`` or
    ``5e-324`` is: those are written ``(M * (2 ** E))`` with an integer ``M`` below 2**53, a product the server
    computes exactly (a power of two times an integer that fits the mantissa).
    """
    text = np.format_float_positional(float(value), unique=True, trim="-")
    if len(text) <= MAX_NUMBER_TOKEN:
        return text
    mantissa, exponent = math.frexp(float(value))
    m, e = int(mantissa * 2**53), exponent - 53
    while m % 2 == 0:
        m, e = m // 2, e + 1
    return f"({m} * (2 ** {e}))"


#: The longest number token the filter parser accepts (measured on 8.2.3: 255 digits pass, 256 are a syntax error).
MAX_NUMBER_TOKEN = 255


def has_hash_tag(name: str) -> bool:
    """Whether ``name`` holds a cluster hash tag (``{...}`` with something inside), as the server reads it."""
    start = name.find("{")
    if start < 0:
        return False
    end = name.find("}", start + 1)
    return end > start + 1


@dataclass(frozen=True)
class VectorSetKeys:
    """Every key of one vector-set index, all on one cluster slot (see the module docstring)."""

    prefix: str

    @property
    def base(self) -> str:
        return self.prefix if has_hash_tag(self.prefix) else "{" + self.prefix + "}"

    @property
    def vset(self) -> str:
        return f"{self.base}~vs"

    @property
    def meta(self) -> str:
        return f"{self.base}~vs:meta"

    @property
    def doc_prefix(self) -> str:
        return f"{self.base}~vs:doc:"

    def doc(self, doc_id: str) -> str:
        return self.doc_prefix + doc_id

    def version(self, doc_id: str) -> str:
        return f"{self.base}~doc:{doc_id}"

    def pattern(self, infix: str) -> str:
        """A SCAN pattern for the keys starting ``{base}{infix}`` (the base's glob characters escaped)."""
        return re.sub(r"([*?\[\]\\])", r"\\\1", self.base) + infix + "*"


@dataclass(frozen=True)
class VectorSetOptions:
    """How the set is built: quantisation, ``REDUCE`` dims, HNSW ``M`` and build ``EF``; search ``EF`` and
    ``FILTER-EF`` apply per query and are not stored."""

    quantization: Quantization = "q8"
    reduce: int | None = None
    m: int = 16
    ef_construction: int = 200
    ef_runtime: int | None = None
    filter_ef: int | None = None
    #: ``VSIM`` on the server's worker threads (its default) or, off, ``NOTHREAD``: lower latency on small machines.
    threaded: bool = False

    def __post_init__(self) -> None:
        if self.quantization not in QUANT_ARG:
            raise ValueError(f"quantization must be one of {sorted(QUANT_ARG)}, got {self.quantization!r}")
        if self.reduce is not None and (isinstance(self.reduce, bool) or not isinstance(self.reduce, int)
                                        or self.reduce < 1):  # fmt: skip
            raise ValueError(f"reduce must be a positive number of dimensions or None, got {self.reduce!r}")

    @classmethod
    def from_settings(cls, s: Settings) -> VectorSetOptions:
        return cls(
            quantization=s.vectorset_quantization,
            reduce=s.vectorset_reduce,
            m=s.hnsw_m,
            ef_construction=s.hnsw_ef_construction,
            ef_runtime=s.hnsw_ef_runtime,
            filter_ef=s.vectorset_filter_ef,
            threaded=s.vectorset_threaded,
        )

    def vadd_args(self) -> list[Any]:
        """The build options of every ``VADD`` (the server refuses a quantisation other than the set's)."""
        return [QUANT_ARG[self.quantization], "EF", self.ef_construction, "M", self.m]


def check_fields(fields: Mapping[str, FieldType]) -> None:
    """Refuse declared fields this backend cannot filter on, before anything is created."""
    for name, ftype in fields.items():
        if ftype not in ("tag", "numeric"):
            raise unsupported(f"a {ftype} metadata field ({name!r}; tag and numeric fields are)")
        if not SELECTOR.fullmatch(name):
            raise VectorSetUnsupported(
                f"metadata field {name!r} cannot be filtered by the vector-set backend: its filter names fields "
                f"as .identifier ([A-Za-z_][A-Za-z0-9_]*). Rename the key, or use {QUERY_ENGINE}"
            )


@dataclass
class AttributeCodec:
    """Records to and from the JSON attributes of their elements, for one index's declared fields."""

    fields: Mapping[str, FieldType] = field(default_factory=dict)

    def encode(self, checked: Checked) -> str:
        """The attributes of a checked record (validated by :meth:`~..layout.Layout.check`)."""
        r = checked.record
        out: dict[str, Any] = {ID: encode_str(r.id), DOC_ID: None if r.doc_id is None else encode_str(r.doc_id)}
        for name, ftype in self.fields.items():
            out[name] = _filter_value(r.id, name, ftype, r.metadata.get(name))
        head = json.dumps(out, ensure_ascii=False, allow_nan=False)[:-1]
        body = f', "{TEXT}": {json.dumps(r.text, ensure_ascii=False)}, "{METADATA}": {checked.metadata_json}'
        body += f', "{CONTENT_HASH}": "{r.content_hash}"'
        if checked.extra_json is not None:
            body += f', "{EXTRA}": {checked.extra_json}'
        return head + body + "}"

    @staticmethod
    def decode(record_id: str, attrs: str | bytes | None, vector: np.ndarray | None = None) -> Record:
        a = json.loads(attrs) if attrs else {}
        doc = a.get(DOC_ID)
        return Record(
            id=record_id,
            text=a.get(TEXT, ""),
            vector=vector,
            metadata=a.get(METADATA) or {},
            doc_id=None if doc is None else decode_str(doc),
            extra=a.get(EXTRA),
        )


def _filter_value(record_id: str, name: str, ftype: FieldType, value: Any) -> Any:
    """The attribute a declared field is filtered on: tags as a list of filter-form strings (``[]`` for nothing:
    ``$ne`` / ``$nin`` then match, as in the query-engine backend), numbers as numbers (``null`` when absent)."""
    if ftype == "numeric":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TypeError(f"record {record_id!r}: metadata {name!r} is declared numeric but is {value!r}")
        if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
            raise ValueError(
                f"record {record_id!r}: metadata {name!r} = {value} is beyond 2**53: filters compare doubles and "
                "would compare a rounded value. Declare the field as 'tag' to filter on it exactly"
            )
        return value
    values = value if isinstance(value, list | tuple | set) else [] if value is None else [value]
    out = []
    for v in values:
        if v is None or isinstance(v, dict | list | tuple | set):
            raise TypeError(f"record {record_id!r}: metadata {name!r} is a tag field but holds {v!r}")
        out.append(encode_str(tag_text(v)))
    return out
