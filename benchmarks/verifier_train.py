"""Train the semantic cache's learned gate (:mod:`redis_rag_integrations.cache.gate`) on the tuning sets B, D, E, F.

Why a script and committed weights: the gate is a few numbers; training them at import time would need the
evaluation data and the embedder in every process. This script is the only place they come from, and it reads the
tuning sets only (``TUNING_SETS``: B, Python library how-to; D, Python language reference; E, web and tooling: D
and E written for this purpose; F, pandas / NumPy, written blind to the method as a held-out set and moved here after
its figures had been read and used to shape rules); sets A (Python FAQ), C (git / shell / SQL) and G (Debian system
administration, written blind) stay held out for ``benchmarks/cache_gate_eval.py``.

Protocol, on the tuning sets, each set a cache of its own:
- *Candidates* are what the cache would verify: for every query of a set, the four nearest cached questions of that
  set within ``MAX_RADIUS`` (all of the set's cached questions are in the cache together). Label 1 when the
  candidate is the query's own question and the pair is a paraphrase (or the query is that cached question itself),
  else 0. Candidates that a structural rule rejects are left out: the gate never sees them.
- A logistic regression (numpy gradient descent, L2) on the pairwise products of the standardised features
  (:func:`.gate.quadratic_terms`, each term standardised again).
- ``cut`` and ``radius`` are chosen on OUT-OF-FOLD probabilities (5 folds grouped by cached question, so a paraphrase
  and its look-alikes are never split), repeated over ``SPLITS`` different assignments of the groups to folds: the
  largest in-cache recall (mean over the splits, pooled over the tuning sets) whose in-cache precision is >= 0.95 on
  EVERY tuning set in EVERY split (a pooled precision let one set fall to 0.94 and chose a looser cut; one split
  alone let the cut follow which look-alikes happened to share a fold); ties go to the smaller radius and the
  higher cut (the conservative side).
- The shipped weights are then fitted on all tuning candidates. Run: ``.venv/bin/python -m benchmarks.verifier_train``.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.cache_eval import SETS as EVAL_SETS
from redis_rag_integrations.cache.gate import (
    WEIGHTS_FILE,
    Gate,
    edits,
    features,
    quadratic_terms,
    scan,
    structural_rejection,
)
from redis_rag_integrations.cache.verify import judge

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "redis_rag_integrations" / "data" / WEIGHTS_FILE
#: Every evaluation set: those of ``cache_eval`` (A, B, C; F, G held out only) and D and E, written to train the gate.
SETS = {
    **EVAL_SETS,
    "D": ("Python language reference", "cache_eval_reference.json"),
    "E": ("web: JavaScript, HTTP, Docker, regex", "cache_eval_web.json"),
}
TUNING_SETS = ("B", "D", "E", "F")
DATA_DIR = ROOT / "redis_rag_integrations" / "data"
MAX_RADIUS = 0.5
CANDIDATES = 4
FOLDS = 5
#: Assignments of the cached questions to folds; split 0 is their sorted order, the others shuffles of it.
SPLITS = 5
L2 = 10.0
TARGET_PRECISION = 0.95
CUTS = [round(x, 2) for x in np.arange(0.50, 0.951, 0.05)]
RADII = [round(x, 2) for x in np.arange(0.20, MAX_RADIUS + 0.001, 0.05)]
Accept = Callable[[str, str, float], bool]


@dataclass(frozen=True)
class Candidate:
    cached: str
    query: str
    source: str  # the pair's own cached question (the fold group)
    distance: float
    label: int


@dataclass(frozen=True)
class Counts:
    hits: int
    right: int  # right hits: a paraphrase on its own question, or a query that is itself a cached question
    right_paraphrases: int
    paraphrases: int


def in_cache_counts(pairs: list[dict[str, str]], emb: object, accept: Accept, threshold: float) -> Counts:
    """Every cached question stored at once; each query takes what the cache takes (:func:`.gate.scan`) from its
    ``CANDIDATES`` nearest within ``threshold``, ``accept`` standing for the learned half."""
    hits = right = right_paraphrases = 0
    for p in pairs:
        sims = emb.sims[emb.qindex[p["query"]]]  # type: ignore[attr-defined]
        near = [(emb.cached[j], float(1.0 - sims[j])) for j in np.argsort(-sims)[:CANDIDATES]]  # type: ignore[attr-defined]
        near = [(cached, distance) for cached, distance in near if distance <= threshold]
        index = scan(p["query"], near, lambda c, q, _verdict, d: accept(c, q, d))
        if index is None:
            continue
        chosen = near[index][0]
        hits += 1
        paraphrase_hit = p["label"] == "paraphrase" and chosen == p["cached"]
        right += paraphrase_hit or chosen == p["query"]
        right_paraphrases += paraphrase_hit
    return Counts(hits, right, right_paraphrases, sum(p["label"] == "paraphrase" for p in pairs))


def in_cache(pairs: list[dict[str, str]], emb: object, accept: Accept, threshold: float) -> tuple[float, float, int]:
    """In-cache precision (1.0 when nothing hits), recall and wrong hits (see :func:`in_cache_counts`)."""
    c = in_cache_counts(pairs, emb, accept, threshold)
    return (c.right / c.hits if c.hits else 1.0), c.right_paraphrases / c.paraphrases, c.hits - c.right


def load_pairs(name: str) -> list[dict[str, str]]:
    return json.loads((DATA_DIR / SETS[name][1]).read_text())["pairs"]


def embedded(name: str) -> object:
    """The set's questions embedded with the default embedder (cached on disk across runs)."""
    from benchmarks.cache_eval import Embedded
    from benchmarks.corpus import embed_cached

    return Embedded(load_pairs(name), lambda texts: embed_cached(list(texts), Path("/tmp/redis_rag_cache_eval")))


