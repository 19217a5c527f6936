"""Re-ranking that Redis does not do for us here: maximal marginal relevance (diversity) and the fusion of BM25 and
vector results, by relative score or by reciprocal rank (this search engine has no ``FT.HYBRID``).

Pure arithmetic on hits, ids, scores and vectors: no command is built or sent here (the planners are
:mod:`.knn`, :mod:`.text`, :mod:`.find`; :mod:`.hybrid` fuses through the functions below).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .layout import Hit

#: RRF's damping constant; 60 is the value from the original paper and what most engines default to.
RRF_K = 60


def mmr_order(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Indices of ``k`` candidates picked by maximal marginal relevance (cosine), most relevant first.

    ``lambda_mult`` 1 ranks by relevance only, 0 by diversity only.
    """
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be within [0, 1], got {lambda_mult}")
    if len(candidates) == 0:
        return []
    unit = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    relevance = unit @ q
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(candidates)):
        redundancy = (unit @ unit[chosen].T).max(axis=1)
        scores = lambda_mult * relevance - (1 - lambda_mult) * redundancy
        scores[chosen] = -np.inf
        chosen.append(int(np.argmax(scores)))
    return chosen


def relative_score_fuse(rankings: Sequence[Sequence[Hit]], k: int, weights: Sequence[float]) -> list[Hit]:
    """Convex combination of min-max normalised scores (what Weaviate calls relative score fusion).

    Why it is the default rather than RRF: rank fusion throws away how far apart results are, so a weak BM25 list
    (questions rarely share words with their answers) drags the clear vector winner down. On the Python FAQ set,
    cross-validated, RRF scored R@1 0.78 against vector-only 0.79, this 0.81 (benchmarks/store_recall.py). Each
    list's scores are scaled to [0, 1] (best = 1; a list whose scores are all equal gives all 1); a hit absent
    from a list gets 0 from it. The fused ``score`` is in [0, 1], higher is better; ``distance`` is ``1 - score``.
    """
    return _fused_hits(rankings, relative_score_order(_id_scores(rankings), k, weights))


def rrf_fuse(rankings: Sequence[Sequence[Hit]], k: int, weights: Sequence[float] | None = None) -> list[Hit]:
    """Reciprocal rank fusion: each list gives ``weight / (RRF_K + rank)``; the ``distance`` of a fused hit is
    ``-score`` so that, as everywhere else, lower is better."""
    return _fused_hits(rankings, rrf_order(_id_scores(rankings), k, weights))


#: A ranking reduced to what fusion reads: (record id, score), best first.
Ranked = Sequence[tuple[str, float]]


def relative_score_order(
    rankings: Sequence[Ranked], k: int, weights: Sequence[float]
) -> list[tuple[str, float, float]]:
    """:func:`relative_score_fuse` on ids and scores alone: ``(id, fused score, distance)``, best first.

    Split out so a hybrid search can fuse before decoding any record and decode only the ``k`` winners
    (:mod:`.hybrid`); the Hit version above is this plus the records, so the two cannot rank differently.
    """
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        scores = [score for _, score in ranking]
        low, span = min(scores), max(scores) - min(scores)
        for record_id, score in ranking:
            norm = (score - low) / span if span > 0 else 1.0
            fused[record_id] = fused.get(record_id, 0.0) + weight * norm
    ordered = sorted(fused, key=lambda i: -fused[i])[:k]
    return [(i, fused[i], 1.0 - fused[i]) for i in ordered]


def rrf_order(
    rankings: Sequence[Ranked], k: int, weights: Sequence[float] | None = None
) -> list[tuple[str, float, float]]:
    """:func:`rrf_fuse` on ids and scores alone: ``(id, fused score, distance)``, best first."""
    weights = list(weights or [1.0] * len(rankings))
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (record_id, _) in enumerate(ranking, start=1):
            scores[record_id] = scores.get(record_id, 0.0) + weight / (RRF_K + rank)
    ordered = sorted(scores, key=lambda i: -scores[i])[:k]
    return [(i, scores[i], -scores[i]) for i in ordered]


def _id_scores(rankings: Sequence[Sequence[Hit]]) -> list[list[tuple[str, float]]]:
    return [[(h.record.id, h.score) for h in ranking] for ranking in rankings]


def _fused_hits(rankings: Sequence[Sequence[Hit]], order: list[tuple[str, float, float]]) -> list[Hit]:
    """The fused hits, each with the record of the first list that holds it."""
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for hit in ranking:
            first.setdefault(hit.record.id, hit)
    return [Hit(record=first[i].record, distance=distance, score=score) for i, score, distance in order]
