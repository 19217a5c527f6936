"""The near-miss verifier the caches use by default: structural rules, then a small learned gate.

Why two stages. Look-alike questions ("convert a string to a number" / "a number to a string", "a list" / "a tuple")
share most words with the cached question and change one content word or the order of two; true paraphrases rewrite
many words. A distance threshold cannot tell them apart (look-alikes are the *closest* questions), so:

1. *Structural rules* reject what is a look-alike by construction (:func:`structural_rejection`): from
   :func:`.verify.judge`, negation on one side (also "non-"), a relation turned around, the same words around another
   relating preposition, a changed quantity, a word and its negated form, and a *swap*: one or two content words
   replaced, in a frame of shared words at least as large, by words the lexicon cannot prove equivalent (a swap of
   unknown synonyms is a miss: the safe side); here, a number, quantity word or operator only one question has, a
   count word ("several") or a preventing verb ("stop ... from") only one question adds, and the same quantity
   words attached to other nouns.
2. Whatever passes (an identical question, an added word, a rewrite) is scored by a logistic regression over
   eight numbers and their pairwise products: the embedding distance, how many content words each side has that
   the other lacks, how many they share, the share of unmatched words, whether the change is a one-sided addition,
   whether the content words are the same, and in how many places the two sentences differ (:func:`edits`). The
   products let one number change what another means (a distance of 0.2 is safe for a reworded frame, not for a
   rewrite that also changes three content words); out of fold on the tuning sets they raised the recall at
   precision >= 0.95 on every set from 0.102 to 0.136. A candidate is reused when the probability that it means the
   same is at least ``cut``, and only up to ``radius``.
3. Across the candidates of one lookup (:func:`scan`): once a closer cached question was rejected as a look-alike,
   a farther one is reused only if it asks the very same thing.

The weights, ``cut`` and ``radius`` live in ``data/cache_verifier.json``, written by ``benchmarks/verifier_train.py``
from the tuning sets B, D, E and F only (``cut`` and ``radius`` from out-of-fold predictions, precision >= 0.95 on
each); sets A, C and G are the held-out report (``benchmarks/cache_gate_eval.py``). The features are cheap (pure
Python over the two questions, no model call): well under a millisecond per candidate.

The distance weights were fitted on all-MiniLM-L6-v2 (the default embedder). With another embedder the structural
rules hold as they are, but the gate reads distances on MiniLM's scale (with the squared terms the probability is
not monotone in the distance far beyond the radius): give such a cache a ``distance_threshold`` measured for that
embedder; the radius bounds every hit. A gate never accepts on a number it cannot read: a non-finite input or
weight gives probability 0, and weights that are not finite numbers of the right shape are refused on load.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import takewhile

from .lexicon import CONTRASTS, DETERMINERS, PREVENTIONS, QUANTITIES, STOP
from .verify import Verdict, content_words, judge, related, stem, tokens

#: Rules of :func:`.verify.judge` that reject a candidate before the gate sees it.
STRUCTURAL_RULES = frozenset({"negation", "direction", "order", "quantity", "negated_word", "swap"})
FEATURES = (
    "distance",
    "unmatched_cached",
    "unmatched_query",
    "shared",
    "unmatched_share",
    "addition",
    "same_content",
    "edits",
)
#: What the regression weighs: each standardised feature, then the product of every pair (a feature with itself
#: included), in the order of :func:`quadratic_terms`.
TERMS = (*FEATURES, *(f"{a}*{b}" for i, a in enumerate(FEATURES) for b in FEATURES[i:]))
WEIGHTS_FILE = "cache_verifier.json"
#: The learned half of a verdict: (cached question, query, its verdict, distance) -> reuse?
Likely = Callable[[str, str, Verdict, float], bool]
#: Words that count something; where they attach matters ("several types in one clause").
_COUNTS = frozenset(QUANTITIES) | {"several", "multiple", "many", "some", "few"}
_QUANTITY_STEMS = frozenset(stem(w) for w in QUANTITIES)  # unmatched words come stemmed ("three" -> "thre")
_COUNT_STEMS = frozenset(stem(w) for w in _COUNTS)
_TURNING_STEMS = frozenset(stem(w) for w in PREVENTIONS | CONTRASTS)


def _is_exact(stem: str) -> bool:
    """A number, a quantity word or an operator symbol: words whose change always changes the question."""
    return stem in _QUANTITY_STEMS or any(ch.isdigit() for ch in stem) or not any(ch.isalpha() for ch in stem)


def _body(toks: list[str]) -> list[str]:
    """The question without its opening frame ("how can i", "what is the") and determiners, stemmed."""
    start = next((i for i, tok in enumerate(toks) if tok not in STOP), len(toks))
    return [stem(tok) for tok in toks[start:] if tok not in DETERMINERS]


def edits(cached: str, query: str) -> int:
    """In how many separate places the two questions differ, once the opening frame and determiners are left out
    and related words (:func:`.verify.related`) count as equal: 1 for an edit in one place ("how do I READ a file"
    / "how can I WRITE a file"), more for a rewording. A question that differs from another in one place asks
    something next to it; a paraphrase rewords in several places."""
    a, b = _body(tokens(cached)), _body(tokens(query))
    b = [y if y in a else next((x for x in a if related(x, y)), y) for y in b]  # a word of its own first
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return sum(1 for op in ops if op[0] != "equal")


def structural_rejection(cached: str, query: str, verdict: Verdict) -> str | None:
    """The structural rule that rejects this candidate, or ``None``: a rule of :func:`.verify.judge`; a number, a
    quantity word or an operator that only one question has ("retry a request" / "retry a request three times",
    "== and is" / "== and ="); or the same quantity words attached to other nouns ("several types in one clause" /
    "one type in several clauses")."""
    if verdict.rule in STRUCTURAL_RULES:
        return verdict.rule
    if any(_is_exact(s) for s in (*verdict.unmatched_cached, *verdict.unmatched_query)):
        return "added_quantity"
    if verdict.rule == "addition" and _COUNT_STEMS & {*verdict.unmatched_cached, *verdict.unmatched_query}:
        return "added_quantity"  # "upload a file" / "upload several files"
    turning_a, turning_b = _TURNING_STEMS & set(verdict.unmatched_cached), _TURNING_STEMS & set(verdict.unmatched_query)
    if bool(turning_a) != bool(turning_b):  # "cache responses" / "STOP the browser from caching responses"
        return "turned_around"
    if moved_quantity(tokens(cached), tokens(query)):
        return "moved_quantity"
    return None


def _bindings(toks: list[str], other: set[str]) -> set[tuple[str, str]]:
    """(quantity word, stem of the noun it counts): in the run of content words right after it, the last one the
    ``other`` question has too, else the last one: the head of that phrase ("two SEPARATE columns" counts columns,
    as "two columns" does; "two arrays TOGETHER" counts arrays)."""
    out = set()
    for i, tok in enumerate(toks):
        if tok in _COUNTS:
            run = [stem(t) for t in takewhile(lambda t: content_words([t]) == [t] and t not in _COUNTS, toks[i + 1 :])]
            known = [s for s in run if any(related(s, o) for o in other)]
            if run:
                out.add((tok, (known or run)[-1]))
    return out


def _counts_alike(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    return all(any(q == r and related(x, y) for r, y in b) for q, x in a)


def moved_quantity(a: list[str], b: list[str]) -> bool:
    """Both questions use the same quantity words, but they count different things ("several types in one clause"
    / "one type in several clauses", "two matrices" / "two vectors")."""
    qa, qb = sorted(t for t in a if t in _COUNTS), sorted(t for t in b if t in _COUNTS)
    if not qa or qa != qb:
        return False
    sa, sb = {stem(w) for w in content_words(a)}, {stem(w) for w in content_words(b)}
    ba, bb = _bindings(a, sb), _bindings(b, sa)
    return not (_counts_alike(ba, bb) and _counts_alike(bb, ba))


def features(verdict: Verdict, distance: float, n_edits: int) -> list[float]:
    """The gate's inputs for one candidate, in the order of :data:`FEATURES` (``n_edits``: :func:`edits`)."""
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
        float(min(n_edits, 4)),
    ]


