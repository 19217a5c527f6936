"""Hybrid search in one round trip: the KNN and the BM25 command pipelined, fused on ids and scores, and only the
``k`` winners decoded.

Why: a hybrid search used to run the vector search, then the text search (two round trips), and decode both lists
in full (2 x 20 records with their metadata JSON) to keep ``k``. Measured in ``benchmarks/bench_agents.py``, that
was most of what the RAG agent middleware added to a model call. Now both commands go out together
(:func:`..placement.ft_pipeline`: one write, one read; on a cluster both to the index's node), each reply is walked
once for keys and scores only, fusion (:func:`.ranking.relative_score_order` / :func:`.ranking.rrf_order`, the same
arithmetic as the :class:`Hit` versions) picks the winners, and each winner's row is decoded from the reply of the
first list that holds it, through :meth:`.layout.Layout.read` like every other read.

A :class:`HybridPlan` is pure (commands in, replies in, hits out), so the sync and the async search share all of
it and differ only in how the two replies are awaited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import metrics
from ..settings import HybridFusion
from .knn import SCORE_FIELD
from .layout import Hit, Layout
from .ranking import relative_score_order, rrf_order
from .text import decode_hit, record_id, rows

_DISTANCE_NAMES = (SCORE_FIELD.encode(), SCORE_FIELD)


def default_fetch_k(k: int) -> int:
    """Candidates fetched per side when the caller gives no ``fetch_k``: ``max(2k, 20)``.

    Why not more: fusion can only rank what each side fetched, and relative-score fusion normalises each side over
    the rows fetched, so the count is a retrieval-quality choice, not a free one. Chosen on the Python FAQ (179
    questions over their answers plus 1757 Python-docs chunks; ``benchmarks/hybrid_fetch_k.py``): at k=10, 20 per
    side gave R@1 0.721 / MRR 0.790 against 0.698 / 0.777 at the former ``max(4k, 20)`` (40), and fewer than 20
    lost R@1 at k=4 (0.687 at 12, 0.676 at 10). On the hand-written question sets (505 paraphrases over 846
    questions and look-alikes, reported after the choice) 20 at k=10 gave R@1 0.663 / MRR 0.798 against 0.650 /
    0.789. Curves in ``benchmarks/results/hybrid_fetch_k.md``.
    """
    return max(2 * k, 20)


def alpha_weights(alpha: float) -> list[float]:
    """The weights of the vector and the text list for ``alpha`` (1 = vectors only, 0 = BM25 only)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    return [alpha, 1.0 - alpha]


def check_fusion(fusion: str) -> HybridFusion:
    if fusion not in ("relative_score", "rrf"):
        raise ValueError(f"unknown hybrid fusion {fusion!r}; use 'relative_score' or 'rrf'")
    return fusion  # type: ignore[return-value]


class HybridPlan:
    """The two commands of one hybrid search and how their replies become ``k`` hits."""

    __slots__ = ("commands", "fusion", "k", "layout", "similarity", "weights")

    def __init__(
        self,
        layout: Layout,
        knn_command: tuple[Any, ...],
        text_command: tuple[Any, ...],
        k: int,
        alpha: float,
        fusion: str,
        similarity: Callable[[float], float],
    ) -> None:
        self.layout = layout
        self.commands = (knn_command, text_command)
        self.k = k
        self.weights = alpha_weights(alpha)
        self.fusion = check_fusion(fusion)
        self.similarity = similarity

    @metrics.timed("store.fusion")
    def finish(self, replies: list[Any]) -> list[Hit]:
        """The fused hits from the KNN and the BM25 reply (in that order), best first."""
        knn_reply, text_reply = replies
        found: dict[Any, Any] = {}  # key -> the fields of the first list that holds it
        rankings: list[list[tuple[Any, float]]] = [[], []]
        dense, sparse = rankings
        for key, score, fields in _knn_rows(knn_reply, self.similarity):
            found.setdefault(key, fields)
            dense.append((key, score))
        for key, score, fields in rows(text_reply):
            found.setdefault(key, fields)
            sparse.append((key, score))
        if not _one_id_per_key(self.layout, found):  # keys outside the layout's prefix: fuse on ids, as before
            return self._finish_on_ids(rankings, found)
        order = self._order(rankings)
        return [decode_hit(self.layout, key, found[key], score, distance) for key, score, distance in order]

    def _order(self, rankings: list[list[tuple[Any, float]]]) -> list[tuple[Any, float, float]]:
        if self.fusion == "rrf":
            return rrf_order(rankings, self.k, self.weights)
        return relative_score_order(rankings, self.k, self.weights)

    def _finish_on_ids(self, rankings: list[list[tuple[Any, float]]], found: dict[Any, Any]) -> list[Hit]:
        """Fusion on record ids (:func:`.text.record_id` of every row): for keys that do not all share the
        layout's prefix, where two keys could name one record."""
        layout = self.layout
        first: dict[str, Any] = {}
        by_id = []
        for ranking in rankings:
            ids = []
            for key, score in ranking:
                rid = record_id(layout, key)
                first.setdefault(rid, key)
                ids.append((rid, score))
            by_id.append(ids)
        order = self._order(by_id)
        return [decode_hit(layout, first[rid], found[first[rid]], score, distance) for rid, score, distance in order]


def _one_id_per_key(layout: Layout, keys: Iterable[Any]) -> bool:
    """Whether fusing on keys is fusing on record ids: every key starts with the layout's ``prefix:`` (an id is a
    key minus that fixed head, so distinct keys are distinct ids). Saves :func:`.text.record_id` on every row of
    both lists (40 at k=4 and the default ``fetch_k``) when only ``k`` are kept."""
    head = layout.key_prefix + layout.key_separator
    head_b = head.encode()
    return all(key.startswith(head_b if isinstance(key, bytes) else head) for key in keys)


def _knn_rows(reply: Any, similarity: Callable[[float], float]) -> Iterator[tuple[Any, float, Any]]:
    """``(key, similarity, fields)`` of each KNN row, closest first, no field decoded but the distance."""
    if isinstance(reply, dict):  # RESP3
        for r in reply.get(b"results", reply.get("results")) or []:
            attrs = r.get(b"extra_attributes", r.get("extra_attributes")) or {}
            distance = attrs.get(_DISTANCE_NAMES[0], attrs.get(_DISTANCE_NAMES[1]))
            yield r.get(b"id", r.get("id")), similarity(float(distance)), attrs
        return
    for i in range(1, len(reply) - 1, 2):  # RESP2: [total, key, [field, value, ...], ...]
        flat = reply[i + 1]
        # The distance comes first (Redis 8.2 puts the sorted-by field first, whatever the RETURN order) or last
        # (asked for last); anywhere else (a legacy row) it is searched. Was checked last only: every row searched.
        if len(flat) >= 2 and flat[0] in _DISTANCE_NAMES:
            distance = flat[1]
        elif len(flat) >= 2 and flat[-2] in _DISTANCE_NAMES:
            distance = flat[-1]
        else:
            distance = next(flat[j + 1] for j in range(0, len(flat) - 1, 2) if flat[j] in _DISTANCE_NAMES)
        yield reply[i], similarity(float(distance)), flat
