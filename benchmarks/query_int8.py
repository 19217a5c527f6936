"""Should questions be embedded by the int8 ONNX MiniLM while documents keep the float32 model?

The rule (issue 20): yes by default only if retrieval with int8 question vectors against float32 document vectors
stays within 0.005 of all-float32 on both evaluation sets, for R@1 and recall@10:

* set A, the Python FAQ (``redis_rag_integrations/data/python_faq.json``): each question must find its answer
  passage among all answers;
* set B, a different source: the paraphrase pairs of the three cache evaluation sets (``cache_eval*.json``: Python,
  library and shell questions written for the cache): each rewording must find its original among all originals.

Retrieval is exact (numpy, cosine), so the figures measure the embedding and nothing else; the time per question
(batch 1, both models interleaved) is reported next to them. The setting this decides is
``Settings.query_embedding_model``. Standalone: ``python -m benchmarks.query_int8``.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from typing import Any

import numpy as np

from benchmarks.corpus import embed_cached, faq_pairs
from benchmarks.profiles import Profile, resolve
from benchmarks.report import SectionResult, figure, section
from benchmarks.timing import percentiles

TOLERANCE = 0.005
K = 10
CACHE_SETS = ("cache_eval.json", "cache_eval_library.json", "cache_eval_shell.json")


def paraphrase_set() -> tuple[list[str], list[str], list[int]]:
    """(originals, rewordings, index of each rewording's original) from the cache evaluation pairs."""
    originals: dict[str, int] = {}
    queries, truth = [], []
    for name in CACHE_SETS:
        data = json.loads(resources.files("redis_rag_integrations.data").joinpath(name).read_text(encoding="utf-8"))
        for pair in data["pairs"]:
            idx = originals.setdefault(pair["cached"], len(originals))
            if pair["label"] == "paraphrase":
                queries.append(pair["query"])
                truth.append(idx)
    return list(originals), queries, truth


def rank_scores(docs: np.ndarray, queries: np.ndarray, truth: list[int]) -> dict[str, Any]:
    sims = queries @ docs.T
    top = np.argsort(-sims, axis=1)[:, :K]
    want = np.asarray(truth)[:, None]
    return {
        "R@1": float((top[:, 0] == want[:, 0]).mean()),
        f"R@{K}": float((top == want).any(axis=1).mean()),
        "top": top,
    }


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of one top-K list found in the other (recall@K of int8 queries against float32 queries)."""
    return float(np.mean([len(set(x) & set(y)) / K for x, y in zip(a, b, strict=True)]))


def latency(models: dict[str, Any], texts: list[str], rounds: int = 2) -> dict[str, list[float]]:
    for m in models.values():
        m.embed(texts[:5])
    out: dict[str, list[float]] = {n: [] for n in models}
    for r in range(rounds):
        for i, text in enumerate(texts):
            names = list(models)[(i + r) % 2 :] + list(models)[: (i + r) % 2]
            for n in names:
                start = time.perf_counter()
                models[n].embed([text])
                out[n].append((time.perf_counter() - start) * 1000)
    return out


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    from redis_rag_integrations.embeddings import LocalEmbedder
    from redis_rag_integrations.onnx_embedder import OnnxEmbedder

    p = resolve(quick, profile)
    f32, int8 = LocalEmbedder(), OnnxEmbedder()
    pairs = faq_pairs(p.faq_pairs)
    originals, rewordings, truth_b = paraphrase_set()
    if p.name == "smoke":
        rewordings, truth_b = rewordings[:30], truth_b[:30]
    sets = {
        "A: Python FAQ": ([f.answer for f in pairs], [f.question for f in pairs], list(range(len(pairs)))),
        "B: cache-eval paraphrases": (originals, rewordings, truth_b),
    }
    figures, notes, verdicts = [], [], []
    for label, (docs, questions, truth) in sets.items():
        doc_vecs = embed_cached(docs, p.cache_dir)  # float32, as the index holds them
        base = rank_scores(doc_vecs, f32.embed(questions), truth)
        fast = rank_scores(doc_vecs, int8.embed(questions), truth)
        for metric in ("R@1", f"R@{K}"):
            delta = fast[metric] - base[metric]
            ok = delta >= -TOLERANCE
            verdicts.append(ok)
            figures.append(figure(f"{label}: {metric}, float32 questions", base[metric], ""))
            figures.append(
                figure(
                    f"{label}: {metric}, int8 questions",
                    fast[metric],
                    "",
                    ratio=fast[metric] / base[metric] if base[metric] else None,
                    target=f">= float32 - {TOLERANCE}",
                    passed=ok,
                    summary=True,
                )
            )
        figures.append(
            figure(f"{label}: recall@{K} of int8 results vs float32 results", overlap(fast["top"], base["top"]), "")
        )
        notes.append(f"{label}: {len(docs)} passages, {len(questions)} questions.")
    times = latency({"float32 (torch)": f32, "int8 (ONNX)": int8}, [f.question for f in pairs][:80])
    t32, t8 = percentiles(times["float32 (torch)"]), percentiles(times["int8 (ONNX)"])
    figures.append(figure("one question, float32 (torch) p50", t32["p50"], "ms"))
    figures.append(figure("one question, int8 (ONNX) p50", t8["p50"], "ms", ratio=t8["p50"] / t32["p50"], summary=True))
    decision = "int8" if all(verdicts) else "same"
    notes.append(
        f"Decision for Settings.query_embedding_model: {decision!r} (int8 only if every R@1 / R@{K} is within "
        f"{TOLERANCE} of float32 on both sets). Exact cosine retrieval in numpy; documents embedded by the float32 "
        "model in every row."
    )
    return section(
        "Question embedding: int8 ONNX vs float32",
        figures,
        {f"latency_ms:{k}": v for k, v in times.items()},
        notes,
    )


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
