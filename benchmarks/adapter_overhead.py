"""What our search costs on top of the cheapest KNN call there is, on 10k clustered 384-d vectors, top-10.

The baseline is the bare protocol call (:func:`benchmarks.engines.bare_knn`: ``execute_command("FT.SEARCH", ...)``
with the vector as bytes, the same query string, RETURN fields, SORTBY, LIMIT and DIALECT as our core sends, the
reply left unparsed), on the same client, interleaved with every other engine in one process, call by call with
the order rotated (:func:`benchmarks.timing.interleaved`), with hiredis when it is installed. Targets (issue 20): our
core <= 1.05x, the LangChain store (``similarity_search_by_vector``) and the LlamaIndex store (``query`` with a
``VectorStoreQuery`` carrying the embedding) <= 1.15x at p50, each with a list and a numpy query vector. The
LangChain store asks Redis for fewer fields (text, metadata), so it is held to a bare call returning those.
redis-py's ``ft().search(Query)`` (parsed into ``Document`` objects), redisvl and langchain-redis (on its own index
of the same vectors, against the bare call on that index) are informative rows.

Standalone: ``python -m benchmarks.adapter_overhead [--smoke]``.
"""

from __future__ import annotations

import importlib.util
import uuid

import numpy as np

from benchmarks import engines as E
from benchmarks.profiles import Profile, resolve
from benchmarks.report import SectionResult, at_most, figure, section
from benchmarks.scale import clustered_vectors
from benchmarks.store_latency import wait_indexed
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex

K = 10
SEED = 20261130
#: engine -> (baseline, target ratio at p50)
TARGETS = {
    E.CORE: (E.RAW, 1.05),
    E.CORE_NP: (E.RAW, 1.05),
    E.LANGCHAIN: (E.RAW_LC, 1.15),
    E.LANGCHAIN_NP: (E.RAW_LC, 1.15),
    E.LLAMAINDEX: (E.RAW, 1.15),
    E.LLAMAINDEX_NP: (E.RAW, 1.15),
}
INFORMATIVE = {
    E.RAW_DECODED: E.RAW,
    E.RAW_DEFAULT_CLIENT: E.RAW,
    E.RAW_REDISPY: E.RAW,
    E.REDISVL: E.RAW,
    E.CORE_FILTER: E.RAW_FILTER,
    E.LANGCHAIN_FILTER: E.RAW_FILTER,
    E.LCR: E.LCR_RAW,
}
SECTIONS = ("library", "tutorial", "reference", "faq")


def sizes(p: Profile) -> tuple[int, int, int]:
    """(vectors, queries, rounds): 10k vectors except in smoke mode."""
    if p.name == "smoke":
        return 500, 20, 1
    return 10_000, 300, 5 if p.name == "quick" else 15


def records(vectors: np.ndarray) -> list[Record]:
    """Chunks with text and metadata the size of real ones (the decode is part of the cost)."""
    out = []
    for i, v in enumerate(vectors):
        doc = f"doc{i // 8}"
        meta = {"section": SECTIONS[i % 4], "source": doc, "title": f"Synthetic page {i // 8}", "chunk": i % 8}
        text = f"Chunk {i} of {doc}: " + "synthetic words about a clustered topic " * 12
        out.append(Record(f"v{i}", text, v, meta, doc_id=doc))
    return out


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    n, n_queries, rounds = sizes(p)
    points = clustered_vectors(n + n_queries, seed=SEED)
    vectors, queries = points[:n], points[n:]
    tag = uuid.uuid4().hex[:8]
    index = RedisVectorIndex(
        f"bench-o-{tag}",
        dims=vectors.shape[1],
        metadata_fields={"section": "tag"},
        settings=Settings(redis_url=redis_url),
    )
    spec = {
        "redis_url": redis_url, "index": index.name, "lcr_index": f"bench-olcr-{tag}", "dims": int(vectors.shape[1]),
        "k": K, "ef_runtime": index.ef_runtime, "hnsw_m": index.layout.hnsw_m,
        "hnsw_ef_construction": index.layout.hnsw_ef_construction, "filter_section": "faq",
    }  # fmt: skip
    lcr = None
    try:
        recs = records(vectors)
        index.upsert(recs)
        lcr = E.langchain_redis(spec, {r.text: r.vector for r in recs})  # type: ignore[misc]
        lcr.add_texts([r.text for r in recs], [r.metadata for r in recs], ids=[r.id for r in recs])
        wait_indexed(index.client, index.name)
        wait_indexed(index.client, spec["lcr_index"])
        engines = E.build_all(spec)
        series = interleaved(engines, list(queries), rounds)
        stats = {name: percentiles(s) for name, s in series.items()}
        figures = []
        for name, (base, limit) in TARGETS.items():
            ratio = stats[name]["p50"] / stats[base]["p50"]
            figures.append(at_most(f"{name} p50", stats[name]["p50"], "ms", ratio, limit, f"{base} p50"))
        for base in (E.RAW, E.RAW_LC, E.RAW_FILTER, E.LCR_RAW):
            figures.append(figure(f"{base} p50", stats[base]["p50"], "ms"))
        for name, base in INFORMATIVE.items():
            ratio = stats[name]["p50"] / stats[base]["p50"]
            figures.append(figure(f"{name} p50 (vs {base})", stats[name]["p50"], "ms", ratio=ratio, summary=True))
        for name in (*TARGETS, *INFORMATIVE):
            base = TARGETS[name][0] if name in TARGETS else INFORMATIVE[name]
            figures.append(
                figure(f"{name} p99", stats[name]["p99"], "ms", ratio=stats[name]["p99"] / stats[base]["p99"])
            )
        hiredis = importlib.util.find_spec("hiredis") is not None
        notes = [
            f"{n} clustered {vectors.shape[1]}-d unit vectors (benchmarks.scale.clustered_vectors, seed {SEED}) with "
            f"chunk-sized text and 4 metadata keys; {n_queries} held-out queries x {rounds} rounds, top-{K}, "
            f"EF_RUNTIME {spec['ef_runtime']}; every engine interleaved call by call in one process "
            f"({'with' if hiredis else 'without'} hiredis).",
            "Baseline: one execute_command('FT.SEARCH', ...) with the vector as bytes, the same query string, RETURN "
            "fields, SORTBY, LIMIT and DIALECT as our core, reply unparsed, on the index's own client. The same call "
            "on a default redis.Redis.from_url client is a row of its own: it is not cheaper. The LangChain store "
            "returns text and metadata only and is held to the bare call returning those.",
            "Floor: the bare call plus decoding each hit into plain Python values (key, text, doc id, distance, "
            "metadata parsed from JSON) and no result objects; an API that returns decoded results cannot be "
            "cheaper than that, so targets below the floor's ratio are out of reach for eager results.",
            "langchain-redis runs on its own index of the same vectors and texts (its default layout); its ratio is "
            "to the bare call on that index returning its fields.",
        ]
        return section(
            "Adapter overhead vs the bare protocol call (10k clustered vectors)",
            figures,
            {f"latency_ms:{k}": v for k, v in series.items()},
            notes,
        )
    finally:
        index.drop(delete_records=True)
        if lcr is not None:
            lcr.index.delete(drop=True)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
