"""When the near-miss verifier counts two words as the same word (:func:`.words.related`).

A false "same word" is the unsafe side: it makes a look-alike ("convert a timestamp to a date" / "... to a
datetime") read as the very question cached, and serves another question's answer. A missed one only costs a hit.
So a word is the same as another only by its stem, an adverb ending, a number word and its numeral, or a short form
or near-synonym the lexicon names; a word and a longer word that merely starts with its letters (a compound: "time"
/ "timeout", "path" / "pathlib"; a noun made from it: "port" / "portion") or holds them in order ("cut" /
"convert", "re" / "return") are different words.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache.gate import structural_rejection
from redis_rag_integrations.cache.verify import judge
from redis_rag_integrations.cache.words import LEXICON, related, stem


def _same(a: str, b: str) -> bool:
    return related(stem(a), stem(b))


DIFFERENT = [  # a word and a compound or longer word it only starts with, or whose letters it holds in order
    ("time", "timeout"),
    ("time", "timestamp"),
    ("date", "datetime"),
    ("name", "namespace"),
    ("key", "keyword"),
    ("file", "filename"),
    ("path", "pathlib"),
    ("data", "dataframe"),
    ("user", "username"),
    ("pass", "password"),
    ("type", "typescript"),
    ("form", "format"),
    ("three", "thread"),
    ("contain", "container"),
    ("work", "worker"),
    ("call", "callable"),
    ("except", "exception"),
    ("int", "interval"),
    ("set", "separator"),
    ("cut", "convert"),
    ("put", "product"),
    ("add", "address"),
    ("re", "return"),
    ("up", "upload"),
    ("id", "index"),
    ("df", "different"),
    ("def", "default"),
    ("port", "portion"),  # a noun made from a word is another word as often as not
    ("part", "partition"),
    ("direct", "direction"),
    ("object", "objection"),
    ("major", "majority"),
    ("prior", "priority"),
    ("author", "authority"),
    ("product", "production"),
    ("form", "formation"),
    ("import", "importance"),
    ("reqs", "requests"),  # "reqs" are as often requirements
]

SAME = [  # inflections, derivations and short forms that keep the meaning
    ("js", "javascript"),
    ("db", "database"),
    ("env", "environment"),
    ("df", "dataframe"),
    ("np", "numpy"),
    ("dict", "dictionary"),
    ("config", "configuration"),
    ("repo", "repository"),
    ("str", "string"),
    ("int", "integer"),
    ("exact", "exactly"),
    ("secure", "securely"),
    ("complete", "completely"),
    ("differ", "difference"),  # listed in the lexicon
    ("connect", "connection"),  # listed in the lexicon
    ("sort", "sorted"),
    ("tuples", "tuple"),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_a_word_is_not_a_longer_word_that_starts_with_it_or_holds_its_letters(a: str, b: str) -> None:
    assert not _same(a, b) and not _same(b, a)


@pytest.mark.parametrize(("a", "b"), SAME)
def test_inflections_derivations_and_short_forms_are_the_same_word(a: str, b: str) -> None:
    assert _same(a, b) and _same(b, a)


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from(["time", "date", "name", "file", "path", "data", "user", "list", "read", "host", "back"]),
    tail=st.sampled_from(["out", "stamp", "space", "frame", "word", "line", "lib", "dir", "base", "box", "set"]),
)
def test_a_compound_is_never_its_first_part(head: str, tail: str) -> None:
    assert not _same(head, head + tail)


@settings(max_examples=300, deadline=None)
@given(
    head=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8),
    tail=st.sampled_from(["ion", "ation", "ity", "ment", "ence", "ance", "ness", "er", "or", "able", "al", "ic", "y"]),
)
def test_a_noun_or_adjective_ending_never_makes_the_same_word(head: str, tail: str) -> None:
    """Only an adverb ending (or the lexicon) relates a longer word to its start: "port" / "portion" differ."""
    a, b = stem(head), stem(head + tail)
    lexicon_pair = bool(LEXICON.get(a, frozenset()) & LEXICON.get(b, frozenset()))
    assert a == b or lexicon_pair or not related(a, b)


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I convert a timestamp to a datetime?", "How do I convert a timestamp to a date?"),
        ("How do I set a timeout on a socket?", "How do I set the time on a socket?"),
        ("How do I list the files in a directory?", "How do I list the filenames in a directory?"),
        ("How do I add a column to a table?", "How do I address a column of a table?"),
    ],
)
def test_a_look_alike_made_by_a_compound_or_a_longer_word_is_not_the_same_question(cached: str, query: str) -> None:
    verdict = judge(cached, query)
    assert verdict.unmatched_cached or verdict.unmatched_query  # never read as the cached question itself
    assert structural_rejection(cached, query, verdict) is not None  # and rejected before the gate sees it


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I sort a list by date?", "How do I quickly sort a list by datetime descending?"),
        ("How do I list the files in a directory?", "How do I list the hidden filenames in a directory recursively?"),
        ("How can I create an image from my Dockerfile?", "How can I make my Docker images smaller?"),
    ],
)
def test_words_added_around_a_longer_form_of_a_word_are_still_an_addition(cached: str, query: str) -> None:
    """A word turned into a compound or longer form of itself fills its own place; what else one side has is added
    (the gate judges additions with that flag): the stricter word relation must not hide it."""
    assert judge(cached, query).rule == "addition" and judge(query, cached).rule == "addition"


def test_a_short_form_still_reads_as_the_same_question() -> None:
    verdict = judge("How do I connect to a database from Node.js?", "How do I connect to a db from Node.js?")
    assert verdict.rule is None and not verdict.unmatched_cached and not verdict.unmatched_query