def candidates(pairs: list[dict[str, str]], emb: object) -> list[Candidate]:
    """What the gate would be asked on this set (see the module docstring), structural rejections left out."""
    out: dict[tuple[str, str], Candidate] = {}
    for p in pairs:
        sims = emb.sims[emb.qindex[p["query"]]]  # type: ignore[attr-defined]
        for j in np.argsort(-sims)[:CANDIDATES]:
            distance = float(1.0 - sims[j])
            cached = emb.cached[j]  # type: ignore[attr-defined]
            if distance > MAX_RADIUS or (cached, p["query"]) in out:
                continue
            if structural_rejection(cached, p["query"], judge(cached, p["query"])) is not None:
                continue
            own = cached == p["cached"] and p["label"] == "paraphrase"
            out[(cached, p["query"])] = Candidate(
                cached, p["query"], p["cached"], distance, int(own or cached == p["query"])
            )
    return list(out.values())


def matrix(rows: Iterable[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    rows = list(rows)
    x = np.array([features(judge(r.cached, r.query), r.distance, edits(r.cached, r.query)) for r in rows], dtype=float)
    return x, np.array([r.label for r in rows], dtype=float)


def fit(x: np.ndarray, y: np.ndarray, cut: float = 0.5, radius: float = MAX_RADIUS) -> Gate:
    """Logistic regression by gradient descent on the standardised quadratic terms of the standardised features
    (L2 on the weights, not the bias)."""
    mean, scale = _standardiser(x)
    terms = np.array([quadratic_terms(row) for row in (x - mean) / scale])
    term_mean, term_scale = _standardiser(terms)
    z = np.hstack([(terms - term_mean) / term_scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(3000):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) / len(y) + L2 * np.r_[w[:-1], 0.0] / len(y)
        w -= grad
    floats = (tuple(map(float, v)) for v in (mean, scale, term_mean, term_scale, w[:-1]))
    return Gate(*floats, float(w[-1]), cut, radius)


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = x.std(axis=0)
    return x.mean(axis=0), np.where(scale > 1e-9, scale, 1.0)


def out_of_fold(rows: list[Candidate], split: int = 0) -> dict[tuple[str, str], float]:
    """Each candidate's probability from a gate fitted without its fold; ``split`` picks the assignment of the
    cached questions to folds (0: sorted order, else a shuffle seeded with it)."""
    groups = sorted({r.source for r in rows})
    if split:
        random.Random(split).shuffle(groups)
    fold = {g: i % FOLDS for i, g in enumerate(groups)}
    probs: dict[tuple[str, str], float] = {}
    for f in range(FOLDS):
        gate = fit(*matrix(r for r in rows if fold[r.source] != f))
        for r in rows:
            if fold[r.source] == f:
                verdict = judge(r.cached, r.query)
                probs[(r.cached, r.query)] = gate.probability(verdict, r.distance, edits(r.cached, r.query))
    return probs


Probabilities = dict[tuple[str, str], float]


def choose(sets: dict[str, tuple[list, object]], splits: list[Probabilities]) -> tuple[float, float, dict]:
    """(cut, radius, their out-of-fold figures: precision and wrong hits pooled over sets and splits, recall the
    mean over splits): see the module docstring. ``splits`` holds one out-of-fold probability map per split."""
    best: tuple | None = None
    for radius in RADII:
        for cut in CUTS:
            counts = [
                in_cache_counts(pairs, emb, _accept(probs, cut), radius)
                for probs in splits
                for pairs, emb in sets.values()
            ]
            if not all(c.right >= TARGET_PRECISION * c.hits for c in counts):  # every set, every split
                continue
            hits, right = sum(c.hits for c in counts), sum(c.right for c in counts)
            recall = sum(c.right_paraphrases for c in counts) / sum(c.paraphrases for c in counts)
            key = (recall, -radius, cut)
            if best is None or key > best[0]:
                figures = {"precision": right / hits if hits else 1.0, "recall": recall, "wrong_hits": hits - right}
                best = (key, cut, radius, figures)
    if best is None:
        raise SystemExit(f"no cut / radius reaches precision {TARGET_PRECISION} out of fold on {TUNING_SETS}")
    return best[1], best[2], best[3]


def _accept(probs: Probabilities, cut: float) -> Accept:
    return lambda c, q, _d: probs.get((c, q), 0.0) >= cut or c == q


def main() -> int:
    sets = {name: (load_pairs(name), embedded(name)) for name in TUNING_SETS}
    rows = [row for pairs, emb in sets.values() for row in candidates(pairs, emb)]
    cut, radius, oof = choose(sets, [out_of_fold(rows, split) for split in range(SPLITS)])
    gate = fit(*matrix(rows), cut=cut, radius=radius)
    data = {
        "about": f"Learned near-miss gate of the semantic cache; trained by benchmarks/verifier_train.py on the "
        f"tuning sets {' and '.join(TUNING_SETS)} only ({len(rows)} candidates); cut and radius chosen on "
        f"out-of-fold predictions over {SPLITS} splits into folds.",
        "tuning_sets": list(TUNING_SETS),
        "out_of_fold": {k: round(v, 4) for k, v in oof.items()},
        **gate.to_dict(),
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(rows)} candidates, {sum(r.label for r in rows)} positive; cut {cut}, radius {radius}; out of fold on "
          f"{TUNING_SETS}: P {oof['precision']:.3f} R {oof['recall']:.3f}; wrote {OUT.relative_to(ROOT)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
