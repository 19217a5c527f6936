"""Words as the near-miss verifier compares them: a light stemmer, and when two stems count as the same word
(equal, one the other with an adverb ending, a number word and its numeral, short forms and near-synonyms of
:mod:`.lexicon`).

Why so strict: counting two different words as one is the unsafe side. "time" / "timeout" or "date" / "datetime"
read as one word make a look-alike the very question cached, and the cache serves another question's answer; a
missed equivalence only costs a hit. A longer word that starts with a word, or holds its letters in order, is
therefore another word unless the rest is an adverb ending (:data:`.lexicon.ADVERB_ENDINGS`) or the lexicon lists
the pair; so is a noun made from a word ("port" / "portion", "product" / "production"), unless listed.

Apart from :mod:`.verify` (which applies its rules to questions made of these words) so that each stays a
screenful of reading; :mod:`.verify` re-exports :func:`stem` and :func:`related`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .lexicon import ABBREVIATIONS, ADVERB_ENDINGS, CONTRASTS, NEGATIONS, NUMBER_WORDS, PREVENTIONS, STOP, SYNONYMS

_VOWEL = re.compile("[aeiouy]")


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """A light English stemmer, enough to equate plurals and verb forms ("tuples"/"tuple", "running"/"run")."""
    w = word.lower().removesuffix("'s").strip(".")
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not (suffix == "s" and w.endswith(("ss", "us", "is"))):
            w = w[: -len(suffix)] + repl
            break
    for suffix in ("ing", "ed"):
        base = w[: -len(suffix)]
        if w.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base) and not base.endswith("e"):  # speed, need
            w = base
            if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz":  # running -> runn -> run
                w = w[:-1]
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def _build_lexicon() -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for gid, line in enumerate((*SYNONYMS, *ABBREVIATIONS)):
        for word in line.split():
            groups.setdefault(stem(word), set()).add(gid)
    return {k: frozenset(v) for k, v in groups.items()}


LEXICON = _build_lexicon()
#: The numeral of each number word's stem ("fiv" -> "5"): a word and its numeral are the same word.
NUMERALS = {stem(word): digits for word, digits in NUMBER_WORDS.items()}


#: Closed-class words are never an adverb's base ("even" / "evenly").
_CLOSED = frozenset(stem(w) for w in STOP | NEGATIONS | CONTRASTS | PREVENTIONS)


@lru_cache(maxsize=16384)
def related(a: str, b: str) -> bool:
    """Same word for this purpose: equal stems, a number word and its numeral, one stem the other plus an adverb
    ending (>= 4 letters before it), or short forms / near-synonyms of the lexicon. Kept per pair: the
    unmatched-word search asks about the same stems many times per candidate."""
    if a == b or NUMERALS.get(a, a) == NUMERALS.get(b, b):
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 4 and short not in _CLOSED and long_.startswith(short) and long_[len(short) :] in ADVERB_ENDINGS:
        return True
    return bool(LEXICON.get(a, frozenset()) & LEXICON.get(b, frozenset()))


@lru_cache(maxsize=16384)
def akin(a: str, b: str) -> bool:
    """Related, or one stem a longer word's start (>= 4 letters, at most 5 more) or its letters in order (a two- or
    three-letter word): "time" / "timeout", "generat" / "generator", "cut" / "convert". NOT the same word: the
    verifier uses this only to judge an addition or a swapped slot again (:func:`.verify.judge`), where "date" ->
    "datetime" is one word changed in its place, not one word removed and another added."""
    if related(a, b):
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 5:
        return True
    if not (2 <= len(short) <= 3 and len(long_) > 2 * len(short) and short[0] == long_[0] and short.isalpha()):
        return False
    rest = iter(long_[1:])
    return all(ch in rest for ch in short[1:])
