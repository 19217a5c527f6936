"""The look-alike verifier: look-alike CLASSES built here from templates are rejected, paraphrases pass, and the
verifier does its job inside a real cache with the real embedder (where the embedding alone would hit).

The examples are constructed for the tests (templates x objects), not taken from the evaluation sets, so a rule that
only memorised an evaluation sentence fails here.
"""

from __future__ import annotations

import pytest

from redis_rag_integrations.cache.verify import (
    content_words,
    drop_one_sided_qualifier,
    is_near_miss,
    judge,
    related,
    reversed_relation,
    stem,
    tokens,
)

OBJECTS = ["a config file", "the user record", "an audit log", "a cache entry"]


def _both_ways(cached: str, query: str) -> tuple[bool, bool]:
    return is_near_miss(cached, query), is_near_miss(query, cached)


@pytest.mark.parametrize(
    ("cached", "query"),
    [  # swapped direction: same words, the relation turned around
        ("How do I convert a {x} to a {y}?", "How do I convert a {y} to a {x}?"),
        ("How do I copy {x} to the backup server?", "How do I copy {x} from the backup server?"),
        ("How do I sync {x} into the archive?", "How do I sync the archive into {x}?"),
        ("How do I rebase {x} onto the release branch?", "How do I rebase the release branch onto {x}?"),
    ],
)
@pytest.mark.parametrize(("x", "y"), [("string", "number"), ("timestamp", "datetime"), ("blob", "hex digest")])
def test_swapped_direction_is_rejected(cached: str, query: str, x: str, y: str) -> None:
    assert _both_ways(cached.format(x=x, y=y), query.format(x=x, y=y)) == (True, True)


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("Why does my worker lock {o}?", "Why does my worker not lock {o}?"),
        ("How do I export {o} with its history?", "How do I export {o} without its history?"),
        ("Why can I delete {o}?", "Why can't I delete {o}?"),
    ],
)
def test_negation_is_rejected(obj: str, cached: str, query: str) -> None:
    assert _both_ways(cached.format(o=obj), query.format(o=obj)) == (True, True)


@pytest.mark.parametrize(
    ("cached", "query"),
    [  # changed object: one noun slot swapped in an otherwise identical question
        ("How do I back up a {a} every night?", "How do I back up a {b} every night?"),
        ("What limits the size of a {a} in the scheduler?", "What limits the size of a {b} in the scheduler?"),
    ],
)
@pytest.mark.parametrize(("a", "b"), [("volume", "snapshot"), ("queue", "topic"), ("tenant", "project")])
def test_changed_object_is_rejected(cached: str, query: str, a: str, b: str) -> None:
    assert _both_ways(cached.format(a=a, b=b), query.format(a=a, b=b)) == (True, True)


@pytest.mark.parametrize(
    ("cached", "query"),
    [  # changed quantity, added modifier, changed particle
        ("How do I order the rows by a column?", "How do I order the rows by two columns?"),
        ("How do I restart a single worker?", "How do I restart all workers?"),
        ("How do I wait for all jobs to complete?", "How do I wait for the first job to complete?"),
        ("How do I send a request to the gateway?", "How do I send a signed request to the gateway?"),
        ("How do I round a price up to cents?", "How do I round a price down to cents?"),
        ("How do I list the keys and values of a mapping?", "How do I list the keys of a mapping only?"),
    ],
)
def test_changed_quantity_or_modifier_is_rejected(cached: str, query: str) -> None:
    assert _both_ways(cached, query) == (True, True)


@pytest.mark.parametrize("verb", ["append an element to", "sort", "hash", "freeze"])
def test_list_versus_tuple_is_rejected(verb: str) -> None:
    assert _both_ways(f"How do I {verb} a list?", f"How do I {verb} a tuple?") == (True, True)


@pytest.mark.parametrize("task", ["read a socket", "call the billing service", "fetch a page"])
def test_sync_versus_async_is_rejected(task: str) -> None:
    assert _both_ways(f"How do I {task} with a timeout?", f"How do I {task} asynchronously with a timeout?")[0]
    assert _both_ways(f"How do I {task} in a thread?", f"How do I {task} in a coroutine?") == (True, True)
    assert is_near_miss(
        f"How do I mock a function that can {task}?", f"How do I mock an async function that can {task}?"
    )


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I install the client library?", "How do I uninstall the client library?"),  # negating prefix
        ("Are these two schemas compatible?", "Why are these two schemas incompatible?"),
    ],
)
def test_negating_prefix_is_rejected(cached: str, query: str) -> None:
    assert _both_ways(cached, query) == (True, True)


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I reverse a list in Python?", "How can I reverse a Python list?"),  # scope moves
        ("How do I copy a file?", "How can I copy a file in Python?"),  # one-sided scope qualifier
        ("What is a generator?", "What is a generator in Python?"),
        ("How do I make an archive of a folder?", "How can I create an archive of a directory?"),  # near-synonyms
        ("How do I remove an item from a dict?", "How can I delete an element from a dictionary?"),
        ("How do I merge two dictionaries?", "How can I combine two dicts?"),
        ("How do I turn every string of a list into an int?", "How do I convert the strings of a list to ints?"),
        ("How do I create documentation from doc strings?", "How can I generate documentation from docstrings?"),
        ("How do I open a connection to the database?", "How do I connect to the database?"),  # shared stem
        # a rewrite: many words changed, few shared -- left to the distance threshold
        ("How do I stop a thread from another thread?", "How can one thread make a different thread terminate?"),
    ],
)
def test_paraphrases_are_accepted(cached: str, query: str) -> None:
    assert _both_ways(cached, query) == (False, False)


