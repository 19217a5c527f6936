"""Semantic cache precision / recall with the shipped verifier at the default threshold, per evaluation set.

The evaluation sets and the in-cache view live in :mod:`benchmarks.cache_eval` and :mod:`benchmarks.verifier_train`;
the verifier's learned gate, its cut and radius (= the default threshold) were chosen on the tuning sets only
(``TUNING_SETS``: B, D, E, F) by ``verifier_train.py``. This section reports the shipped default on every set, so
``make bench`` shows held-out figures next to the tuning sets'. Only held-out sets carry the target (in-cache
precision >= 0.95: a wrong cached answer costs more than a miss); a figure of a tuning set is marked as such and
judged by nothing. Hit / miss latency with the local LLM is in ``benchmarks/bench_cache.py``. Standalone:
``python -m benchmarks.cache_quality``.
"""

from __future__ import annotations

from typing import NamedTuple

from benchmarks.cache_eval import Embedded, evaluate
from benchmarks.corpus import embed_cached
from benchmarks.profiles import Profile, resolve
from benchmarks.report import SectionResult, at_least, figure, section
from benchmarks.verifier_train import SETS, TUNING_SETS, in_cache, load_pairs
from redis_rag_integrations import Settings
from redis_rag_integrations.cache.gate import default_gate

TARGET = 0.95


class Shipped(NamedTuple):
    """In-cache figures of the shipped verifier (rules + learned gate) at the default threshold."""

    cache_precision: float
    cache_recall: float
    cache_wrong_hits: int


def label(name: str) -> str:
    """``set A (held out)`` / ``set B (tuning set)``: every figure says whether its data chose the threshold."""
    return f"set {name} ({'tuning set' if name in TUNING_SETS else 'held out'})"


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    """``redis_url`` is unused: this evaluation is the cache's decision rule, computed on the embeddings."""
    p = resolve(quick, profile)
    threshold = Settings(redis_url=redis_url).cache_distance_threshold
    at = f"at distance {threshold:g}"
    figures = []
    sizes = []
    for name in SETS:
        pairs = load_pairs(name)
        if p.cache_pairs is not None:
            pairs = pairs[: p.cache_pairs]
        emb = Embedded(pairs, lambda texts: embed_cached(list(texts), p.cache_dir))
        row = Shipped(*in_cache(pairs, emb, default_gate().accepts, threshold))
        [raw], _ = evaluate(pairs, emb, verifier=None, thresholds=[threshold])
        tag = label(name)
        if name in TUNING_SETS:
            figures.append(figure(f"{tag}: precision in cache {at}", row.cache_precision, ""))
        else:
            figures.append(
                at_least(
                    f"{tag}: precision in cache {at}",
                    row.cache_precision,
                    "",
                    row.cache_precision,
                    TARGET,
                    "(share of hits)",
                )
            )
        figures += [
            figure(f"{tag}: recall in cache {at}", row.cache_recall, "", summary=name not in TUNING_SETS),
            figure(f"{tag}: wrong hits in cache {at}", row.cache_wrong_hits, "hits"),
            figure(f"{tag}: precision without the near-miss verifier {at}", raw.cache_precision, ""),
            figure(f"{tag}: recall without the near-miss verifier {at}", raw.cache_recall, ""),
        ]
        sizes.append(f"{name} {SETS[name][0]} ({len(pairs)} pairs)")
    notes = [
        "Labelled pairs (paraphrase = hit wanted, look-alike = hit would be wrong) from redis_rag_integrations/data/"
        f"cache_eval*.json: {'; '.join(sizes)}. The verifier's gate, its cut and radius (the default threshold) were "
        f"chosen on sets {' and '.join(TUNING_SETS)} only; the other sets are held out. all-MiniLM-L6-v2; the shipped "
        "verifier (rules + learned gate). In cache: every cached question of a set is stored at once and a query "
        "takes its nearest accepted entry. Curves: benchmarks/results/cache_gate.md (benchmarks/cache_gate_eval.py).",
    ]
    return section("Semantic cache precision / recall", figures, {}, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
