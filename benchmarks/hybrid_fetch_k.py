"""Hybrid search's ``fetch_k``: what fewer candidates per side cost in retrieval quality, and save in latency.

Why: a hybrid search sends a KNN and a BM25 command, each for ``fetch_k`` rows with their full text, and fuses
them client-side (:mod:`redis_rag_integrations.store.hybrid`). Behind the agent RAG middleware (k=4) that reply,
2 x 20 rows at the old default ``max(4k, 20)``, was the largest single cost of a model call
(``benchmarks/results/agents.md``). Fewer rows are cheaper to send and parse, but fusion can only rank what each
side fetched, and relative-score fusion normalises each side over the rows fetched: a retrieval-quality decision.

Protocol: ``fetch_k`` is chosen on ONE corpus and reported on ANOTHER, from a different source.

* **choose**: the Python FAQ (Python 3.11 docs, ``data/python_faq.json``): each FAQ question -> its answer passage,
  in a corpus of the FAQ answers plus the non-FAQ Python-docs chunks of ``benchmarks.corpus.doc_chunks(2000)``
  as distractors.
* **report**: the hand-written question sets B-G of the cache evaluation (``data/cache_eval_{library,reference,
  shell,web,dataframes,sysadmin}.json``: standard library, language reference, git / shell / SQL, web tooling,
  pandas / NumPy, Debian administration; written for this project, not taken from the docs). Corpus: every
  cached question and every look-alike (near miss) as documents; queries: the paraphrases, each relevant to its
  cached question only (a look-alike ranked first is a wrong answer). Set A (FAQ questions) is left out: it is
  the choose corpus' source.

Every query runs through :meth:`RedisVectorIndex.hybrid_search` at the default settings (relative-score fusion,
alpha 0.7) for each ``fetch_k``, at k=4 (the RAG middleware's) and k=10. Figures: R@1, R@k' (k'=4 / 5), MRR@k and
the share of queries whose k results (ids and order) equal those at the old default. Latency: hybrid_search p50
per k and fetch_k on the choose corpus, interleaved (one process, one server).

Run: ``.venv/bin/python -m benchmarks.hybrid_fetch_k [--json out.json]`` (the MiniLM embeddings are cached on disk).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import doc_chunks, embed_cached, faq_pairs
from benchmarks.profiles import DEFAULT_CACHE
from benchmarks.run import redis_server
from benchmarks.store_latency import wait_indexed
from redis_rag_integrations import Settings
from redis_rag_integrations.store import Record, RedisVectorIndex

DATA = Path(__file__).resolve().parent.parent / "redis_rag_integrations" / "data"
REPORT_SETS = ("library", "reference", "shell", "web", "dataframes", "sysadmin")
FETCH_K = {4: (4, 6, 8, 10, 12, 16, 20, 30), 10: (10, 12, 15, 20, 30, 40)}


def old_default(k: int) -> int:
    return max(4 * k, 20)


def choose_corpus(cache_dir: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray, list[str]]:
    """(doc ids, doc vectors, doc texts, query vectors, queries) of the FAQ corpus; query i wants ``a{i}``."""
    pairs = faq_pairs()
    answers = [p.answer for p in pairs]
    chunks = doc_chunks(2000)
    chunk_vecs = embed_cached([c.text for c in chunks], cache_dir)
    keep = [i for i, c in enumerate(chunks) if c.metadata.get("section") != "faq"]
    ids = [f"a{i}" for i in range(len(pairs))] + [f"d{i}" for i in keep]
    texts = answers + [chunks[i].text for i in keep]
    vecs = np.concatenate([embed_cached(answers, cache_dir), chunk_vecs[keep]])
    questions = [p.question for p in pairs]
    return ids, vecs, texts, embed_cached(questions, cache_dir), questions


def report_corpus() -> tuple[list[str], list[str], list[str]]:
    """(document texts, queries, the text relevant to each query) of the hand-written sets B-G."""
    docs: dict[str, None] = {}
    queries, wanted = [], []
    for name in REPORT_SETS:
        for pair in json.loads((DATA / f"cache_eval_{name}.json").read_text())["pairs"]:
            docs.setdefault(pair["cached"])
            if pair["label"] == "paraphrase":
                queries.append(pair["query"])
                wanted.append(pair["cached"])
            else:
                docs.setdefault(pair["query"])
    return list(docs), queries, wanted


def _index(url: str, ids: Sequence[str], texts: Sequence[str], vecs: np.ndarray) -> RedisVectorIndex:
    index = RedisVectorIndex(f"fetchk-{uuid.uuid4().hex[:8]}", dims=vecs.shape[1], settings=Settings(redis_url=url))
    index.upsert([Record(i, t, v) for i, t, v in zip(ids, texts, vecs, strict=True)])
    wait_indexed(index.client, index.name)
    return index


def quality(index: RedisVectorIndex, queries: Sequence[str], qvecs: np.ndarray, relevant: Sequence[str],
            k: int) -> dict[int, dict[str, float]]:  # fmt: skip
    """Per fetch_k: R@1, R@min(k, 5), MRR@k and the share of result lists equal to the old default's."""
    at = min(k, 5)
    ref = [
        [h.record.id for h in index.hybrid_search(q, v, k, fetch_k=old_default(k))]
        for q, v in zip(queries, qvecs, strict=True)
    ]
    out = {}
    for n in sorted({*FETCH_K[k], old_default(k)}):
        r1 = rk = mrr = same = 0.0
        for q, v, want, base in zip(queries, qvecs, relevant, ref, strict=True):
            got = [h.record.id for h in index.hybrid_search(q, v, k, fetch_k=n)]
            r1 += got[:1] == [want]
            rk += want in got[:at]
            mrr += 1 / (got.index(want) + 1) if want in got else 0.0
            same += got == base
        m = len(queries)
        out[n] = {"R@1": r1 / m, f"R@{at}": rk / m, f"MRR@{k}": mrr / m, "same": same / m}
    return out


