"""``redis-rag stats``: what a running system holds and how fast it has been, read from its Redis.

Named ``usage_report`` (not ``stats``) because :mod:`.cache.stats` is something else: one cache's hit / miss counters
inside one process. This report reads a whole server, every process of the application merged.

Everything comes from the server, never from this process: index sizes from ``FT._LIST`` / ``FT.INFO``, chat
sessions from a bounded ``SCAN``, cache hit rates and per-operation percentiles from the metrics hashes that the
application's processes flush (see :mod:`redis_rag_integrations.metrics`). So the command works from any machine
that can reach the Redis, while the application runs, and shows every process of it merged.

Memory per index: ``index`` is what the search module holds for it (vector index + inverted index, doc table,
tags ...: ``vector_index_sz_mb`` + ``total_index_memory_sz_mb``); ``data (est.)`` is the records themselves, the
hashes with their vector blobs, estimated from ``MEMORY USAGE`` of a few sampled keys times the document count. A
vector is stored twice (hash + index), so both matter when sizing a server.

Index memory per document is shown only from :data:`PER_DOC_MIN_DOCS` documents on. The vector index allocates
room for 1,024 vectors at a time (measured on search 2.10.5, 384 dims: 1.8 MB for 1 to 1,024 documents, 3.7 MB at
1,025, then about 1.9 KB per document), so "index memory / documents" said 589 KB for 3 documents and is twice the
real cost just past a block; from 10,000 documents the unused part of the last block is within about 10%. The data
per document is a sampled average record size and means something at any count.

Model loads (operations named ``*.load``, e.g. ``embed.load``: seconds, once per process) are reported apart: in
the operation table they would sit beside sub-millisecond lookups as if they were a per-request cost.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from .connection import mask_url
from .history.keys import DEFAULT_PREFIX as HISTORY_PREFIX
from .history.keys import SessionLayout
from .metrics import DEFAULT_PREFIX, MetricKeys, MetricsWindow, read
from .store.vectorset.inventory import VectorSetStats, vector_sets

MB = 1024 * 1024
#: Keys sampled per index for the data-size estimate (MEMORY USAGE is O(fields) per key: a few are cheap).
SAMPLE_KEYS = 5
#: Upper bound on keys SCAN examines when counting chat sessions: the command must stay cheap on a big keyspace.
SCAN_LIMIT = 200_000
QUANTILES = (0.5, 0.95, 0.99)
#: Index memory per document is reported from this many documents on (see the module docstring).
PER_DOC_MIN_DOCS = 10_000
#: Operations whose name ends with this are one-off model loads, reported apart from the per-request operations.
MODEL_LOAD_SUFFIX = ".load"

#: Fields that tell which component an index belongs to (name -> type, as FT.INFO reports them).
_KINDS: list[tuple[str, dict[str, str]]] = [
    ("vector store", {"id": "tag", "doc_id": "tag", "text": "text", "vector": "vector", "content_hash": "tag"}),
    ("semantic cache", {"llm": "tag", "scope": "tag", "prompt_hash": "tag", "vector": "vector"}),
    ("chat recall", {"session": "tag", "role": "tag", "vector": "vector"}),
    ("legacy llama-index", {"id": "tag", "doc_id": "tag", "text": "text", "vector": "vector"}),
    ("legacy langchain-redis", {"text": "text", "embedding": "vector"}),
]


@dataclass
class IndexStats:
    name: str
    kind: str
    num_docs: int
    vector_index_bytes: int
    other_index_bytes: int
    index_bytes: int
    index_bytes_per_doc: float | None
    data_bytes_est: int | None
    data_bytes_per_doc: float | None
    indexing: bool


@dataclass
class CacheStatsRow:
    name: str
    kind: str  # "semantic" or "exact"
    entries: int | None
    hits: int
    misses: int
    hit_rate: float | None
    errors: int
    stores: int


@dataclass
class OperationStats:
    name: str
    count: int
    errors: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class Report:
    redis: dict[str, Any]
    window_hours: int
    metrics: dict[str, Any]
    indexes: list[IndexStats] = field(default_factory=list)
    vector_sets: list[VectorSetStats] = field(default_factory=list)
    caches: list[CacheStatsRow] = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)
    operations: list[OperationStats] = field(default_factory=list)
    model_loads: list[OperationStats] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect(
    client: Any,
    url: str,
    *,
    hours: int = 24,
    prefix: str = DEFAULT_PREFIX,
    history_prefix: str = HISTORY_PREFIX,
    scan_limit: int = SCAN_LIMIT,
) -> Report:
    """Read everything ``redis-rag stats`` shows from the server behind ``client``."""
    info = client.info()
    window = read(client, MetricKeys(prefix), hours)
    report = Report(
        redis={
            "url": mask_url(url),
            "version": _text(info.get("redis_version", "")),
            "used_memory_bytes": int(info.get("used_memory", 0)),
            "keys": int(client.dbsize()),
        },
        window_hours=hours,
        metrics={
            "prefix": prefix,
            "first_flush": window.first_flush,
            "last_flush": window.last_flush,
            "seconds_since_last_flush": None if window.last_flush is None else round(time.time() - window.last_flush),
        },
        counters=dict(sorted(window.counters.items())),
    )
    report.indexes = [index_stats(client, name) for name in _index_names(client)]
    report.vector_sets = vector_sets(client, scan_limit)
    report.caches = cache_rows(report.indexes, window)
    report.history = session_count(client, history_prefix, scan_limit)
    rows = operation_rows(window)
    report.operations = [o for o in rows if not o.name.endswith(MODEL_LOAD_SUFFIX)]
    report.model_loads = [o for o in rows if o.name.endswith(MODEL_LOAD_SUFFIX)]
    return report


def _index_names(client: Any) -> list[str]:
    try:
        return sorted(_text(n) for n in client.execute_command("FT._LIST"))
    except redis.ResponseError:  # no search module: plain history and exact caches only
        return []


def classify(field_types: Mapping[str, str]) -> str:
    """Which of our components an index belongs to, from its fields (``other`` when none)."""
    for kind, wanted in _KINDS:
        if all(field_types.get(name) == ftype for name, ftype in wanted.items()):
            return kind
    return "other"


def index_stats(client: Any, name: str) -> IndexStats:
    info = client.ft(name).info()
    field_types = _field_types(info.get("attributes", []))
    num_docs = int(float(info.get("num_docs", 0) or 0))
    vector_bytes = int(float(info.get("vector_index_sz_mb", 0) or 0) * MB)
    other_bytes = int(float(info.get("total_index_memory_sz_mb", 0) or 0) * MB)
    if "total_index_memory_sz_mb" not in info:  # older engines: add up the parts they report
        parts = ("inverted_sz_mb", "offset_vectors_sz_mb", "doc_table_size_mb", "key_table_size_mb")
        other_bytes = int(sum(float(info.get(p, 0) or 0) for p in parts) * MB)
    data = _sampled_data_bytes(client, name, num_docs)
    return IndexStats(
        name=name,
        kind=classify(field_types),
        num_docs=num_docs,
        vector_index_bytes=vector_bytes,
        other_index_bytes=other_bytes,
        index_bytes=vector_bytes + other_bytes,
        index_bytes_per_doc=(vector_bytes + other_bytes) / num_docs if num_docs >= PER_DOC_MIN_DOCS else None,
        data_bytes_est=data,
        data_bytes_per_doc=data / num_docs if data is not None and num_docs else None,
        indexing=bool(int(float(info.get("indexing", 0) or 0))),
    )


def _field_types(attributes: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr in attributes or []:
        items = [_text(x) if isinstance(x, bytes | str) else x for x in attr]
        pairs = dict(zip(items[::2], items[1::2], strict=False))
        if "attribute" in pairs and "type" in pairs:
            out[str(pairs["attribute"])] = str(pairs["type"]).lower()
    return out


def _sampled_data_bytes(client: Any, name: str, num_docs: int) -> int | None:
    """Average ``MEMORY USAGE`` of up to :data:`SAMPLE_KEYS` records, times the document count (``None`` if the
    server refuses MEMORY USAGE, as some managed services do)."""
    if num_docs == 0:
        return 0
    try:
        reply = client.execute_command("FT.SEARCH", name, "*", "NOCONTENT", "LIMIT", 0, SAMPLE_KEYS, "DIALECT", 2)
        keys = list(reply[1:])
        sizes = [client.memory_usage(k) for k in keys]
    except redis.ResponseError:
        return None
    sizes = [int(s) for s in sizes if s is not None]
    if not sizes:
        return None
    return int(sum(sizes) / len(sizes) * num_docs)


def cache_rows(indexes: list[IndexStats], window: MetricsWindow) -> list[CacheStatsRow]:
    """One row per cache seen either as a semantic-cache index or in the hit/miss counters."""
    entries = {i.name: i.num_docs for i in indexes if i.kind == "semantic cache"}
    rows = []
    for kind in ("semantic", "exact"):
        names = set(window.labels(f"cache.{kind}.hits")) | set(window.labels(f"cache.{kind}.misses"))
        if kind == "semantic":
            names |= set(entries)
        for name in sorted(names):
            hits = window.counter(f"cache.{kind}.hits", name)
            misses = window.counter(f"cache.{kind}.misses", name)
            rows.append(
                CacheStatsRow(
                    name=name,
                    kind=kind,
                    entries=entries.get(name) if kind == "semantic" else None,
                    hits=hits,
                    misses=misses,
                    hit_rate=hits / (hits + misses) if hits + misses else None,
                    errors=window.counter(f"cache.{kind}.errors", name),
                    stores=window.counter(f"cache.{kind}.stores", name),
                )
            )
    return rows


def session_count(client: Any, prefix: str, scan_limit: int = SCAN_LIMIT) -> dict[str, Any]:
    """Chat sessions under ``prefix`` by SCAN (never KEYS), stopping after about ``scan_limit`` keys examined.

    ``complete`` is false when the limit stopped the scan: ``sessions`` is then a lower bound.
    """
    layout = SessionLayout(prefix)
    seen: set[str] = set()
    examined = 0
    if hasattr(client, "nodes_manager"):  # cluster: scan_iter walks every primary
        for key in client.scan_iter(match=layout.scan_pattern, count=1000, _type="list"):
            sid = layout.session_id_of(_text(key))
            if sid is not None:
                seen.add(sid)
            if len(seen) >= scan_limit:
                return {"prefix": prefix, "sessions": len(seen), "complete": False}
        return {"prefix": prefix, "sessions": len(seen), "complete": True}
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, match=layout.scan_pattern, count=1000, _type="list")
        examined += 1000
        for key in keys:
            sid = layout.session_id_of(_text(key))
            if sid is not None:
                seen.add(sid)
        if int(cursor) == 0:
            return {"prefix": prefix, "sessions": len(seen), "complete": True}
        if examined >= scan_limit:
            return {"prefix": prefix, "sessions": len(seen), "complete": False}


def operation_rows(window: MetricsWindow) -> list[OperationStats]:
    rows = []
    for name, hist in sorted(window.operations.items()):
        p = hist.percentiles_ms(QUANTILES)
        rows.append(
            OperationStats(
                name=name,
                count=hist.count,
                errors=hist.errors,
                mean_ms=round(hist.mean_us / 1000.0, 4),
                p50_ms=round(p["p50"], 4),
                p95_ms=round(p["p95"], 4),
                p99_ms=round(p["p99"], 4),
            )
        )
    return rows


def render(report: Report, console: Any) -> None:
    """The report as rich tables (light borders: the operation names must fit in 80 columns)."""
    from rich import box
    from rich.table import Table

    def table(*columns: str, text: int = 1) -> Table:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for n, column in enumerate(columns):
            t.add_column(column, no_wrap=n == 0, justify="left" if n < text else "right")
        return t

    r = report.redis
    console.print(f"Redis {r['version']} at {r['url']}  memory {r['used_memory_bytes'] / MB:.1f} MB  keys {r['keys']}")
    last = report.metrics["seconds_since_last_flush"]
    flushed = "none flushed yet (REDIS_RAG_METRICS=1 set for the app?)" if last is None else f"last flush {last}s ago"
    console.print(f"metrics under {report.metrics['prefix']!r}: {flushed}; window: last {report.window_hours} h")
    if report.indexes:
        indexes = table("index", "kind", "docs", "index MB", "vector MB", "per doc", "data MB est.", "per doc", text=2)
        for i in report.indexes:
            indexes.add_row(
                i.name + (" (indexing)" if i.indexing else ""),
                i.kind,
                str(i.num_docs),
                f"{i.index_bytes / MB:.2f}",
                f"{i.vector_index_bytes / MB:.2f}",
                _bytes(i.index_bytes_per_doc),
                "-" if i.data_bytes_est is None else f"{i.data_bytes_est / MB:.2f}",
                _bytes(i.data_bytes_per_doc),
            )
        console.print(indexes)
        if any(i.index_bytes_per_doc is None and i.num_docs for i in report.indexes):
            console.print(
                f"index memory per document from {PER_DOC_MIN_DOCS:,} documents on: below, the vector index's "
                "allocation of 1,024 vectors at a time dominates it"
            )
    else:
        console.print("no search indexes yet")
    if report.vector_sets:
        sets = table("vector set (backend='vectorset')", "quant", "dims", "records", "MB", "per record")
        for v in report.vector_sets:
            mb = "-" if v.memory_bytes is None else f"{v.memory_bytes / MB:.2f}"
            sets.add_row(v.name, v.quantization, str(v.dims), str(v.records), mb, _bytes(v.bytes_per_record))
        console.print(sets)
    if report.caches:
        caches = table("cache", "kind", "entries", "hits", "misses", "hit rate", "errors", "stores", text=2)
        for c in report.caches:
            rate = "-" if c.hit_rate is None else f"{100 * c.hit_rate:.1f}%"
            entries = "-" if c.entries is None else str(c.entries)
            caches.add_row(c.name, c.kind, entries, str(c.hits), str(c.misses), rate, str(c.errors), str(c.stores))
        console.print(caches)
    else:
        console.print("no caches yet")
    h = report.history
    if h["sessions"] or not h["complete"]:
        more = "" if h["complete"] else "+ (scan limit)"
        console.print(f"chat sessions under {h['prefix']!r}: {h['sessions']}{more}")
    else:
        console.print(f"no chat sessions yet under {h['prefix']!r}")
    for load in report.model_loads:
        console.print(
            f"model load ({load.name}): {load.count} in the window, mean {load.mean_ms / 1000:.1f} s, "
            f"max about {load.p99_ms / 1000:.1f} s (once per process, not part of any request)"
        )
    if report.operations:
        ops = table("operation", "count", "errors", "mean ms", "p50 ms", "p95 ms", "p99 ms")
        for o in report.operations:
            values = (o.mean_ms, o.p50_ms, o.p95_ms, o.p99_ms)
            ops.add_row(o.name, str(o.count), str(o.errors), *(_ms(v) for v in values))
        console.print(ops)
    else:
        console.print(f"no operations recorded yet in the last {report.window_hours} h")
    if report.counters:
        counters = table("counter", "total")
        for name, n in report.counters.items():
            counters.add_row(name, str(n))
        console.print(counters)


def _ms(value: float) -> str:
    """Three significant digits or so: percentiles from buckets are good to about 10%, more digits would lie."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("MB", MB), ("KB", 1024)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
