"""The verifier keeps each question's own analysis (``verify._reading``: negations, connective sides, content stems,
compounds, numerals, trailing qualifier, quantities) per token run, so a lookup judging one query against several
candidates, and a cache asked about the same questions again and again, read each question once. Memoising must not
change a verdict: every field equals what the rule functions compute on the run, and a verdict is the same whether
the kept readings are cold, warm from other pairs, or bypassed altogether."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache import gate, verify
from redis_rag_integrations.cache.verify import (
    _NUMERALS,
    _quantities,
    _reading,
    _sides,
    _tokens,
    _trailing_phrase,
    content_words,
    judge,
    negation_count,
    reversed_relation,
    stem,
    tokens,
    unmatched_words,
)

# framing, negations, connectives, scope prepositions, quantities, numbers, compounds and content words: the
# vocabulary every rule of the verifier reads
_VOCABULARY = (
    "how do i can what is the a an why does not don't never no without to into from than of as in on with using "
    "one two three several all each only first five 3 17 0 list lists tuple tuples string strings number file files "
    "sort sorted key keys dictionary dictionaries doc strings docstrings install uninstall running python linux "
    "copy server branch main values shared between objects default == is new it"
)
WORDS = _VOCABULARY.split(" ")
QUESTION = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(lambda ws: " ".join(ws) + "?")


@settings(max_examples=300, deadline=None)
@given(text=QUESTION)
def test_a_reading_is_what_the_rules_compute_on_the_run(text: str) -> None:
    toks = _tokens(text)
    words = content_words(list(toks))
    reading = _reading(toks)
    assert reading.negations == negation_count(list(toks)) % 2
    assert list(reading.sides) == _sides(list(toks))
    assert list(reading.stems) == [stem(w) for w in words]
    assert list(reading.joined) == [stem(x + y) for x, y in pairwise(words)]
    assert reading.numerals == {_NUMERALS[s] for s in map(stem, toks) if s in _NUMERALS}
    assert reading.trailing == _trailing_phrase(list(toks))
    assert reading.quantities == _quantities(list(toks))


@settings(max_examples=300, deadline=None)
@given(cached=QUESTION, query=QUESTION, others=st.lists(st.tuples(QUESTION, QUESTION), max_size=4))
def test_a_verdict_does_not_depend_on_what_was_kept(cached: str, query: str, others: list[tuple[str, str]]) -> None:
    with pytest.MonkeyPatch.context() as m:  # no reading kept: each is computed afresh, as before readings were kept
        m.setattr(verify, "_reading", _reading.__wrapped__)
        bypassed = judge(cached, query)
    _reading.cache_clear()
    cold = judge(cached, query)
    for a, b in others:  # other pairs warm the kept readings (and the related-word pairs)
        judge(a, b)
        judge(b, a)
    warm = judge(cached, query)
    assert bypassed == cold == warm
    candidates = [(cached, 0.05), *((a, 0.1) for a, _ in others)]
    chosen = gate.default_gate().choose(query, candidates)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(verify, "_reading", _reading.__wrapped__)
        assert gate.default_gate().choose(query, candidates) == chosen


@settings(max_examples=300, deadline=None)
@given(cached=QUESTION, query=QUESTION)
def test_judge_on_readings_agrees_with_the_rule_functions_on_token_lists(cached: str, query: str) -> None:
    """``judge`` works on the kept readings (the qualifier cut, the unmatched words, the relation check); the
    public functions work on token lists: the same rules, so the same answers."""
    verdict = judge(cached, query)
    a, b = tokens(cached), tokens(query)
    if a == b or verdict.rule in ("negation", "direction"):
        assert verdict.rule != "direction" or reversed_relation(a, b)
        return
    assert not reversed_relation(a, b)
    ua, ub, shared = unmatched_words(cached, query)
    assert (list(verdict.unmatched_cached), list(verdict.unmatched_query), verdict.shared) == (ua, ub, shared)


def test_kept_readings_are_immutable() -> None:
    """A caller cannot change a kept reading for the next one: every field is a tuple, a frozenset or a number."""
    reading = _reading(_tokens("How do I copy two files to the server in Python without three keys?"))
    for value in reading:
        assert isinstance(value, int | tuple | frozenset | type(None))
    assert all(isinstance(side, tuple) for side in reading.sides)
