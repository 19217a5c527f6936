"""A lexical second look at a semantic candidate, for the two near misses embeddings cannot see.

Sentence embedders average meaning, so "convert a string to a number" and "convert a number to a string" (distance
~0.005) or "which mutations are thread-safe" / "... are NOT thread-safe" (~0.007) sit closer together than most true
paraphrases: no threshold separates them (see ``benchmarks/results/cache_threshold.md``). Two cheap rules reject
them: the questions disagree on negation, or they relate the same two words in opposite directions around an
asymmetric connective (to / into / from / than). Everything else is left to the distance threshold.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9_.+#]+(?:'[a-z]+)?")
_NEGATIONS = {"not", "no", "never", "none", "nothing", "without", "cannot", "nor", "neither"}
_DIRECTIONAL = {"to": "to", "into": "to", "from": "from", "than": "than"}
_SKIP = {"a", "an", "the", "my", "your", "its", "their", "some", "any", "one", "another", "of"}


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def negation_count(tokens: list[str]) -> int:
    return sum(1 for t in tokens if t in _NEGATIONS or t.endswith("n't"))


def directed_pairs(tokens: list[str]) -> set[tuple[str, str, str]]:
    """``(left word, connective, right word)`` for each asymmetric connective, skipping articles."""
    pairs = set()
    for i, tok in enumerate(tokens):
        if tok not in _DIRECTIONAL:
            continue
        left = next((t for t in reversed(tokens[max(0, i - 3) : i]) if t not in _SKIP), None)
        right = next((t for t in tokens[i + 1 : i + 4] if t not in _SKIP), None)
        if left and right:
            pairs.add((left.rstrip("s"), _DIRECTIONAL[tok], right.rstrip("s")))
    return pairs


def is_near_miss(cached: str, query: str) -> bool:
    """True when ``query`` must NOT reuse the answer to ``cached`` although their embeddings are close."""
    a, b = _tokens(cached), _tokens(query)
    if (negation_count(a) % 2) != (negation_count(b) % 2):
        return True
    pa, pb = directed_pairs(a), directed_pairs(b)
    return any((right, conn, left) in pb for left, conn, right in pa if left != right)
