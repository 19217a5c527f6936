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
- A logistic regression (numpy gradient descent, L2) on standardised features.
- ``cut`` and ``radius`` are chosen on OUT-OF-FOLD probabilities (5 folds grouped by cached question, so a paraphrase
  and its look-alikes are never split): the largest in-cache recall, pooled over the tuning sets, whose in-cache
  precision is >= 0.95 on EVERY tuning set (a pooled precision let one set fall to 0.94 and chose a looser cut);
  ties go to the smaller radius and the higher cut (the conservative side).
- The shipped weights are then fitted on all tuning candidates. Run: ``.venv/bin/python -m benchmarks.verifier_train``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.cache_eval import SETS as EVAL_SETS
from redis_rag_integrations.cache.gate import WEIGHTS_FILE, Gate, edits, features, scan, structural_rejection
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
L2 = 1.0
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
    """Logistic regression by gradient descent on standardised features (L2 on the weights, not the bias)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(3000):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) / len(y) + L2 * np.r_[w[:-1], 0.0] / len(y)
        w -= grad
    return Gate(tuple(mean), tuple(scale), tuple(w[:-1]), float(w[-1]), cut, radius)


def out_of_fold(rows: list[Candidate]) -> dict[tuple[str, str], float]:
    groups = sorted({r.source for r in rows})
    fold = {g: i % FOLDS for i, g in enumerate(groups)}
    probs: dict[tuple[str, str], float] = {}
    for f in range(FOLDS):
        gate = fit(*matrix(r for r in rows if fold[r.source] != f))
        for r in rows:
            if fold[r.source] == f:
                verdict = judge(r.cached, r.query)
                probs[(r.cached, r.query)] = gate.probability(verdict, r.distance, edits(r.cached, r.query))
    return probs


def choose(sets: dict[str, tuple[list, object]], probs: dict[tuple[str, str], float]) -> tuple[float, float, dict]:
    """(cut, radius, their pooled out-of-fold figures): see the module docstring."""
    best: tuple | None = None
    for radius in RADII:
        for cut in CUTS:
            accept: Accept = lambda c, q, d, cut=cut: probs.get((c, q), 0.0) >= cut or c == q  # noqa: E731
            counts = [in_cache_counts(pairs, emb, accept, radius) for pairs, emb in sets.values()]
            hits, right = sum(c.hits for c in counts), sum(c.right for c in counts)
            precision = right / hits if hits else 1.0
            recall = sum(c.right_paraphrases for c in counts) / sum(c.paraphrases for c in counts)
            if all(c.right >= TARGET_PRECISION * c.hits for c in counts):  # on EVERY tuning set, as the goal reads
                key = (recall, -radius, cut)
                if best is None or key > best[0]:
                    best = (key, cut, radius, {"precision": precision, "recall": recall, "wrong_hits": hits - right})
    if best is None:
        raise SystemExit(f"no cut / radius reaches precision {TARGET_PRECISION} out of fold on {TUNING_SETS}")
    return best[1], best[2], best[3]


def main() -> int:
    sets = {name: (load_pairs(name), embedded(name)) for name in TUNING_SETS}
    rows = [row for pairs, emb in sets.values() for row in candidates(pairs, emb)]
    cut, radius, oof = choose(sets, out_of_fold(rows))
    gate = fit(*matrix(rows), cut=cut, radius=radius)
    data = {
        "about": f"Learned near-miss gate of the semantic cache; trained by benchmarks/verifier_train.py on the "
        f"tuning sets {' and '.join(TUNING_SETS)} only ({len(rows)} candidates); cut and radius chosen on "
        "out-of-fold predictions.",
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
