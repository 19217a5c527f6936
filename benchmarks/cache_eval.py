"""Wrong-hit evaluation of the semantic cache threshold: precision and recall per cosine-distance threshold.

Data: ``redis_rag_integrations/data/cache_eval.json`` -- pairs of (cached question, new question) from the Python FAQ,
labelled ``paraphrase`` (the cached answer is right: a hit is wanted) or ``near_miss`` (negation, antonym, swapped
object / verb / order: a hit would be a WRONG answer).

Two views, both with the default embedder (all-MiniLM-L6-v2):
- pairwise: for each pair, hit iff distance(cached, query) <= t.
- in-cache: every distinct cached question is in the cache at once; each query gets its nearest cached question
  (as the real cache does) and a hit is correct only for a paraphrase whose nearest neighbour is its own question.
Precision = correct hits / hits; recall = correct hits / paraphrases.

The pairs are split by FAQ question into a tuning half and a held-out half (``split``): the default threshold is
chosen on the tuning half -- the largest threshold whose precision is >= 0.95 in BOTH views, else the most precise
one -- and precision / recall are reported on the held-out half. Writes
``benchmarks/results/cache_threshold.md``. Run: ``.venv/bin/python benchmarks/cache_eval.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redis_rag_integrations.cache import verify
from redis_rag_integrations.cache.verify import is_near_miss

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "redis_rag_integrations" / "data" / "cache_eval.json"
OUT = ROOT / "benchmarks" / "results" / "cache_threshold.md"
THRESHOLDS = [round(x, 3) for x in np.arange(0.02, 0.42, 0.02)]
TARGET_PRECISION = 0.95
Verifier = Callable[[str, str], bool]


@dataclass
class Row:
    threshold: float
    pair_precision: float
    pair_recall: float
    pair_wrong_hits: int
    cache_precision: float
    cache_recall: float
    cache_wrong_hits: int


def load_pairs() -> list[dict[str, str]]:
    return json.loads(DATA.read_text())["pairs"]


def half_of(question: str) -> str:
    """``tune`` or ``held``: a fixed hash of the FAQ question, so all pairs of one question land in the same half."""
    return "tune" if hashlib.sha256(question.encode("utf-8")).digest()[0] % 2 == 0 else "held"


def split(pairs: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    halves: dict[str, list[dict[str, str]]] = {"tune": [], "held": []}
    for p in pairs:
        halves[half_of(p["cached"])].append(p)
    return halves


def precision(correct: int, hits: int) -> float:
    return correct / hits if hits else 1.0


class Embedded:
    """All cached questions and queries embedded once; evaluations of any subset and verifier reuse them."""

    def __init__(self, pairs: list[dict[str, str]], embed: Callable[[list[str]], np.ndarray]) -> None:
        self.cached = sorted({p["cached"] for p in pairs})
        queries = sorted({p["query"] for p in pairs})
        self.qindex = {q: i for i, q in enumerate(queries)}
        self.cindex = {q: i for i, q in enumerate(self.cached)}
        self.sims = embed(queries) @ embed(self.cached).T  # (queries, cached questions)


def evaluate(
    pairs: list[dict[str, str]],
    emb: Embedded,
    verifier: Verifier | None = is_near_miss,
    thresholds: Sequence[float] = THRESHOLDS,
) -> tuple[list[Row], dict[str, float]]:
    """Rows per threshold for ``pairs``; in the in-cache view the cache holds EVERY cached question of the data set
    (both halves), so the queries of one half also meet the other half's questions as distractors."""
    own = np.array([emb.cindex[p["cached"]] for p in pairs])
    positive = np.array([p["label"] == "paraphrase" for p in pairs])
    sims = emb.sims[[emb.qindex[p["query"]] for p in pairs]].copy()
    pair_dist = 1.0 - sims[np.arange(len(pairs)), own]
    raw_dist = pair_dist.copy()
    if verifier is not None:  # what the cache does: a candidate the verifier rejects is no hit; the next-closest may be
        pair_dist = np.where([verifier(p["cached"], p["query"]) for p in pairs], 9.0, pair_dist)
        for i, p in enumerate(pairs):
            for j in np.flatnonzero(1.0 - sims[i] <= max(thresholds)):  # only candidates any threshold could hit
                if verifier(emb.cached[j], p["query"]):
                    sims[i, j] = -9.0
    nearest = sims.argmax(axis=1)
    nearest_dist = 1.0 - sims.max(axis=1)
    # a query that is itself a cached question (a near miss of another one) rightly hits its own entry
    itself = np.array([emb.cached[j] == p["query"] for j, p in zip(nearest, pairs, strict=True)])
    rows = []
    for t in thresholds:
        hit = pair_dist <= t
        correct = int((hit & positive).sum())
        c_hit = nearest_dist <= t
        c_good = c_hit & ((positive & (nearest == own)) | itself)
        c_correct = int((c_good & positive).sum())
        rows.append(
            Row(
                threshold=t,
                pair_precision=precision(correct, int(hit.sum())),
                pair_recall=correct / int(positive.sum()),
                pair_wrong_hits=int(hit.sum()) - correct,
                cache_precision=precision(int(c_good.sum()), int(c_hit.sum())),
                cache_recall=c_correct / int(positive.sum()),
                cache_wrong_hits=int(c_hit.sum()) - int(c_good.sum()),
            )
        )
    kinds: dict[str, float] = {}
    for p, d in zip(pairs, raw_dist, strict=True):
        key = p.get("kind", "paraphrase")
        kinds[key] = min(kinds.get(key, 9.0), float(d)) if key != "paraphrase" else max(kinds.get(key, 0.0), float(d))
    return rows, kinds


