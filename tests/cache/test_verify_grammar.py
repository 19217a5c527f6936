"""Grammar the verifier must read right in paraphrases without losing the look-alikes next to them: an opening
frame's infinitive and the passive voice are not a change of relation, a number word is its numeral, "one" can stand
for a noun, and a quantity counts the head of its phrase, not the modifier before it.

Sentences are written here for the classes (no evaluation-set sentence); each pair of tests holds a paraphrase that
must pass next to the look-alike of the same class that must still be rejected.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_rag_integrations.cache.gate import moved_quantity, structural_rejection
from redis_rag_integrations.cache.lexicon import NUMBER_WORDS
from redis_rag_integrations.cache.verify import judge, reordered, tokens


def _rejection(cached: str, query: str) -> str | None:
    return structural_rejection(cached, query, judge(cached, query))


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I attach a volume to a container?", "What is the way to attach a volume to a container?"),
        ("How do I copy a snapshot to another region?", "Is there a way to copy a snapshot to another region?"),
        ("How do I strip comments from a config file?", "How can comments be stripped from a config file?"),
        ("What is the difference between a mutex and a semaphore?", "How does a mutex differ from a semaphore?"),
    ],
)
def test_an_opening_infinitive_a_passive_or_a_one_sided_relation_is_not_a_reorder(cached: str, query: str) -> None:
    assert not reordered(tokens(cached), tokens(query))
    assert _rejection(cached, query) is None and _rejection(query, cached) is None


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I copy a snapshot to another region?", "How do I copy a snapshot from another region?"),
        ("How do I mount the volume onto the container?", "How do I mount the container onto the volume?"),
        ("Is there a way to move the logs to the archive?", "Is there a way to move the archive to the logs?"),
    ],
)
def test_another_relation_or_its_sides_swapped_is_still_a_reorder(cached: str, query: str) -> None:
    assert judge(cached, query).rule in ("order", "direction")
    assert judge(query, cached).rule in ("order", "direction")


@pytest.mark.parametrize(
    ("cached", "query", "same"),
    [
        ("How do I pad a number with zero on the left?", "How do I pad a number with 0 on the left?", True),
        ("How do I keep the last seven backups?", "How do I keep the last 7 backups?", True),
        ("How do I keep the last seven backups?", "How do I keep the last 8 backups?", False),
        ("How do I retry a job three times?", "How do I retry a job four times?", False),
    ],
)
def test_a_number_word_is_its_numeral_and_no_other(cached: str, query: str, same: bool) -> None:
    assert (_rejection(cached, query) is None) is same
    assert (_rejection(query, cached) is None) is same


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=999))
def test_a_spelled_number_matches_only_its_own_numeral(n: int, m: int) -> None:
    spelled = next(word for word, digits in NUMBER_WORDS.items() if digits == str(n))
    cached = f"How do I keep {spelled} replicas of the queue?"
    query = f"How do I keep {m} replicas of the queue?"
    assert (_rejection(cached, query) is None) is (n == m)


def test_one_standing_for_a_noun_counts_nothing() -> None:
    assert tokens("How do I swap the old key for a new one?")[-1] == "it"
    assert _rejection("How do I swap the old key for a new one?", "How do I swap the old key for a new key?") is None
    # "one" that counts stays a quantity
    assert tokens("How do I keep one replica?")[-2] == "one" and tokens("Which one of the replicas?")[1] == "one"
    assert _rejection("How do I run two jobs at once?", "How do I run two jobs one after another?") is not None
    assert _rejection("How do I keep one replica?", "How do I keep two replicas?") is not None


def test_a_quantity_counts_the_head_of_its_phrase() -> None:
    a, b = "How do I split a log into two files?", "How do I cut a log into two separate files?"
    assert not moved_quantity(tokens(a), tokens(b)) and not moved_quantity(tokens(b), tokens(a))
    # another head is another count
    c, d = "How do I compare two snapshots in the console?", "How do I compare two volumes in the console?"
    assert moved_quantity(tokens(c), tokens(d))
    e, f = "How do I mount several volumes in one container?", "How do I mount one volume in several containers?"
    assert moved_quantity(tokens(e), tokens(f))
