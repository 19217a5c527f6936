"""The vector-set read path: one ``VSIM ... WITHSCORES WITHATTRIBS`` built per (filter, k), its reply read into hits.

Scores. ``VSIM`` answers a similarity in [0, 1]: ``(1 + cos) / 2`` of the (quantised) vectors, 1 = same direction,
0.5 = orthogonal, 0 = opposite (vector sets are cosine only; they normalise every vector on insert). A :class:`Hit`
carries what the query-engine backend's cosine carries, so both backends' scores mean the same in LangChain and
LlamaIndex: ``score`` = the cosine similarity = ``2 * vsim - 1`` in [-1, 1], ``distance`` = ``1 - score`` =
``2 * (1 - vsim)`` (the query engine's cosine distance). With ``q8`` / ``bin`` the cosine is the quantised
vectors', an approximation (``bin`` keeps only signs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..filters import FilterLike
from ..layout import FieldType, Hit
from .filters import compile_vs_filter
from .layout import AttributeCodec, VectorSetOptions

_MAX_PLANS = 1024


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value


class VsimPlanner:
    """``VSIM`` options after the vector, cached per (filter, k): a filter is compiled once per shape."""

    def __init__(self, key: str, fields: Mapping[str, FieldType], options: VectorSetOptions) -> None:
        self.key = key
        self.fields = fields
        self.options = options
        self._plans: dict[Any, tuple[Any, ...]] = {}

    def args(self, flt: FilterLike, k: int, *, attributes: bool = True, truth: bool = False) -> tuple[Any, ...]:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        cache_key = (repr(flt), k, attributes, truth)
        plan = self._plans.get(cache_key)
        if plan is None:
            plan = self._build(flt, k, attributes, truth)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[cache_key] = plan
        return plan

    def _build(self, flt: FilterLike, k: int, attributes: bool, truth: bool) -> tuple[Any, ...]:
        args: list[Any] = ["COUNT", k, "WITHSCORES"]
        if attributes:
            args.append("WITHATTRIBS")
        if self.options.ef_runtime:
            args += ["EF", max(self.options.ef_runtime, k)]
        expression = compile_vs_filter(self.fields, flt)
        if expression is not None:
            args += ["FILTER", expression]
            if self.options.filter_ef:
                args += ["FILTER-EF", self.options.filter_ef]
        if truth:
            args.append("TRUTH")
        if not self.options.threaded:
            args.append("NOTHREAD")
        return tuple(args)


def rows(reply: Any) -> list[tuple[str, float, Any]]:
    """``(element, vsim score, attributes)`` per result, from a RESP2 flat list or a RESP3 map, closest first."""
    if isinstance(reply, Mapping):
        return [(_as_str(e), float(v[0]), v[1]) for e, v in reply.items()]
    it = iter(reply)
    return [(_as_str(e), float(s), a) for e, s, a in zip(it, it, it, strict=True)]


def hits(reply: Any) -> list[Hit]:
    """The hits of a ``VSIM ... WITHSCORES WITHATTRIBS`` reply; scores as cosine similarities (module docstring)."""
    out = []
    for element, vsim, attrs in rows(reply):
        score = 2.0 * vsim - 1.0
        out.append(Hit(AttributeCodec.decode(element, attrs), 1.0 - score, score))
    return out


def embedding(reply: Any) -> np.ndarray | None:
    """A ``VEMB`` reply as a float32 vector (``None`` for an element that does not exist)."""
    if reply is None:
        return None
    return np.asarray([float(v) for v in reply], dtype=np.float32)


def mmr(found: list[Hit], vectors: Sequence[np.ndarray | None], k: int, lambda_mult: float) -> list[Hit]:
    """``k`` hits by maximal marginal relevance. Relevance is the server's score; redundancy the cosine between the
    stored vectors (``VEMB``: dequantised, and in the reduced space under ``REDUCE``, where the query vector has no
    image), so it works for every option. A hit deleted between the two reads is dropped."""
    kept = [(h, v) for h, v in zip(found, vectors, strict=True) if v is not None]
    if not kept:
        return []
    matrix = np.stack([v for _, v in kept])
    relevance = np.asarray([h.score for h, _ in kept], dtype=np.float32)
    # mmr_order computes relevance as unit(candidates) @ unit(query): give it the candidates' own unit vectors and
    # a "query" whose projection on them is their score, by solving in their span.
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return [kept[i][0] for i in _mmr_scores(unit, relevance, k, lambda_mult)]


def _mmr_scores(unit: np.ndarray, relevance: np.ndarray, k: int, lam: float) -> list[int]:
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda_mult must be within [0, 1], got {lam}")
    """The MMR loop of :func:`..ranking.mmr_order`, with relevance given rather than computed from a query."""
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(unit)):
        redundancy = (unit @ unit[chosen].T).max(axis=1)
        scores = lam * relevance - (1 - lam) * redundancy
        scores[chosen] = -np.inf
        chosen.append(int(np.argmax(scores)))
    return chosen
