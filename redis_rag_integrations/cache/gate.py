"""The near-miss verifier the caches use by default: structural rules, then a small learned gate.

Why two stages. Look-alike questions ("convert a string to a number" / "a number to a string", "a list" / "a tuple")
share most words with the cached question and change one content word or the order of two; true paraphrases rewrite
many words. A distance threshold cannot tell them apart (look-alikes are the *closest* questions), so:

1. *Structural rules* reject what is a look-alike by construction (:func:`structural_rejection`): from
   :func:`.verify.judge`, negation on one side, a relation turned around, the same words around another relating
   preposition, a changed quantity, a word and its negated form, and a *swap*: one or two content words replaced,
   in a frame of shared words at least as large, by words the lexicon cannot prove equivalent (a swap of unknown
   synonyms is a miss: the safe side); here, a number, quantity word or operator only one question has, and the
   same quantity words attached to other nouns.
2. Whatever passes (an identical question, an added word, a rewrite) is scored by a logistic regression over
   seven numbers: the embedding distance, how many content words each side has that the other lacks, how many they
   share, the share of unmatched words, whether the change is a one-sided addition, and whether the content words
   are the same. A candidate is reused when the probability that it means the same is at least ``cut``, and only
   up to ``radius``.

The weights, ``cut`` and ``radius`` live in ``data/cache_verifier.json``, written by ``benchmarks/verifier_train.py``
from the tuning sets B, D and E only (``cut`` and ``radius`` from out-of-fold predictions, precision >= 0.95 on each);
sets A and C are the held-out report (``benchmarks/cache_gate_eval.py``). The features are cheap (pure Python over
the two questions, no model call): well under a millisecond per candidate.

The distance weight was fitted on all-MiniLM-L6-v2 (the default embedder). With another embedder the structural
rules hold as they are and the gate is conservative (a larger distance scale only lowers the probability), so give
such a cache a ``distance_threshold`` measured for that embedder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .lexicon import QUANTITIES
from .verify import Verdict, content_words, judge, stem, tokens

#: Rules of :func:`.verify.judge` that reject a candidate before the gate sees it.
STRUCTURAL_RULES = frozenset({"negation", "direction", "order", "quantity", "negated_word", "swap"})
FEATURES = ("distance", "unmatched_cached", "unmatched_query", "shared", "unmatched_share", "addition", "same_content")
WEIGHTS_FILE = "cache_verifier.json"
#: Words that count something; where they attach matters ("several types in one clause").
_COUNTS = frozenset(QUANTITIES) | {"several", "multiple", "many", "some", "few"}
_QUANTITY_STEMS = frozenset(stem(w) for w in QUANTITIES)  # unmatched words come stemmed ("three" -> "thre")


def _is_exact(stem: str) -> bool:
    """A number, a quantity word or an operator symbol: words whose change always changes the question."""
    return stem in _QUANTITY_STEMS or any(ch.isdigit() for ch in stem) or not any(ch.isalpha() for ch in stem)


def structural_rejection(cached: str, query: str, verdict: Verdict) -> str | None:
    """The structural rule that rejects this candidate, or ``None``: a rule of :func:`.verify.judge`; a number, a
    quantity word or an operator that only one question has ("retry a request" / "retry a request three times",
    "== and is" / "== and ="); or the same quantity words attached to other nouns ("several types in one clause" /
    "one type in several clauses")."""
    if verdict.rule in STRUCTURAL_RULES:
        return verdict.rule
    if any(_is_exact(s) for s in (*verdict.unmatched_cached, *verdict.unmatched_query)):
        return "added_quantity"
    if moved_quantity(tokens(cached), tokens(query)):
        return "moved_quantity"
    return None


def _bindings(toks: list[str]) -> set[tuple[str, str]]:
    """(quantity word, stem of the first content word after it): what each quantity counts."""
    out = set()
    for i, tok in enumerate(toks):
        if tok in _COUNTS:
            nouns = [w for w in content_words(toks[i + 1 : i + 4]) if w not in _COUNTS]
            if nouns:
                out.add((tok, stem(nouns[0])))
    return out


def moved_quantity(a: list[str], b: list[str]) -> bool:
    """Both questions use the same quantity words, but they count different things."""
    qa, qb = sorted(t for t in a if t in _COUNTS), sorted(t for t in b if t in _COUNTS)
    return bool(qa) and qa == qb and _bindings(a) != _bindings(b)


def features(verdict: Verdict, distance: float) -> list[float]:
    """The gate's inputs for one candidate, in the order of :data:`FEATURES`."""
    ua, ub, shared = len(verdict.unmatched_cached), len(verdict.unmatched_query), verdict.shared
    total = ua + ub + 2 * shared
    return [
        float(distance),
        float(ua),
        float(ub),
        float(shared),
        (ua + ub) / total if total else 0.0,
        float(verdict.rule == "addition"),
        float(ua == 0 and ub == 0),
    ]


@dataclass(frozen=True)
class Gate:
    """A logistic regression over standardised :func:`features`, its acceptance ``cut`` and candidate ``radius``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    cut: float
    radius: float

    def __post_init__(self) -> None:
        n = len(FEATURES)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == n):
            raise ValueError(f"a gate needs {n} means, scales and weights (one per feature of FEATURES)")
        if any(s <= 0 for s in self.scale) or not 0.0 < self.cut < 1.0 or not 0.0 < self.radius <= 2.0:
            raise ValueError("gate scales must be positive, cut in (0, 1), radius in (0, 2]")

    def probability(self, verdict: Verdict, distance: float) -> float:
        """How likely the candidate means the same as the query (0..1), given a verdict no rule rejected."""
        z = self.bias + sum(
            w * (x - m) / s
            for w, x, m, s in zip(self.weights, features(verdict, distance), self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def accepts(self, cached: str, query: str, distance: float) -> bool:
        """True when the answer to ``cached`` may be reused for ``query`` at this cosine distance."""
        if distance > self.radius:
            return False
        verdict = judge(cached, query)
        if structural_rejection(cached, query, verdict) is not None:
            return False
        return self.probability(verdict, distance) >= self.cut

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "cut": self.cut,
            "radius": self.radius,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Gate:
        if data.get("features") != list(FEATURES):
            raise ValueError(f"gate weights are for features {data.get('features')!r}, this code has {FEATURES!r}")
        floats = {k: tuple(float(v) for v in data[k]) for k in ("mean", "scale", "weights")}  # type: ignore[attr-defined]
        return cls(**floats, bias=float(data["bias"]), cut=float(data["cut"]), radius=float(data["radius"]))  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def default_gate() -> Gate:
    """The shipped gate (``data/cache_verifier.json``), read once per process."""
    text = resources.files("redis_rag_integrations").joinpath("data", WEIGHTS_FILE).read_text(encoding="utf-8")
    return Gate.from_dict(json.loads(text))


def accepts(cached: str, query: str, distance: float) -> bool:
    """The default verifier: may the answer to ``cached`` be reused for ``query`` at this distance?"""
    return default_gate().accepts(cached, query, distance)