def quadratic_terms(z: Sequence[float]) -> list[float]:
    """The standardised features followed by the product of every pair ``z[i] * z[j]``, ``i <= j``."""
    return [*z, *(z[i] * z[j] for i in range(len(z)) for j in range(i, len(z)))]


@dataclass(frozen=True)
class Gate:
    """A logistic regression over the :func:`quadratic_terms` of the standardised :func:`features` (each term
    standardised again: ``term_mean`` / ``term_scale``), its acceptance ``cut`` and candidate ``radius``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    term_mean: tuple[float, ...]
    term_scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    cut: float
    radius: float

    def __post_init__(self) -> None:
        if not len(self.mean) == len(self.scale) == len(FEATURES):
            raise ValueError(f"a gate needs {len(FEATURES)} means and scales (one per feature of FEATURES)")
        if not len(self.term_mean) == len(self.term_scale) == len(self.weights) == len(TERMS):
            raise ValueError(f"a gate needs {len(TERMS)} term means, scales and weights (one per term of TERMS)")
        numbers = (*self.mean, *self.scale, *self.term_mean, *self.term_scale, *self.weights, self.bias)
        if not all(math.isfinite(v) for v in (*numbers, self.cut, self.radius)):
            raise ValueError("a gate's numbers must all be finite")
        if any(s <= 0 for s in (*self.scale, *self.term_scale)):
            raise ValueError("gate scales must be positive")
        if not 0.0 < self.cut < 1.0 or not 0.0 < self.radius <= 2.0:
            raise ValueError("a gate's cut must lie in (0, 1) and its radius in (0, 2]")

    def probability(self, verdict: Verdict, distance: float, n_edits: int) -> float:
        """How likely the candidate means the same as the query (0..1), given a verdict no rule rejected."""
        x = features(verdict, distance, n_edits)
        z = [(v - m) / s for v, m, s in zip(x, self.mean, self.scale, strict=True)]
        terms = zip(self.weights, quadratic_terms(z), self.term_mean, self.term_scale, strict=True)
        logit = self.bias + sum(w * (t - m) / s for w, t, m, s in terms)
        if not math.isfinite(logit):  # a NaN or infinite distance: min()/max() would read NaN as certain
            return 0.0
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))

    def likely(self, cached: str, query: str, verdict: Verdict, distance: float) -> bool:
        """The learned half alone: within ``radius`` and probable enough, for a verdict no rule rejected."""
        return distance <= self.radius and self.probability(verdict, distance, edits(cached, query)) >= self.cut

    def accepts(self, cached: str, query: str, distance: float) -> bool:
        """True when the answer to ``cached`` may be reused for ``query`` at this cosine distance (one candidate
        alone; a lookup over several candidates is :meth:`choose`)."""
        verdict = judge(cached, query)
        return structural_rejection(cached, query, verdict) is None and self.likely(cached, query, verdict, distance)

    def choose(self, query: str, candidates: Iterable[tuple[str, float]]) -> int | None:
        """Which of the candidates (cached question, distance; closest first) answers ``query``, if any:
        :func:`scan` with this gate."""
        return scan(query, candidates, self.likely)

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "terms": list(TERMS),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "term_mean": list(self.term_mean),
            "term_scale": list(self.term_scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "cut": self.cut,
            "radius": self.radius,
        }

    @classmethod
    def from_dict(cls, data: object) -> Gate:
        """The gate saved by :meth:`to_dict`; anything else is a ``ValueError`` that says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"gate weights must be a JSON object, not {type(data).__name__}")
        if data.get("features") != list(FEATURES) or data.get("terms") != list(TERMS):
            raise ValueError(
                f"gate weights are for features {data.get('features')!r} and terms {data.get('terms')!r}; this code "
                f"has {FEATURES!r} and their pairwise products"
            )
        names = ("mean", "scale", "term_mean", "term_scale", "weights")
        try:
            if not all(isinstance(data[k], list) for k in names):
                raise TypeError(f"each of {names} must be a list of numbers")
            vectors = {k: tuple(float(v) for v in data[k]) for k in names}
            scalars = {k: float(data[k]) for k in ("bias", "cut", "radius")}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed gate weights: {exc}") from exc
        return cls(**vectors, **scalars)