def test_a_prompt_is_never_a_look_alike_of_itself() -> None:
    # RAG prompts hold pairs such as "a list of tuples ... a tuple of lists": compared with itself, no rule fires.
    prompt = "Context: sort a list of tuples by key; a tuple of lists is not hashable.\nQuestion: how do I sort?"
    assert reversed_relation(tokens(prompt), tokens(prompt))  # the rule alone would fire
    assert not is_near_miss(prompt, prompt)
    assert not is_near_miss(prompt, prompt.upper())


def test_only_a_one_sided_scope_qualifier_is_dropped() -> None:
    a, b = tokens("How do I copy a file?"), tokens("How do I copy a file on Linux?")
    assert drop_one_sided_qualifier(a, b) == (a, tokens("How do I copy a file"))
    # both have a qualifier and they differ: a swap, not a scope ("in UTC" / "in local time")
    c, d = tokens("How do I get the time in UTC?"), tokens("How do I get the time in the local zone?")
    assert drop_one_sided_qualifier(c, d) == (c, d)
    assert judge("How do I copy a file on Linux?", "How do I copy a file on Windows?").rule == "swap"


def test_slot_size_bounds_the_swap_rule() -> None:
    cached, query = "How do I create a folder with missing parents?", "How do I remove a folder with empty parents?"
    assert judge(cached, query, max_slot=2).rule == "swap"
    assert judge(cached, query, max_slot=1).rule is None  # two words per side: beyond a one-word slot


def test_stemming_equates_inflections_only() -> None:
    assert stem("tuples") == stem("tuple")
    assert stem("running") == stem("run")
    assert stem("copies") == stem("copy")
    assert stem("speed") == "speed"  # not "spe"
    assert stem("list") != stem("tuple")


def test_verifier_in_a_real_cache_rejects_what_the_embedding_would_hit(make_cache, local_embedder) -> None:
    """The embedding alone puts these look-alikes within the default threshold; the cache must still miss them,
    and serve the paraphrase."""
    cache = make_cache(local_embedder)
    raw = make_cache(local_embedder, verify=False)
    cached = "How do I convert a timestamp to a datetime?"
    for c in (cache, raw):
        c.store(cached, "datetime.fromtimestamp(ts)", llm="m")
    look_alikes = ["How do I convert a datetime to a timestamp?", "How do I convert a timestamp to a date string?"]
    assert any(raw.check(q, llm="m") is not None for q in look_alikes)  # what the embedding alone would serve
    for query in look_alikes:
        assert cache.check(query, llm="m") is None
    hit = cache.check("How can I convert a timestamp to a datetime?", llm="m")
    assert hit is not None and hit.response == "datetime.fromtimestamp(ts)"


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize(
    ("cached", "query"),
    [  # rewording that keeps the meaning: each was rejected as a swap, an addition or an order change before
        ("Why is {o} shared between workers?", "Why is {o} shared across workers?"),  # preposition without direction
        ("Why is {o} shared between workers?", "How come {o} is shared between workers?"),  # question framing
        ("Why is {o} shared between workers?", "Why do workers share {o}?"),  # active / passive voice
        ("Why does the parser return {o}?", "Why does the parser give {o}?"),  # near-synonym verb
    ],
)
def test_rewording_without_a_change_of_meaning_is_accepted(obj: str, cached: str, query: str) -> None:
    assert _both_ways(cached.format(o=obj), query.format(o=obj)) == (False, False)


@pytest.mark.parametrize(
    ("cached", "query"),
    [  # the same words turned around a relating preposition still change the meaning
        ("Should the migration run before the deploy?", "Should the deploy run before the migration?"),
        ("Does the cache expire after the session?", "Does the session expire after the cache?"),
    ],
)
def test_word_order_around_a_relation_is_rejected(cached: str, query: str) -> None:
    assert _both_ways(cached, query) == (True, True)
    assert judge(cached, query).rule == "order"


def test_token_lists_are_the_callers_own() -> None:
    """Tokens and content words are kept per text for speed; a caller changing its list changes nothing else."""
    question = "How do I rotate the logs of a service?"
    first = tokens(question)
    first.append("extra")
    assert tokens(question) == ["how", "do", "i", "rotate", "the", "logs", "of", "a", "service"]
    words = content_words(tokens(question))
    words.clear()
    assert content_words(tokens(question)) == ["rotate", "logs", "service"]


def test_short_forms_and_general_synonyms_count_as_the_same_word() -> None:
    assert related("js", "javascript") and related("db", stem("database")) and related("env", "environment")
    assert not related("os", stem("others")) and not related("js", "json")  # no letters in order / too short
    same = judge("How do I parse a date in JavaScript?", "How do I parse a date in JS?")
    assert same.rule is None and not same.unmatched_cached and not same.unmatched_query
    assert judge("How do I pick a random element?", "How do I choose a random element?").unmatched_query == ()
