"""Semantic cache precision / recall at the default distance threshold, on the held-out half of the FAQ pair set.

The evaluation itself (pairs, tuning / held-out split, verifier, in-cache view) lives in :mod:`benchmarks.cache_eval`,
which also tunes the threshold and writes ``results/cache_threshold.md``; this section reports the shipped default
(``Settings().cache_distance_threshold``) with the shipped verifier. Target: in-cache precision >= 0.95 on the
held-out half (a wrong cached answer costs more than a miss). Hit / miss latency with the local LLM is in
``benchmarks/bench_cache.py``. Standalone: ``python -m benchmarks.cache_quality``.
"""

from __future__ import annotations

from benchmarks.cache_eval import Embedded, evaluate, load_pairs, split
from benchmarks.corpus import embed_cached
from benchmarks.profiles import Profile, resolve
from benchmarks.report import SectionResult, at_least, figure, section
from redis_rag_integrations import Settings

TARGET = 0.95


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    """``redis_url`` is unused: this evaluation is the cache's decision rule, computed on the embeddings."""
    p = resolve(quick, profile)
    pairs = load_pairs()
    if p.cache_pairs is not None:
        pairs = pairs[: p.cache_pairs]
    threshold = Settings(redis_url=redis_url).cache_distance_threshold
    halves = split(pairs)
    emb = Embedded(pairs, lambda texts: embed_cached(list(texts), p.cache_dir))
    [held], _ = evaluate(halves["held"], emb, thresholds=[threshold])
    [tune], _ = evaluate(halves["tune"], emb, thresholds=[threshold])
    [raw], _ = evaluate(halves["held"], emb, verifier=None, thresholds=[threshold])
    at = f"at distance {threshold:g}"
    figures = [
        at_least(
            f"held-out precision in cache {at}",
            held.cache_precision,
            "",
            held.cache_precision,
            TARGET,
            "(share of hits)",
        ),
        figure(f"held-out recall in cache {at}", held.cache_recall, "", summary=True),
        figure(f"held-out wrong hits in cache {at}", held.cache_wrong_hits, "hits"),
        figure(f"held-out precision pairwise {at}", held.pair_precision, ""),
        figure(f"held-out recall pairwise {at}", held.pair_recall, ""),
        figure(f"tuning-half precision in cache {at}", tune.cache_precision, ""),
        figure(f"held-out precision without the near-miss verifier {at}", raw.cache_precision, ""),
    ]
    notes = [
        f"{len(pairs)} labelled pairs (paraphrase = hit wanted, near miss = hit would be wrong) from "
        f"redis_rag_integrations/data/cache_eval.json, split by FAQ question: {len(halves['tune'])} tuning, "
        f"{len(halves['held'])} held-out; all-MiniLM-L6-v2; the shipped near-miss verifier. In cache: every cached "
        "question is stored at once and a query takes its nearest accepted entry. Details and the threshold sweep: "
        "benchmarks/results/cache_threshold.md (benchmarks/cache_eval.py).",
    ]
    return section("Semantic cache precision / recall", figures, {}, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
