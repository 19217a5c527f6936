"""A lexical second look at a semantic candidate, for the look-alike questions embeddings cannot see.

Sentence embedders average meaning, so "convert a string to a number" and "convert a number to a string" (distance
~0.005), "which mutations are thread-safe" / "... are NOT thread-safe" (~0.007), "sort a list of dicts by a key" /
"... by two keys" or "round a number down" / "... up" sit closer together than most true paraphrases: no threshold
separates them (``benchmarks/results/cache_threshold.md``). Look-alikes share most words with the cached question
and change one slot; paraphrases rewrite many words or swap words for near-synonyms. So the verifier compares the
*content words* of the two questions (framing such as "how can I" / "how do I" dropped, light stemming, near-synonyms
and compounds matched, see :mod:`.lexicon`) and rejects a candidate when:

1. *negation*: the questions disagree on negation;
2. *direction*: they relate the same words in opposite directions around an asymmetric connective
   (to / into / from / than / of / as): "a list of tuples" / "a tuple of lists";
3. *negated word*: a word of one is a word of the other with a negating prefix (install / uninstall);
4. *addition*: one question has content words the other lacks and the other has none of its own ("a function" /
   "an async function", "a key" / "two keys", "keys and values" / "keys only"), unless the extra words are a whole
   trailing scope qualifier ("... in Python", "... on Linux") that the other question simply leaves out;
5. *swap*: both have unmatched words, at most ``MAX_SLOT`` each, in a frame of shared words at least as large
   (``list`` -> ``tuple``, ``UTC`` -> ``local time zone``, ``create ... missing`` -> ``remove ... empty``). A word
   changed into a longer word that starts with it or holds its letters (``date`` -> ``datetime``, ``generate`` ->
   ``generator``, :func:`.words.akin`) is a different word, yet it fills the same slot: rules 4 and 5 are judged
   again with such pairs counted once.

What passes is either the same question modulo framing and near-synonyms, or a rewrite (many words changed, few
shared), where the embedding distance already carries the difference and the threshold decides. A swap of a
synonym the lexicon does not know is rejected: a miss, the safe side. ``MAX_SLOT`` and the threshold were chosen
on evaluation set B (``data/cache_eval_library.json``) and are reported on sets A and C.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from .lexicon import (
    DETERMINERS,
    NEGATIONS,
    QUANTITIES,
    RELATIONS,
    SCOPE_PREPOSITIONS,
    STOP,
)
from .words import NUMERALS as _NUMERALS
from .words import akin, related, stem

# words (keeping ``.pyc``, ``c++``, ``c#``, ``don't``) and runs of operator symbols: ``==`` / ``is``, ``<`` / ``>``
# and ``**`` / ``%`` are different questions, so an operator is a content word, not punctuation to drop
_WORD = re.compile(r"[a-z0-9_.+#]+(?:'[a-z]+)?|[=<>!%*&|^~@]+")
_DIRECTIONAL = {"to": "to", "into": "to", "from": "from", "than": "than", "of": "of", "as": "as"}
_HOW_COME = re.compile(r"\bhow come\b")
_LETTERS = re.compile(r"[A-Za-z]{2,}")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
_NEGATING_PREFIXES = ("un", "de", "dis", "in", "im", "non", "anti")

MAX_SLOT = 2  # a swapped slot is at most this many unmatched words on each side (chosen on set B)
MAX_QUALIFIER = 3  # content words in a trailing scope qualifier that may be left out


def _mark_acronyms(text: str) -> str:
    """An upper-case word that is also a framing word ("GET" / "POST" requests, SQL's "AND" / "OR") is a name here:
    it gets a trailing ``_`` so that it stays a content word. Not when most words are upper case (shouting)."""
    words = _LETTERS.findall(text)
    if sum(w.isupper() for w in words) * 2 > len(words):
        return text
    return _ACRONYM.sub(lambda m: m[0] + "_" if m[0].lower() in STOP else m[0], text)


def tokens(text: str) -> list[str]:
    """Lowercased word tokens (keeps ``.pyc``, ``c++``, ``c#``, ``don't``) and operator symbols (``==``, ``<``);
    the framing "how come" reads as "why" ("come" would otherwise be an added content word); upper-case framing
    words are names (:func:`_mark_acronyms`)."""
    return list(_tokens(text))


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[str, ...]:
    """:func:`tokens`, kept per text: the query is read once per candidate and each rule reads it again."""
    text = _mark_acronyms(text.replace("\u2019", "'"))
    return _pronoun_one(_HOW_COME.sub("why", " ".join(_WORD.findall(text.lower()))).split())


def _pronoun_one(toks: list[str]) -> tuple[str, ...]:
    """ "one" standing for a noun ("into a new one", "the first one") reads as "it": it counts nothing, so "merge two
    dicts into a new one" / "... into a new dict" is not a change of quantity. It counts in "one column", "one of the
    columns" and "one after another"."""
    out = list(toks)
    for i, tok in enumerate(toks):
        if tok != "one" or i == 0 or (i + 1 < len(toks) and (toks[i + 1] not in STOP or toks[i + 1] == "of")):
            continue
        before = toks[i - 1]
        adjective = i >= 2 and toks[i - 2] in DETERMINERS and before not in STOP and before not in QUANTITIES
        if before in DETERMINERS or adjective:
            out[i] = "it"
    return tuple(out)


def negation_count(toks: list[str]) -> int:
    return sum(1 for t in toks if t in NEGATIONS or t.endswith("n't"))


def content_words(toks: list[str]) -> list[str]:
    """Content words: no framing words, negations (rule 1 handles them) or punctuation-only tokens; split on '/'."""
    return list(_content_words(tuple(toks)))


@lru_cache(maxsize=8192)
def _content_words(toks: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`content_words`, kept per token run: a lookup judges one question against up to four candidates, and
    the rules look at the same runs several times each."""
    out = []
    for tok in toks:
        for part in tok.split("/"):
            part = part.strip(".").removesuffix("'s")
            if part and part not in STOP and part not in NEGATIONS and not part.endswith("n't"):
                out.append(part)
    return tuple(out)


def _sides(toks: list[str], width: int = 2) -> list[tuple[str, frozenset[str], frozenset[str]]]:
    """For each asymmetric connective: the content-word stems just before and just after it (``width`` each)."""
    out = []
    for i, tok in enumerate(toks):
        conn = _DIRECTIONAL.get(tok)
        if conn is None:
            continue
        left = [stem(w) for w in content_words(toks[max(0, i - 4) : i])][-width:]
        right = [stem(w) for w in content_words(toks[i + 1 : i + 5])][:width]
        if left and right:
            out.append((conn, frozenset(left) - frozenset(right), frozenset(right) - frozenset(left)))
    return out


def reversed_relation(a: list[str], b: list[str]) -> bool:
    """The same connective relates the same words in opposite directions: "a string to a number" / "a number to a
    string", "a list of tuples" / "a tuple of lists", "a script from a binary" / "a binary from a script"."""
    return _reversed(_reading(tuple(a)).sides, _reading(tuple(b)).sides)


def _reversed(sides_a: tuple[_Side, ...], sides_b: tuple[_Side, ...]) -> bool:
    for conn, left_a, right_a in sides_a:
        for conn_b, left_b, right_b in sides_b:
            if conn == conn_b and left_a & right_b and right_a & left_b:
                return True
    return False


def _trailing_phrase(toks: list[str]) -> int | None:
    """Where the last phrase opened by a scope preposition starts, when at most ``MAX_QUALIFIER`` content words
    follow it ("... in Python", "... with a custom delimiter")."""
    for i in range(len(toks) - 1, -1, -1):
        if toks[i] in SCOPE_PREPOSITIONS:
            return i if 0 < len(content_words(toks[i + 1 :])) <= MAX_QUALIFIER else None
    return None


def _qualifier_start(toks: Sequence[str], other: Sequence[str]) -> int | None:
    """Where a trailing scope qualifier ("in Python", "on Linux") starts, if none of its words is in ``other``. A
    phrase with a determiner ("with a custom delimiter", "within a tolerance") names a thing the question is about,
    not a scope."""
    i = _reading(tuple(toks)).trailing
    if i is None or toks[i + 1] in DETERMINERS:
        return None
    tail = [stem(w) for w in content_words(toks[i + 1 :])]
    return None if any(related(s, o) for s in tail for o in other) else i


def drop_one_sided_qualifier(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """Leave out a trailing scope qualifier that only ONE question has: "copy a file" / "copy a file in Python".
    When both have one and they differ ("in UTC" / "in local time"), both stay: that is a swap, not a scope."""
    ra, rb = _reading(tuple(a)), _reading(tuple(b))
    cut_a, cut_b = _qualifier_cut(a, b, ra, rb)
    return (a if cut_a is None else a[:cut_a]), (b if cut_b is None else b[:cut_b])


def _qualifier_cut(a: Sequence[str], b: Sequence[str], ra: _Reading, rb: _Reading) -> tuple[int | None, int | None]:
    """:func:`drop_one_sided_qualifier` as where each run is cut (``None``: kept whole), given their readings."""
    qa, qb = _qualifier_start(a, rb.stems), _qualifier_start(b, ra.stems)
    if qa is not None and rb.trailing is None:
        return qa, None
    if qb is not None and ra.trailing is None:
        return None, qb
    return None, None


def _unmatched(toks_a: list[str], toks_b: list[str]) -> tuple[list[str], list[str], int]:
    return _unmatched_read(_reading(tuple(toks_a)), _reading(tuple(toks_b)))


def _unmatched_read(ra: _Reading, rb: _Reading) -> tuple[list[str], list[str], int]:
    """:func:`_unmatched` of two runs given their readings (:func:`judge` has them already)."""
    sa, sb, ja, jb, na, nb = ra.stems, rb.stems, ra.joined, rb.joined, ra.numerals, rb.numerals

    def unmatched(
        mine: Sequence[str], joined_mine: Sequence[str], theirs: Sequence[str], joined_theirs: Sequence[str],
        spelled: frozenset[str],
    ) -> list[str]:  # fmt: skip
        out: list[str] = []
        only_theirs = [t for t in theirs if t not in mine]  # a synonym must stand in the other's swapped slot
        for i, s in enumerate(mine):  # loops, not any() over generators: this runs for every word of every pair
            if s in theirs or s in joined_theirs or s in spelled or _related_to_any(s, only_theirs):
                continue
            if (i and joined_mine[i - 1] in theirs) or (i < len(joined_mine) and joined_mine[i] in theirs):
                continue  # a compound this word is part of
            if s not in out:
                out.append(s)
        return out

    return unmatched(sa, ja, sb, jb, nb), unmatched(sb, jb, sa, ja, na), len(set(sa) & set(sb))


def _related_to_any(word: str, others: Sequence[str]) -> bool:
    for other in others:  # noqa: SIM110 (a loop: any() over a generator costs more than the test itself here)
        if related(word, other):
            return True
    return False


def unmatched_words(cached: str, query: str) -> tuple[list[str], list[str], int]:
    """Content-word stems of each question that nothing in the other accounts for, and the number shared (after
    leaving out a one-sided scope qualifier)."""
    return _unmatched(*drop_one_sided_qualifier(tokens(cached), tokens(query)))


def _negated(a: str, b: str) -> bool:
    """``b`` is ``a`` with a negating prefix (install / uninstall, compatible / incompatible), or the reverse."""
    return any(len(x) >= 4 and any(y == p + x for p in _NEGATING_PREFIXES) for x, y in ((a, b), (b, a)))


def _quantities(toks: list[str]) -> set[str]:
    return {QUANTITIES[t] for t in toks if t in QUANTITIES}


def _scoped(toks: list[str]) -> set[str]:
    """Stems of the first content word after each scope preposition that relates nothing: "a list in Python" ->
    {"python"}; not after "from", which also relates ("copy a file to a host" / "from a host")."""
    out = set()
    for i, tok in enumerate(toks):
        if tok in SCOPE_PREPOSITIONS and tok not in RELATIONS:
            words = content_words(toks[i + 1 : i + 4])
            if words:
                out.add(stem(words[0]))
    return out


def _relations(toks: list[str], shared: set[str]) -> list[tuple[str, frozenset[str], frozenset[str]]]:
    """Each relating preposition with the shared content words before and after it, in order ("copy file TO
    server" -> ``("to", {copy, file}, {server})``). One with no shared word on a side relates nothing the other
    question has (the infinitive of "what is the way TO select a column"), so it is left out; a word moving within
    a side (the verb of a passive: "remove spaces from a string" / "how can spaces be removed from a string") does
    not change what the preposition relates."""
    out: list[tuple[str, frozenset[str], frozenset[str]]] = []
    stems = [stem(t) for t in toks]
    for i, tok in enumerate(toks):
        rel = RELATIONS.get(tok)
        if rel is None:
            continue
        before = frozenset(s for s in stems[:i] if s in shared)
        after = frozenset(s for s in stems[i + 1 :] if s in shared)
        if before and after and (not out or out[-1] != (rel, before, after)):
            out.append((rel, before, after))
    return out


def reordered(a: list[str], b: list[str]) -> bool:
    """The same words around another relating preposition, or on other sides of one: "rebase my branch onto
    main" / "rebase main onto my branch", "copy files to a server" / "copy files from a server". Word order alone,
    with no relating preposition in either question, is not a change of meaning: English moves words for voice
    ("objects share default values" / "default values are shared between objects"), and neither is a relation only
    one question states ("the difference between loc and iloc" / "how does loc differ from iloc")."""
    shared = {stem(w) for w in content_words(a)} & {stem(w) for w in content_words(b)}
    shared -= _scoped(a) | _scoped(b)  # "a list in Python" / "a Python list": a scope moves freely
    ra, rb = _relations(a, shared), _relations(b, shared)
    return bool(ra) and bool(rb) and ra != rb


#: One asymmetric connective with the stems on each side of it (:func:`_sides`).
_Side = tuple[str, frozenset[str], frozenset[str]]


class _Reading(NamedTuple):
    """What :func:`judge` reads of one question's token run on its own, whatever it is compared with."""

    negations: int  # parity of the negations (rule 1)
    sides: tuple[_Side, ...]  # :func:`_sides` (rule 2)
    stems: tuple[str, ...]  # content-word stems
    joined: tuple[str, ...]  # stems of adjacent content words joined (compounds)
    numerals: frozenset[str]  # the numerals it spells, framing words included
    trailing: int | None  # :func:`_trailing_phrase`
    quantities: frozenset[str]  # :func:`_quantities`


@lru_cache(maxsize=8192)
def _reading(toks: tuple[str, ...]) -> _Reading:
    """:class:`_Reading` of a token run, kept per run: a lookup judges one query against up to four candidates and
    a cache holds the same questions lookup after lookup, so each side's own analysis (two thirds of a verdict's
    time) is done once per question, not once per pair. Immutable values only: callers cannot change a kept one."""
    words = content_words(list(toks))
    return _Reading(
        negation_count(list(toks)) % 2,
        tuple(_sides(list(toks))),
        tuple(stem(w) for w in words),
        tuple(stem(x + y) for x, y in pairwise(words)),  # "doc strings" / "docstrings" (stemmed after joining)
        frozenset(_NUMERALS[s] for s in map(stem, toks) if s in _NUMERALS),  # "keep one replica" / "keep 1 replica"
        _trailing_phrase(list(toks)),
        frozenset(_quantities(list(toks))),
    )


@dataclass(frozen=True)
class Verdict:
    """Why a candidate was rejected (``rule``), or ``None`` when it may be reused."""

    rule: str | None
    unmatched_cached: tuple[str, ...] = ()
    unmatched_query: tuple[str, ...] = ()
    shared: int = 0


def judge(cached: str, query: str, max_slot: int = MAX_SLOT) -> Verdict:
    """Apply the rules of the module docstring in order; the first that fires names the verdict."""
    a, b = _tokens(cached), _tokens(query)
    if a == b:  # the same words in the same order: nothing was negated, swapped or contrasted
        return Verdict(None)
    ra, rb = _reading(a), _reading(b)
    if ra.negations != rb.negations:
        return Verdict("negation")
    if _reversed(ra.sides, rb.sides):
        return Verdict("direction")
    cut_a, cut_b = _qualifier_cut(a, b, ra, rb)
    ua, ub, shared = _unmatched_read(
        ra if cut_a is None else _reading(a[:cut_a]), rb if cut_b is None else _reading(b[:cut_b])
    )
    rule = None
    qa, qb = ra.quantities, rb.quantities
    if qa and qb and qa != qb:
        rule = "quantity"
    elif not ua and not ub and reordered(list(a), list(b)):
        rule = "order"
    elif any(_negated(x, y) for x in ua for y in ub):
        rule = "negated_word"
    else:
        rule = _addition_or_swap(ua, ub, shared, max_slot)
    return Verdict(rule, tuple(ua), tuple(ub), shared)


def _addition_or_swap(ua: list[str], ub: list[str], shared: int, max_slot: int) -> str | None:
    """ "addition" when one side adds words to a larger shared frame, "swap" when both replace at most ``max_slot``
    words in a frame at least as large, else ``None``. Judged on the unmatched words as they are, then, if that
    finds nothing, with the words of one side akin to a word of the other (a compound or a longer form of it:
    ``date`` / ``datetime``) counted as one word changed in its place: "sort by date" / "quickly sort by datetime
    descending" still adds words, as it did when the two were read as one word."""
    rule = _slot_rule(ua, ub, shared, max_slot)
    if rule is None and ua and ub:
        la = [x for x in ua if not any(akin(x, y) for y in ub)]
        lb = [y for y in ub if not any(akin(x, y) for x in ua)]
        if len(la) + len(lb) < len(ua) + len(ub):  # some akin pair was set aside: judge the slot again
            rule = _slot_rule(la, lb, shared, max_slot)
    return rule


def _slot_rule(a: list[str], b: list[str], shared: int, max_slot: int) -> str | None:
    if bool(a) != bool(b) and shared >= len(a) + len(b):
        return "addition"
    if a and b and len(a) <= max_slot and len(b) <= max_slot and shared >= max(len(a), len(b)):
        return "swap"
    return None


def is_contrast(cached: str, query: str, max_slot: int = MAX_SLOT) -> bool:
    """The content-word rules alone (3 to 5): a negated word, a one-sided addition or a small swapped slot."""
    verdict = judge(cached, query, max_slot)
    return verdict.rule in ("negated_word", "addition", "swap")


def is_near_miss(cached: str, query: str) -> bool:
    """True when ``query`` must NOT reuse the answer to ``cached`` although their embeddings are close."""
    return judge(cached, query).rule is not None
