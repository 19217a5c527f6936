"""Ingestion throughput, side by side: precomputed vectors against raw pipelined ``HSET``, and end to end with the
default embedder against the embedder alone.

1. Precomputed vectors (Python-docs chunks): raw redis-py pipelined ``HSET`` of exactly the hash fields our layout
   writes (500 per pipeline), our core ``upsert``, our LangChain ``add_texts`` and LlamaIndex
   ``add``, and langchain-redis ``add_texts``. Each writes into its own index of the same schema, in interleaved
   parts (order rotated per part), so every engine meets an index of the same size under the same noise.
   Target: ours >= 0.9x raw.
2. End to end (FAQ answers, chunked, embedded by all-MiniLM-L6-v2): the embedder alone on the same chunks, the
   streaming ``Worker`` (embedding overlapped with writes) and LangChain ``add_texts`` (embed, then write).
   Target: the worker >= 0.85x the embedder alone.

Standalone: ``python -m benchmarks.ingest_speed [--full]``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import numpy as np
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from benchmarks import engines as E
from benchmarks.corpus import Chunk, doc_chunks, embed_cached, embedder, faq_pairs
from benchmarks.profiles import Profile, resolve
from benchmarks.report import Figure, SectionResult, at_least, figure, section
from redis_rag_integrations import Settings
from redis_rag_integrations.ingest import Producer, StreamKeys, Worker, make_splitter, upsert_event
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import Record, RedisVectorIndex

PRECOMPUTED_TARGET = 0.9
E2E_TARGET = 0.85
BATCH = 500
RAW = "raw pipelined HSET"
CORE = "ours: core upsert"
LANGCHAIN = "ours: LangChain add_texts"
LLAMAINDEX = "ours: LlamaIndex add"
LCR = "langchain-redis add_texts"
EMBED = "embedder alone"
WORKER = "ours: streaming Worker"
LC_E2E = "ours: LangChain add_texts (embeds)"

Writer = Callable[[list[int]], None]


def _precomputed(chunks: list[Chunk], vectors: np.ndarray, redis_url: str, parts: int) -> dict[str, float]:
    """Records per second of each writer over all ``chunks``, written in ``parts`` interleaved parts."""
    settings = Settings(redis_url=redis_url)
    tag = uuid.uuid4().hex[:8]
    dims = int(vectors.shape[1])
    fields = {"section": "tag"}

    def core_index(role: str) -> RedisVectorIndex:
        return RedisVectorIndex(f"bench-in-{role}-{tag}", dims=dims, metadata_fields=fields, settings=settings)

    raw_index, core, lc_index = core_index("raw"), core_index("core"), core_index("lc")
    lc = LCStore(E.VectorsOnly(dims, {c.text: v for c, v in zip(chunks, vectors, strict=True)}), index=lc_index)
    li = LIStore(f"bench-in-li-{tag}", dims=dims, metadata_fields=fields, settings=settings)
    lcr_spec = {
        "redis_url": redis_url,
        "lcr_index": f"bench-in-lcr-{tag}",
        "dims": dims,
        "ef_runtime": core.ef_runtime,
        "hnsw_m": core.layout.hnsw_m,
        "hnsw_ef_construction": core.layout.hnsw_ef_construction,
    }
    lcr = E.langchain_redis(lcr_spec, lc.embeddings.table)  # type: ignore[attr-defined]
    records = [
        Record(c.id, c.text, v, c.metadata, doc_id=c.metadata["source"]) for c, v in zip(chunks, vectors, strict=True)
    ]
    nodes = [
        TextNode(
            id_=c.id,
            text=c.text,
            metadata=c.metadata,
            embedding=v.tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=c.metadata["source"])},
        )
        for c, v in zip(chunks, vectors, strict=True)
    ]

    def raw(ids: list[int]) -> None:
        layout, client = raw_index.layout, raw_index.client
        for start in range(0, len(ids), BATCH):
            pipe = client.pipeline(transaction=False)
            for i in ids[start : start + BATCH]:
                pipe.hset(layout.key(records[i].id), mapping=layout.encode(records[i]))
            pipe.execute()

    writers: dict[str, Writer] = {
        RAW: raw,
        CORE: lambda ids: core.upsert([records[i] for i in ids]),
        LANGCHAIN: lambda ids: lc.add_texts(
            [chunks[i].text for i in ids], [chunks[i].metadata for i in ids], ids=[chunks[i].id for i in ids]
        ),
        LLAMAINDEX: lambda ids: li.add([nodes[i] for i in ids]),
        LCR: lambda ids: lcr.add_texts(
            [chunks[i].text for i in ids], [chunks[i].metadata for i in ids], ids=[chunks[i].id for i in ids]
        ),
    }
    spent = dict.fromkeys(writers, 0.0)
    names = list(writers)
    bounds = np.linspace(0, len(chunks), parts + 1).astype(int)
    try:
        for part in range(parts):
            ids = list(range(bounds[part], bounds[part + 1]))
            for j in range(len(names)):
                name = names[(part + j) % len(names)]
                start = time.perf_counter()
                writers[name](ids)
                spent[name] += time.perf_counter() - start
    finally:
        for idx in (raw_index, core, lc_index):
            idx.drop()
        if li.index is not None:
            li.index.drop()
        lcr.index.delete(drop=True)
    return {name: len(chunks) / s for name, s in spent.items()}


def drop_stream(index: RedisVectorIndex) -> None:
    """Delete the ingestion stream keys of ``index`` (events, dedup hashes, failures...), all under one hash tag."""
    keys = list(index.client.scan_iter(match=f"{StreamKeys(index.name).tag}:*", count=1000))
    if keys:
        index.client.delete(*keys)


def _end_to_end(texts: list[str], redis_url: str, rounds: int) -> tuple[dict[str, float], int]:
    """Chunks per second: the embedder alone, the streaming worker, LangChain add_texts; and the chunk count."""
    model = embedder()
    settings = Settings(redis_url=redis_url)
    splitter = make_splitter()
    chunks = [c for t in texts for c in splitter(t)]
    model.embed(chunks[:32])  # load and warm the model outside the clock

    def embed_alone() -> None:
        for start in range(0, len(chunks), 32):
            model.embed(chunks[start : start + 32])

    def worker() -> None:
        index = RedisVectorIndex(f"bench-e2e-w-{uuid.uuid4().hex[:8]}", dims=model.dims, settings=settings)
        try:
            producer = Producer(index.name, client=index.client, max_backlog=1_000_000)
            producer.publish([upsert_event(f"doc-{i}", t) for i, t in enumerate(texts)])
            begin = time.perf_counter()
            Worker(index, model, splitter=splitter, batch_size=32, block_ms=50).run(until_idle=True)
            spent[WORKER] += time.perf_counter() - begin
            if index.count() != len(chunks):
                raise RuntimeError(f"the worker indexed {index.count()} chunks, expected {len(chunks)}")
        finally:
            index.drop()
            drop_stream(index)

    def langchain() -> None:
        store = LCStore(RagEmbeddings(model), f"bench-e2e-lc-{uuid.uuid4().hex[:8]}", settings=settings)
        try:
            begin = time.perf_counter()
            store.add_texts(chunks)
            spent[LC_E2E] += time.perf_counter() - begin
        finally:
            store.index.drop()

    def timed_embed() -> None:
        begin = time.perf_counter()
        embed_alone()
        spent[EMBED] += time.perf_counter() - begin

    spent = {EMBED: 0.0, WORKER: 0.0, LC_E2E: 0.0}
    steps = [timed_embed, worker, langchain]
    for r in range(rounds):
        for j in range(len(steps)):
            steps[(r + j) % len(steps)]()
    return {name: rounds * len(chunks) / s for name, s in spent.items()}, len(chunks)


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    chunks = doc_chunks(p.ingest_records)
    vectors = embed_cached([c.text for c in chunks], p.cache_dir)
    rates = _precomputed(chunks, vectors, redis_url, p.ingest_parts)
    figures: list[Figure] = [figure(f"{RAW} throughput", rates[RAW], "records/s")]
    for name in (CORE, LANGCHAIN, LLAMAINDEX):
        ratio = rates[name] / rates[RAW]
        figures.append(at_least(f"{name} throughput", rates[name], "records/s", ratio, PRECOMPUTED_TARGET, RAW))
    figures.append(figure(f"{LCR} throughput", rates[LCR], "records/s", ratio=rates[LCR] / rates[RAW], summary=True))

    texts = [f.answer for f in faq_pairs(p.e2e_docs)]
    e2e, n_chunks = _end_to_end(texts, redis_url, p.e2e_rounds)
    figures.append(figure(f"{EMBED} throughput", e2e[EMBED], "chunks/s"))
    figures.append(
        at_least(f"{WORKER} throughput", e2e[WORKER], "chunks/s", e2e[WORKER] / e2e[EMBED], E2E_TARGET, EMBED)
    )
    figures.append(
        figure(f"{LC_E2E} throughput", e2e[LC_E2E], "chunks/s", ratio=e2e[LC_E2E] / e2e[EMBED], summary=True)
    )
    notes = [
        f"Precomputed: {len(chunks)} Python-docs chunks (384-dim vectors from the embedding cache) per engine, each "
        f"into its own index of the same schema, in {p.ingest_parts} interleaved parts; raw = pipelined HSET "
        f"({BATCH} per pipeline) of the same fields our layout encodes. Our upsert checks every record before writing "
        "any, creates new records with HSETEX FNX and replaces existing ones with a script (stale fields, cache "
        "invalidation), streaming 50-command batches on one connection (store/writes.py, store/bulk.py).",
        f"End to end: {len(texts)} FAQ answers -> {n_chunks} chunks (RecursiveCharacterTextSplitter 1000/150), "
        f"all-MiniLM-L6-v2 in batches of 32, {p.e2e_rounds} interleaved round(s), a fresh index per run.",
    ]
    return section(
        "Ingestion throughput",
        figures,
        {f"ingest_per_s:{name}": [rate] for name, rate in rates.items()},
        notes,
    )


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
