"""HNSW recall@10 at default settings on real text embeddings, and retrieval quality on the Python FAQ.

Usage: ``python benchmarks/store_recall.py [N_CHUNKS]`` (default 3000). Two parts, one embedded Redis:

1. Recall: chunks of the Python docs embedded with the default :class:`LocalEmbedder`, the FAQ questions as
   queries; top-10 through :meth:`RedisVectorIndex.search` (HNSW, settings' ``hnsw_ef_runtime``) against the exact
   top-10 (numpy, cosine). Random vectors say nothing about HNSW recall (ENVIRONMENT.md): real embeddings only.
   A sweep over EF_RUNTIME shows what the default buys.
2. Quality: the FAQ answer passages as the corpus, their questions as queries; R@1, R@5 and MRR for vector,
   BM25 and hybrid (RRF) search.

Embeddings are cached under ``benchmarks/results/`` (keyed by a hash of the texts) so reruns skip the model.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.datasets import python_docs, python_faq_pairs
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.store import Hit, Record, RedisVectorIndex

RESULTS = Path(__file__).parent / "results"
K = 10
TARGET = 0.99
CHUNK_CHARS = 800


def chunks(limit: int) -> list[str]:
    """Paragraph-packed chunks of about ``CHUNK_CHARS`` characters, in page order, at most ``limit``."""
    out: list[str] = []
    for doc in python_docs():
        current = ""
        for para in (p.strip() for p in doc["text"].split("\n\n")):
            if not para:
                continue
            if current and len(current) + len(para) > CHUNK_CHARS:
                out.append(current)
                current = ""
            current = f"{current}\n\n{para}" if current else para[: CHUNK_CHARS * 2]
        if current:
            out.append(current)
        if len(out) >= limit:
            break
    return out[:limit]


def embed_cached(embedder: LocalEmbedder, texts: list[str], name: str) -> np.ndarray:
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:12]
    path = RESULTS / f"emb_{name}_{len(texts)}_{digest}.npy"
    if path.exists():
        return np.load(path)
    start = time.perf_counter()
    vectors = embedder.embed(texts)
    print(f"  embedded {len(texts)} {name} texts in {time.perf_counter() - start:.0f}s -> {path.name}")
    RESULTS.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


def fill(index: RedisVectorIndex, texts: list[str], vectors: np.ndarray) -> None:
    index.upsert([Record(f"c{i}", t, v) for i, (t, v) in enumerate(zip(texts, vectors, strict=True))])
    while index._index.info()["indexing"] not in (0, "0"):
        time.sleep(0.1)


def recall(index: RedisVectorIndex, corpus: np.ndarray, queries: np.ndarray) -> float:
    unit = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ unit.T), axis=1)[:, :K]
    found = 0
    for q, truth in zip(queries, exact, strict=True):
        got = {int(h.record.id[1:]) for h in index.search(q, K, fields=())}
        found += len(got & set(truth.tolist()))
    return found / (K * len(queries))


def quality(search: Callable[[int], list[Hit]], n: int) -> tuple[float, float, float]:
    r1 = r5 = mrr = 0.0
    for i in range(n):
        ranks = [int(h.record.id[1:]) for h in search(i)]
        if ranks[:1] == [i]:
            r1 += 1
        if i in ranks[:5]:
            r5 += 1
        if i in ranks:
            mrr += 1 / (ranks.index(i) + 1)
    return r1 / n, r5 / n, mrr / n


def main() -> None:
    n_chunks = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    embedder = LocalEmbedder()
    pairs = python_faq_pairs()
    questions = [p.question for p in pairs]
    texts = chunks(n_chunks)
    print(f"corpus: {len(texts)} chunks of the Python docs (~{CHUNK_CHARS} chars); {len(questions)} FAQ questions")
    doc_vecs = embed_cached(embedder, texts, "docs")
    q_vecs = embed_cached(embedder, questions, "faq_questions")
    a_vecs = embed_cached(embedder, [p.answer for p in pairs], "faq_answers")
    lines = [f"# Vector store recall and retrieval quality ({time.strftime('%Y-%m-%d')})", ""]
    with EmbeddedRedis() as server:
        settings = Settings(redis_url=server.url)
        index = RedisVectorIndex("recall", dims=doc_vecs.shape[1], settings=settings)
        fill(index, texts, doc_vecs)
        default_ef = index.ef_runtime
        lines += [
            f"## HNSW recall@{K} vs exact, {len(texts)} doc chunks, {len(questions)} FAQ questions as queries",
            f"M={index.layout.hnsw_m} EF_CONSTRUCTION={index.layout.hnsw_ef_construction}, cosine, float32",
            "",
            "| EF_RUNTIME | recall@10 |",
            "|---|---|",
        ]
        default_recall = 0.0
        for ef in sorted({10, 20, default_ef, 50, 100, 200}):
            index.ef_runtime = ef
            r = recall(index, doc_vecs, q_vecs)
            if ef == default_ef:
                default_recall = r
            lines.append(f"| {ef}{' (default)' if ef == default_ef else ''} | {r:.4f} |")
        index.ef_runtime = default_ef
        index.drop()
        verdict = "PASS" if default_recall >= TARGET else "FAIL"
        lines += [
            "",
            f"Default EF_RUNTIME {default_ef}: recall@10 {default_recall:.4f} (target >= {TARGET}): {verdict}",
        ]

        faq = RedisVectorIndex("faq", dims=a_vecs.shape[1], settings=settings)
        fill(faq, [p.answer for p in pairs], a_vecs)
        modes: dict[str, Callable[[int], list[Hit]]] = {
            "vector": lambda i: faq.search(q_vecs[i], K),
            "BM25": lambda i: faq.text_search(questions[i], K),
            "hybrid (RRF, alpha 0.5)": lambda i: faq.hybrid_search(questions[i], q_vecs[i], K),
        }
        lines += ["", f"## Python FAQ: {len(pairs)} questions -> their answer passages", ""]
        lines += ["| search | R@1 | R@5 | MRR@10 |", "|---|---|---|---|"]
        for name, fn in modes.items():
            r1, r5, mrr = quality(fn, len(pairs))
            lines.append(f"| {name} | {r1:.3f} | {r5:.3f} | {mrr:.3f} |")
        faq.drop()
    report = "\n".join(lines) + "\n"
    print(report)
    (RESULTS / "store_recall.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
