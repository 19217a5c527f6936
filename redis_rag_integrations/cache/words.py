"""Words as the near-miss verifier compares them: a light stemmer, and when two stems count as the same word
(equal, one a prefix of the other, a short form, a number word and its numeral, near-synonyms of :mod:`.lexicon`).

Apart from :mod:`.verify` (which applies its rules to questions made of these words) so that each stays a
screenful of reading; :mod:`.verify` re-exports :func:`stem` and :func:`related`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .lexicon import NUMBER_WORDS, SYNONYMS

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
    for gid, line in enumerate(SYNONYMS):
        for word in line.split():
            groups.setdefault(stem(word), set()).add(gid)
    return {k: frozenset(v) for k, v in groups.items()}


LEXICON = _build_lexicon()
#: The numeral of each number word's stem ("fiv" -> "5"): a word and its numeral are the same word.
NUMERALS = {stem(word): digits for word, digits in NUMBER_WORDS.items()}


@lru_cache(maxsize=16384)
def related(a: str, b: str) -> bool:
    """Same word for this purpose: equal stems, one stem a prefix of the other (>= 4 letters), or near-synonyms.
    Kept per pair: the unmatched-word search asks about the same stems many times per candidate."""
    if a == b or NUMERALS.get(a, a) == NUMERALS.get(b, b):
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 5:
        return True
    if _abbreviates(short, long_):
        return True
    return bool(LEXICON.get(a, frozenset()) & LEXICON.get(b, frozenset()))


def _abbreviates(short: str, long_: str) -> bool:
    """A two- or three-letter word made of letters of a much longer one, in order, from its first: "js" /
    "javascript", "df" / "dataframe", "db" / "database", "env" / "environment"."""
    if not (2 <= len(short) <= 3 and len(long_) > 2 * len(short) and short[0] == long_[0] and short.isalpha()):
        return False
    rest = iter(long_[1:])
    return all(ch in rest for ch in short[1:])
