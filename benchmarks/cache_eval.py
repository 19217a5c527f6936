"""Wrong-hit evaluation of the semantic cache's structural RULES alone: precision / recall per bare distance threshold.

Since issue #15's learned gate this is the rules-only ablation (what the caches shipped before): the default
threshold and verifier now come from ``benchmarks/verifier_train.py`` (tuning sets B and D) and are reported by
``benchmarks/cache_gate_eval.py``. The data loading and the ``Embedded`` helper here are shared with both.

Data: sets of pairs (cached question, new question) labelled ``paraphrase`` (the cached answer is right: a hit
is wanted) or ``near_miss`` (a look-alike: negation, swapped direction, changed object / verb / quantity...: a hit
would be a WRONG answer), from different sources (``SETS``): A, the Python FAQ (``data/cache_eval.json``); B, Python
standard-library how-to questions (``data/cache_eval_library.json``); C, git / shell / SQL
(``data/cache_eval_shell.json``); F, pandas / NumPy (``data/cache_eval_dataframes.json``) and G, Debian system
administration (``data/cache_eval_sysadmin.json``), both written blind to the method and held out only. In this
ablation the threshold and the rules' slot size are chosen on ONE set (``TUNING_SET`` = B) and reported on the others:
a figure measured on the set that chose a parameter is never quoted as a result.

Two views, both with the default embedder (all-MiniLM-L6-v2):
- pairwise: for each pair, hit iff distance(cached, query) <= t.
- in-cache: every distinct cached question is in the cache at once; each query gets its nearest cached question
  (as the real cache does) and a hit is correct only for a paraphrase whose nearest neighbour is its own question.
Precision = correct hits / hits; recall = correct hits / paraphrases.

Rule for the ablation's threshold: the largest (threshold, slot) whose in-cache precision on the tuning set is
>= 0.95, else the most precise one. ``split`` (set A's old FAQ-question halves) is no longer used for reporting. Writes
``benchmarks/results/cache_threshold.md`` and ``cache_threshold.json``. Run: ``.venv/bin/python -m
benchmarks.cache_eval``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redis_rag_integrations.cache import verify
from redis_rag_integrations.cache.verify import is_near_miss, judge

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "redis_rag_integrations" / "data"
DATA = DATA_DIR / "cache_eval.json"
SETS = {
    "A": ("Python FAQ", "cache_eval.json"),
    "B": ("Python library how-to", "cache_eval_library.json"),
    "C": ("git / shell / SQL", "cache_eval_shell.json"),
    # F and G: written blind to the method (never read its code or figures), for held-out evaluation only.
    "F": ("pandas / NumPy data analysis", "cache_eval_dataframes.json"),
    "G": ("Linux system administration", "cache_eval_sysadmin.json"),
}
TUNING_SET = "B"
SLOTS = (1, 2, 3)
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


def load_pairs(name: str = "A") -> list[dict[str, str]]:
    return json.loads((DATA_DIR / SETS[name][1]).read_text())["pairs"]


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
    """The largest threshold with in-cache precision >= the target, else the most precise one (larger on ties)."""
    ok = [r for r in rows if r.cache_precision >= TARGET_PRECISION and r.cache_recall > 0]
    if ok:
        return max(ok, key=lambda r: (r.cache_recall, r.threshold))
    return max(rows, key=lambda r: (round(r.cache_precision, 3), r.threshold))


def with_slot(slot: int) -> Verifier:
    return lambda cached, query: judge(cached, query, slot).rule is not None


def negation_and_direction(cached: str, query: str) -> bool:
    """Only the two oldest rules (negation parity, reversed relation around a connective): for the ablation."""
    a, b = verify.tokens(cached), verify.tokens(query)
    return verify.negation_count(a) % 2 != verify.negation_count(b) % 2 or verify.reversed_relation(a, b)


def verifier_cost_us(pairs: list[dict[str, str]]) -> float:
    """Median microseconds of one verifier call (a lookup calls it once per candidate, at most 4 times)."""
    samples = []
    for p in pairs:
        verify.stem.cache_clear()
        t0 = time.perf_counter()
        is_near_miss(p["cached"], p["query"])
        samples.append((time.perf_counter() - t0) * 1e6)
    return float(np.median(samples))


def _pr(r: Row) -> str:
    return f"{r.cache_precision:.3f} / {r.cache_recall:.3f}"


def markdown(result: dict, model: str) -> str:
    sets, chosen = result["sets"], result["chosen"]
    t, slot = chosen["threshold"], chosen["slot"]
    lines = [
        "# Semantic cache: precision / recall per cosine-distance threshold, three evaluation sets",
        "",
        f"Embedder: `{model}`. Generated by `benchmarks/cache_eval.py`. Three sets from different sources, each with "
        "cached questions, true paraphrases (a hit is wanted) and look-alikes (a hit would be a wrong answer):",
        "",
        "| set | source | cached | paraphrases | look-alikes |",
        "|---|---|---|---|---|",
    ]
    for name, info in sets.items():
        mark = " **(tuning set)**" if name == TUNING_SET else " (held out)"
        lines.append(
            f"| {name}{mark} | {info['title']} (`redis_rag_integrations/data/{SETS[name][1]}`) | {info['cached']} "
            f"| {info['paraphrases']} | {info['lookalikes']} |"
        )
    lines += [
        "",
        "*In cache*: every cached question of the set is stored together and each query takes its nearest cached "
        "question that the verifier accepts (what the cache does); a query that is itself a cached question rightly "
        "hits its own entry. Precision = correct hits / hits (1.000 when nothing hits); recall = correct hits / "
        "paraphrases. Look-alikes are half the queries, so real traffic sees fewer wrong hits.",
        "",
        f"**Chosen on set {TUNING_SET} only**: threshold **{t:.2f}**, verifier slot **{slot}** (rule: the best recall "
        f"with in-cache precision >= {TARGET_PRECISION} on the tuning set). Caveat: during development C's wrong "
        "hits at 0.22 were read once (they showed word-order swaps, to / from flips and 'a single' / 'all': the "
        "order and quantity rules came from that, as grammatical classes, no words of C) and A's rejected "
        "paraphrases once (they showed a bug); the latest rule changes (prepositions without a direction as function "
        "words, 'how come' as 'why', word order changing meaning only around a relating preposition, return / give) "
        "came from the notebooks' rejected paraphrases, which are Python-FAQ questions like set A's (one pair is in "
        "set A). A and C are not perfectly clean held-out sets.",
        "",
        "| set | P / R at the default | wrong hits | previous verifier at 0.16 P / R | embedding only at "
        "the default P / R |",
        "|---|---|---|---|---|",
    ]
    for name, info in sets.items():
        d, o, e = info["default"], info["old"], info["raw"]
        mark = " (tuning)" if name == TUNING_SET else " (held out)"
        lines.append(
            f"| {name}{mark} | {d['cache_precision']:.3f} / {d['cache_recall']:.3f} | {d['cache_wrong_hits']} "
            f"| {o or '-'} | {e['cache_precision']:.3f} / {e['cache_recall']:.3f} |"
        )
    lines += ["", f"Curves with the shipped verifier (slot {slot}), in cache, P / R:", ""]
    names = list(sets)
    lines += ["| threshold | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for i, th in enumerate(THRESHOLDS):
        mark = " **(default)**" if abs(th - t) < 1e-9 else ""
        cells = [
            f"{sets[n]['curve'][i]['cache_precision']:.3f} / {sets[n]['curve'][i]['cache_recall']:.3f}" for n in names
        ]
        lines.append(f"| {th:.2f}{mark} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Best recall with precision >= 0.95 per set and verifier (each set's own optimum: NOT a quotable "
        "result for held-out sets, it shows the ceiling):",
        "",
        "| set | " + " | ".join(result["variants"]) + " |",
        "|---" * (len(result["variants"]) + 1) + "|",
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(result["ceiling"][name][v] for v in result["variants"]) + " |")
    lines += [
        "",
        f"Verifier cost: median {result['verifier_us']:.0f} us per call (a lookup verifies at most 4 candidates), "
        "pure Python, no Redis or embedder call: well inside the 3 ms budget above query-embedding time.",
        "",
        "**Goal not reached.** Precision >= 0.95 at recall >= 0.5 (or the fallback, recall >= 0.3) on every held-out "
        "set is not met by all-MiniLM-L6-v2 plus lexical rules. What limits recall: (1) the embedder puts heavy-rewrite"
        " paraphrases (median distance ~0.3 on B and C) further away than related but different questions, so the "
        "threshold that keeps wrong hits under 5% stops near 0.16; (2) the verifier rejects every one- or two-word "
        "swap or addition whose words it cannot prove equivalent (read / load, pick / choose, an added 'existing'), "
        "which is the right side for precision but costs the light rewrites. Raising recall needs a paraphrase model "
        "(a cross-encoder or a stronger sentence embedder shipped in a wheel), or per-entry thresholds learned from "
        "feedback (vCache) -- not available offline here. Measured and not shipped: (a) word vectors from the same "
        "MiniLM (each word embedded alone) to accept a swap of near-synonyms: on set B's swaps, synonym pairs score "
        "0.21-0.78 (read / load 0.34) and contrasting ones 0.09-0.67 (down / up 0.67, read / write 0.56), so no cut "
        "accepts more than one synonym pair of B without accepting an antonym; (b) all-mpnet-base-v2 as a re-ranker: "
        "it is on PyPI only split over five 'part' packages, and at ~8x MiniLM-L6's compute per token (12 "
        "layers of 768 vs 6 of 384) its embedding alone would be tens of ms, far over the 3 ms budget (estimated "
        "from model size, not timed).",
        "",
    ]
    return "\n".join(lines)


def _row_dict(r: Row) -> dict:
    return {k: getattr(r, k) for k in ("threshold", "cache_precision", "cache_recall", "cache_wrong_hits")}


def main() -> int:
    from benchmarks.corpus import embed_cached

    cache_dir = Path("/tmp/redis_rag_cache_eval")
    data = {name: load_pairs(name) for name in SETS}
    embs = {name: Embedded(p, lambda texts: embed_cached(list(texts), cache_dir)) for name, p in data.items()}
    curves = {(n, s): evaluate(data[n], embs[n], with_slot(s))[0] for n in SETS for s in SLOTS}
    best = {s: choose(curves[(TUNING_SET, s)]) for s in SLOTS}
    slot = max(
        SLOTS, key=lambda s: (best[s].cache_precision >= TARGET_PRECISION, best[s].cache_recall, best[s].threshold, -s)
    )
    t = best[slot].threshold
    variants = {
        "embedding only": None,
        "negation + direction": negation_and_direction,
        **{f"slot {s}": with_slot(s) for s in SLOTS},
    }
    result: dict = {
        "chosen": {"threshold": t, "slot": slot, "tuning_set": TUNING_SET},
        "sets": {},
        "ceiling": {},
        "variants": list(variants),
    }
    for name, pairs in data.items():
        curve = curves[(name, slot)]
        [raw], _ = evaluate(pairs, embs[name], None, [t])
        pos = sum(p["label"] == "paraphrase" for p in pairs)
        result["sets"][name] = {
            "title": SETS[name][0],
            "cached": len({p["cached"] for p in pairs}),
            "paraphrases": pos,
            "lookalikes": len(pairs) - pos,
            "default": _row_dict(next(r for r in curve if abs(r.threshold - t) < 1e-9)),
            "raw": _row_dict(raw),
            "old": OLD_DEFAULT.get(name),
            "curve": [_row_dict(r) for r in curve],
        }
        result["ceiling"][name] = {}
        for vname, ver in variants.items():
            rows, _ = evaluate(pairs, embs[name], ver)
            ok = [r for r in rows if r.cache_precision >= TARGET_PRECISION]
            top = max(ok, key=lambda r: (r.cache_recall, r.threshold)) if ok else None
            result["ceiling"][name][vname] = f"{top.cache_recall:.2f} @ {top.threshold:.2f}" if top else "-"
    result["verifier_us"] = verifier_cost_us([p for pairs in data.values() for p in pairs])
    for name, info in result["sets"].items():
        d = info["default"]
        print(
            f"set {name}{' (tuning)' if name == TUNING_SET else ''}: P {d['cache_precision']:.3f} "
            f"R {d['cache_recall']:.3f} at {t:.2f}, slot {slot}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    OUT.write_text(markdown(result, "sentence-transformers/all-MiniLM-L6-v2"))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


#: The verifier of commit 0928af4 at the same default (0.16, chosen on B), measured with the same in-cache protocol.
OLD_DEFAULT = {"A": "0.913 / 0.145", "B": "1.000 / 0.056 (tuning)", "C": "0.667 / 0.029"}


if __name__ == "__main__":
    sys.exit(main())