def choose(rows: list[Row]) -> Row:
    ok = [r for r in rows if r.pair_precision >= TARGET_PRECISION and r.cache_precision >= TARGET_PRECISION]
    if ok:
        return max(ok, key=lambda r: r.threshold)
    # target out of reach: the most precise threshold in the realistic (in-cache) view, the larger on ties
    return max(rows, key=lambda r: (round(r.cache_precision, 3), r.threshold))


def without_contrast(cached: str, query: str) -> bool:
    """The verifier without its contrast rule (negation and reversed relations only): for the ablation."""
    a, b = verify._tokens(cached), verify._tokens(query)
    return verify.negation_count(a) % 2 != verify.negation_count(b) % 2 or verify.reversed_relation(a, b)


def _pr(r: Row, view: str) -> str:
    if view == "pair":
        return f"{r.pair_precision:.3f} / {r.pair_recall:.3f}"
    return f"{r.cache_precision:.3f} / {r.cache_recall:.3f}"


def markdown(
    tune: list[Row],
    held: list[Row],
    held_raw: list[Row],
    chosen: Row,
    halves: dict[str, list[dict[str, str]]],
    ablation: list[tuple[str, Row, Row]],
    kinds: dict[str, float],
    model: str,
) -> str:
    pairs = halves["tune"] + halves["held"]
    n_pos = sum(p["label"] == "paraphrase" for p in pairs)

    def describe(half: list[dict[str, str]]) -> str:
        pos = sum(p["label"] == "paraphrase" for p in half)
        return f"{len({p['cached'] for p in half})} questions, {pos} paraphrases, {len(half) - pos} near misses"

    held_at = next(r for r in held if r.threshold == chosen.threshold)
    reached = held_at.pair_precision >= TARGET_PRECISION and held_at.cache_precision >= TARGET_PRECISION
    lines = [
        "# Semantic cache: precision / recall per cosine-distance threshold",
        "",
        f"Embedder: `{model}`. Data: `redis_rag_integrations/data/cache_eval.json` -- {len(pairs)} pairs "
        f"({n_pos} paraphrases = hits wanted, {len(pairs) - n_pos} near misses = hits would be wrong answers), "
        "questions from the Python 3.11 FAQ (PSF license). Generated by `benchmarks/cache_eval.py`.",
        "",
        "**Honest split.** The pairs are split by FAQ question (a fixed hash of the cached question, so the "
        "paraphrases and near misses of one question never straddle the split) into a *tuning* half "
        f"({describe(halves['tune'])}) and a *held-out* half ({describe(halves['held'])}). The threshold -- and every "
        "verifier design choice -- was made on the tuning half; the held-out figures are the ones to quote.",
        "",
        "A hit means cosine DISTANCE <= threshold (0 = identical, 2 = opposite). *Pairwise*: each pair alone. "
        "*In cache*: every cached question of the data set (both halves) is stored together and each query of the "
        "half takes its nearest one that the verifier accepts (what the cache does); a query that is itself a cached "
        "question rightly hits its own entry. Precision = correct hits / hits; recall = correct hits / paraphrases.",
        "",
        "*Shipped*: distance plus the near-miss verifier (`redis_rag_integrations/cache/verify.py`: negation, "
        "reversed relations, contrasting content words), the default. *Embedding only*: distance alone.",
        "",
        "| threshold | tuning: P / R (pairwise) | tuning: P / R (in cache) | held-out: P / R (pairwise) | wrong hits "
        "| held-out: P / R (in cache) | wrong hits | held-out, embedding only: P / R (in cache) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, h, e in zip(tune, held, held_raw, strict=True):
        mark = " **(default)**" if t is chosen else ""
        lines.append(
            f"| {t.threshold:.2f}{mark} | {_pr(t, 'pair')} | {_pr(t, 'cache')} | {_pr(h, 'pair')} "
            f"| {h.pair_wrong_hits} | {_pr(h, 'cache')} | {h.cache_wrong_hits} | {_pr(e, 'cache')} |"
        )
    lines += [
        "",
        f"Chosen default: **{chosen.threshold:.2f}**, on the tuning half (precision {chosen.pair_precision:.3f} "
        f"pairwise / {chosen.cache_precision:.3f} in cache, recall {chosen.cache_recall:.3f}). Rule: the largest "
        f"threshold with precision >= {TARGET_PRECISION} in both views; if none, the most precise one.",
        "",
        f"**Held-out at {chosen.threshold:.2f}: precision {held_at.pair_precision:.3f} pairwise / "
        f"{held_at.cache_precision:.3f} in cache, recall {held_at.pair_recall:.3f} / {held_at.cache_recall:.3f}** "
        f"({held_at.pair_wrong_hits} / {held_at.cache_wrong_hits} wrong hits). The target precision >= "
        f"{TARGET_PRECISION} is {'REACHED' if reached else 'NOT reached'} on the held-out half. The set is "
        "deliberately adversarial (half the queries are near misses), so real traffic sees fewer wrong hits; "
        "the recall cost is the price of the precision promise. Caveats: the held-out half is small (one wrong hit "
        "moves precision by ~0.04), and the verifier's synonym lexicon was written by someone who had read the "
        "whole set, so these figures are somewhat optimistic.",
        "",
        "Verifier ablation, held-out half, each variant at the threshold the tuning half chooses for it:",
        "",
        "| verifier | threshold | P / R (pairwise) | P / R (in cache) | wrong hits (in cache) |",
        "|---|---|---|---|---|",
    ]
    for name, tr, hr in ablation:
        lines.append(
            f"| {name} | {tr.threshold:.2f} | {_pr(hr, 'pair')} | {_pr(hr, 'cache')} | {hr.cache_wrong_hits} |"
        )
    lines += [
        "",
        "Smallest embedding distance of a near miss, per kind (whole set, before the verifier):",
        "",
        "| kind | min distance |",
        "|---|---|",
    ]
    for kind, dist in sorted(kinds.items(), key=lambda kv: kv[1]):
        if kind != "paraphrase":
            lines.append(f"| {kind} | {dist:.3f} |")
    lines += [
        "",
        f"Largest paraphrase distance: {kinds.get('paraphrase', 0.0):.3f}. A bag-of-meaning sentence embedder "
        "puts negations, reversed relations (`string to number` / `number to string`) and one-word swaps "
        "(`list` / `tuple`, `create` / `delete`) closer than many true paraphrases: no threshold separates them, "
        "the verifier rejects them. Word vectors from the same embedder do not tell synonyms from contrasting terms "
        "(read / write 0.56, install / uninstall 0.57 cosine against convert / turn 0.36), so the contrast rule uses "
        "a small general lexicon of near-synonyms instead. What remains: near misses that only ADD words "
        "(`the largest item` / `the index of the largest item`, `... for my Python package`) and role swaps with the "
        "same words (`freeze Tkinter applications` / `my Tkinter application freezes`); recall is lost on "
        "paraphrases that swap a word the lexicon does not know. Re-run this script when changing the embedder.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    from redis_rag_integrations.embeddings import LocalEmbedder

    embedder = LocalEmbedder()
    pairs = load_pairs()
    halves = split(pairs)
    emb = Embedded(pairs, lambda texts: embedder.embed(texts))
    tune, _ = evaluate(halves["tune"], emb)
    held, _ = evaluate(halves["held"], emb)
    held_raw, _ = evaluate(halves["held"], emb, verifier=None)
    _, kinds = evaluate(pairs, emb, verifier=None)
    chosen = choose(tune)
    ablation = []
    variants = (
        ("embedding only", None),
        ("negation + reversed relations", without_contrast),
        ("shipped", is_near_miss),
    )
    for name, verifier in variants:
        t_rows, _ = evaluate(halves["tune"], emb, verifier)
        h_rows, _ = evaluate(halves["held"], emb, verifier)
        pick = choose(t_rows)
        ablation.append((name, pick, next(r for r in h_rows if r.threshold == pick.threshold)))
    print(f"{'t':>5} {'tune P':>7} {'tune R':>7} {'held P pair':>11} {'held P cache':>12} {'held R cache':>12}")
    for t, h in zip(tune, held, strict=True):
        print(
            f"{t.threshold:5.2f} {t.cache_precision:7.3f} {t.cache_recall:7.3f} {h.pair_precision:11.3f} "
            f"{h.cache_precision:12.3f} {h.cache_recall:12.3f}"
        )
    print(f"chosen default threshold (tuning half): {chosen.threshold:.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(markdown(tune, held, held_raw, chosen, halves, ablation, kinds, embedder.model_name))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