@lru_cache(maxsize=1)
def default_gate() -> Gate:
    """The shipped gate (``data/cache_verifier.json``), read once per process."""
    text = resources.files("redis_rag_integrations").joinpath("data", WEIGHTS_FILE).read_text(encoding="utf-8")
    return Gate.from_dict(json.loads(text))


def accepts(cached: str, query: str, distance: float) -> bool:
    """The default verifier: may the answer to ``cached`` be reused for ``query`` at this distance?"""
    return default_gate().accepts(cached, query, distance)


def scan(query: str, candidates: Iterable[tuple[str, float]], likely: Likely) -> int | None:
    """The index of the first candidate (closest first) that no structural rule rejects and ``likely`` accepts, with
    one more rule across candidates: once a closer candidate was rejected as a look-alike of the query (a structural
    rule: one slot changed), a farther one is taken only if it asks the very same thing (no unmatched content
    words). The query then asks something next to a cached question, and a farther question that is merely
    related ("which port does a process use" after "which process uses a port" was refused) is no better an
    answer. ``likely(cached, query, verdict, distance)`` is the learned half (:meth:`Gate.likely`)."""
    after_look_alike = False
    for i, (cached, distance) in enumerate(candidates):
        verdict = judge(cached, query)
        if structural_rejection(cached, query, verdict) is not None:
            after_look_alike = True
        elif after_look_alike and (verdict.unmatched_cached or verdict.unmatched_query):
            continue
        elif likely(cached, query, verdict, distance):
            return i
    return None