def latency(
    index: RedisVectorIndex, queries: Sequence[str], qvecs: np.ndarray, k: int, rounds: int
) -> dict[int, float]:
    """hybrid_search p50 (ms) at ``k`` per fetch_k, interleaved query by query in a shuffled order."""
    sizes = sorted({*FETCH_K[k], old_default(k)})
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        for q, v in zip(queries, qvecs, strict=True):
            for n in rng.permutation(sizes):
                started = time.perf_counter()
                index.hybrid_search(q, v, k, fetch_k=int(n))
                samples[int(n)].append((time.perf_counter() - started) * 1000)
    return {n: float(np.percentile(s, 50)) for n, s in samples.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rounds", type=int, default=5, help="latency passes over the FAQ questions")
    args = parser.parse_args(argv)
    from benchmarks.corpus import embedder

    result: dict[str, Any] = {}
    with redis_server(None) as url:
        ids, vecs, texts, qvecs, questions = choose_corpus(DEFAULT_CACHE)
        index = _index(url, ids, texts, vecs)
        relevant = [f"a{i}" for i in range(len(questions))]
        result["choose"] = {"docs": len(ids), "queries": len(questions)}
        for k in FETCH_K:
            result["choose"][f"k={k}"] = quality(index, questions, qvecs, relevant, k)
        result["latency_p50_ms"] = {f"k={k}": latency(index, questions, qvecs, k, args.rounds) for k in FETCH_K}
        index.drop()
        docs, queries, wanted = report_corpus()
        model = embedder()
        dvecs = np.asarray(model.embed(docs), dtype=np.float32)
        rvecs = np.asarray(model.embed(queries), dtype=np.float32)
        doc_ids = [f"q{i}" for i in range(len(docs))]
        by_text = dict(zip(docs, doc_ids, strict=True))
        index = _index(url, doc_ids, docs, dvecs)
        result["report"] = {"docs": len(docs), "queries": len(queries)}
        for k in FETCH_K:
            result["report"][f"k={k}"] = quality(index, queries, rvecs, [by_text[w] for w in wanted], k)
        index.drop()
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
