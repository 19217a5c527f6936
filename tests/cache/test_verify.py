"""The near-miss verifier's lexical rules, without Redis or an embedder: contrasts are rejected, paraphrases pass."""

from __future__ import annotations

import pytest

from redis_rag_integrations.cache import verify
from redis_rag_integrations.cache.verify import is_contrast, is_near_miss, reversed_relation, stem, unmatched_words


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("Is a list mutable in Python?", "Is a tuple mutable in Python?"),  # swapped object
        ("How do I create a .pyc file?", "How do I delete .pyc files?"),  # swapped verb
        ("How do I copy a file?", "How do I delete a file?"),
        ("How do I read a file line by line?", "How do I write a file line by line?"),
        ("How do I install a package with pip?", "How do I uninstall a package with pip?"),  # negating prefix
        ("Are these versions compatible?", "Why are these versions incompatible?"),
        ("How do I find the largest item in a dict?", "How do I find the smallest item in a dict?"),  # antonym
        ("How do I sort a list of tuples?", "How do I sort a tuple of lists?"),  # reversed relation
        ("How can I build a wheel from a source tree?", "How can I build a source tree from a wheel?"),
        ("How do I convert a string to a number?", "How do I convert a number to a string?"),
        ("Why is my loop terminating?", "Why is my loop not terminating?"),  # negation
    ],
)
def test_contrasting_near_misses_are_rejected(cached: str, query: str) -> None:
    assert is_near_miss(cached, query)
    assert is_near_miss(query, cached)  # symmetric


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I reverse a list in Python?", "How can I reverse a Python list?"),
        ("How do I convert a string to a number in Python?", "How can I turn a string into a number in Python?"),
        ("What is the difference between a list and a tuple?", "What's the difference between lists and tuples?"),
        ("How do I make an array?", "How do I create an array?"),  # near-synonyms
        ("How do I remove an item from a dict?", "How can I delete an element from a dictionary?"),
        ("How do I generate random numbers?", "How can I produce random numbers?"),
        ("How do I merge two dictionaries?", "How can I combine two dicts?"),
        ("How do I create documentation from doc strings?", "How can I generate documentation from docstrings?"),
        ("How can I build a stand-alone binary?", "How can I build a standalone binary?"),  # compounds
        ("How do I open a connection to SQLite?", "How do I connect to SQLite?"),  # shared stem
        ("What is a method?", "What is a method in Python?"),  # only adds words: left to the threshold
        ("How do I copy a file in Python?", "How can I copy a file in Python?"),
    ],
)
def test_genuine_paraphrases_are_accepted(cached: str, query: str) -> None:
    assert not is_near_miss(cached, query)
    assert not is_near_miss(query, cached)


def test_a_rewrite_with_several_new_words_is_left_to_the_threshold() -> None:
    cached, query = "How do I split a string on whitespace?", "How can I break a string into words separated by spaces?"
    ua, ub, _ = unmatched_words(cached, query)
    assert ua and len(ub) > 1  # more than one swapped slot: not a minimal edit
    assert not is_contrast(cached, query)


def test_stemming_equates_inflections_only() -> None:
    assert stem("tuples") == stem("tuple")
    assert stem("running") == stem("run")
    assert stem("copies") == stem("copy")
    assert stem("strings") == stem("string")
    assert stem("speed") == "speed"  # not "spe"
    assert stem("list") != stem("tuple")


def test_a_prompt_is_never_a_near_miss_of_itself() -> None:
    # RAG prompts hold pairs such as "a list of tuples ... a tuple of lists": compared with itself, no rule fires.
    prompt = "Context: sort a list of tuples by key; a tuple of lists is not hashable.\nQuestion: how do I sort?"
    assert reversed_relation(verify._tokens(prompt), verify._tokens(prompt))  # the rule alone would fire
    assert not is_near_miss(prompt, prompt)
    assert not is_near_miss(prompt, prompt.upper())
