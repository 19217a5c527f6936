"""The default near-miss verifier (structural rules + learned gate), on sentences written here, not taken from the
evaluation sets: look-alike classes miss at the default radius where the bare embedding would hit, framing-only
rewrites hit (the previous verifier rejected them as an "added word"), and any input gives a verdict, never an error.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache.gate import (
    FEATURES,
    TERMS,
    Gate,
    accepts,
    default_gate,
    edits,
    quadratic_terms,
    scan,
    structural_rejection,
)
from redis_rag_integrations.cache.gate import features as gate_features
from redis_rag_integrations.cache.semantic_entries import pick
from redis_rag_integrations.cache.verify import Verdict, judge

LOOK_ALIKES = [  # (class, cached, query): all within cosine distance 0.4 with all-MiniLM-L6-v2
    ("direction", "How do I convert a list to a tuple?", "How do I convert a tuple to a list?"),
    ("direction", "How do I call sync code from an async function?", "How do I call async code from a sync function?"),
    ("list_tuple", "How do I make a list immutable?", "How do I make a tuple immutable?"),
    ("sync_async", "How do I run a blocking call in a thread?", "How do I run an async call in a thread?"),
    ("negation", "Why is my cron job running?", "Why is my cron job not running?"),
    ("changed_object", "How do I restart the nginx service?", "How do I restart the postgres service?"),
    ("changed_verb", "How do I export a table to CSV?", "How do I import a table from CSV?"),
    ("changed_verb", "How do I open a socket?", "How do I close a socket?"),
    ("antonym", "How do I sort a list in ascending order?", "How do I sort a list in descending order?"),
    ("quantity", "How do I keep the first three rows?", "How do I keep the last three rows?"),
    ("added_quantity", "How do I retry a failed request?", "How do I retry a failed request three times?"),
    ("negated_word", "How do I lock a row in Postgres?", "How do I unlock a row in Postgres?"),
]  # fmt: skip

FRAMING_REWRITES = [  # the same question with framing words added: the old verifier read "explain" as a new topic
    ("What is a context manager?", "Can you explain what a context manager is?"),
    ("What is a metaclass?", "Could you explain what a metaclass is?"),
    ("How do I install a package with pip?", "What's the command to install a package using pip?"),
]


@pytest.mark.parametrize(
    ("kind", "cached", "query"), LOOK_ALIKES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(LOOK_ALIKES)]
)
def test_look_alikes_miss_with_the_default_configuration(
    make_cache, local_embedder, kind: str, cached: str, query: str
) -> None:
    cache = make_cache(local_embedder)  # the default threshold (the gate's radius) and verifier
    cache.store(cached, "the answer to the cached question")
    assert cache.check(query) is None, kind
    unverified = make_cache(local_embedder, verify=False, distance_threshold=0.4)
    unverified.store(cached, "the answer to the cached question")
    assert unverified.check(query) is not None  # the embedding alone, at a paraphrase-friendly 0.4, would hit


@pytest.mark.parametrize(("cached", "query"), FRAMING_REWRITES)
def test_framing_rewrites_hit_with_the_default_configuration(make_cache, local_embedder, cached, query) -> None:
    cache = make_cache(local_embedder)
    cache.store(cached, "answer")
    hit = cache.check(query)
    assert hit is not None and hit.response == "answer"


def test_the_same_question_hits_and_the_radius_bounds_every_hit() -> None:
    gate = default_gate()
    question = "How do I rotate the logs of a service?"
    assert accepts(question, question, 0.0)
    assert not gate.accepts(question, question, gate.radius + 1e-6)


def _structural(cached: str, query: str) -> str | None:
    return structural_rejection(cached, query, judge(cached, query))


def test_numbers_operators_and_moved_quantities_are_structural() -> None:
    assert _structural("How do I pin a dependency?", "How do I pin two dependencies?") == "added_quantity"
    assert _structural("How do I pin a dependency?", "How do I pin a dependency version?") is None
    assert _structural("When is x == y true?", "When is x != y true?") is not None
    assert _structural("What does a >> b do?", "What does a << b do?") is not None
    moved = ("How do I send several files in one request?", "How do I send one file in several requests?")
    assert _structural(*moved) == "moved_quantity"
    assert _structural("How do I send several files in one request?", "How can I send many files per request?") is None


def test_gate_weights_of_another_shape_are_refused() -> None:
    data = default_gate().to_dict()
    with pytest.raises(ValueError, match="features"):
        Gate.from_dict({**data, "features": ["distance"]})
    with pytest.raises(ValueError, match="terms"):
        Gate.from_dict({**data, "terms": list(FEATURES)})  # the weights of a gate without the products
    with pytest.raises(ValueError, match="cut"):
        Gate.from_dict({**data, "cut": 1.5})
    n = len(FEATURES)
    linear = {"mean": (0.0,) * n, "scale": (1.0,) * n, "bias": 0.0, "cut": 0.5, "radius": 0.4}
    with pytest.raises(ValueError, match="one per term"):
        Gate(**linear, term_mean=(0.0,) * n, term_scale=(1.0,) * n, weights=(1.0,) * n)
    assert Gate.from_dict(data) == default_gate()
    assert len(default_gate().weights) == len(TERMS) == n + n * (n + 1) // 2


@settings(max_examples=200, deadline=None)
@given(z=st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=len(FEATURES), max_size=len(FEATURES)))
def test_the_terms_are_the_features_and_the_product_of_every_pair(z: list[float]) -> None:
    terms = quadratic_terms(z)
    assert len(terms) == len(TERMS)
    named = dict(zip(TERMS, terms, strict=True))
    for i, a in enumerate(FEATURES):
        assert named[a] == z[i]
        for j, b in enumerate(FEATURES[i:], start=i):
            assert named[f"{a}*{b}"] == z[i] * z[j]


def test_the_gate_weighs_one_feature_by_another() -> None:
    """A pattern no weighted sum of the features can draw: close AND edited in one place, or farther AND edited
    in three places, means the same. The training fit learns it and the shipped code's probability applies it
    (a gate linear in its features gets at most three of the four cells right)."""
    from benchmarks.verifier_train import fit

    verdict = Verdict(None, ("read",), ("load",), 3)
    cells = {(0.10, 1): 1, (0.30, 3): 1, (0.10, 3): 0, (0.30, 1): 0}
    rows = [(d, e, label) for (d, e), label in cells.items() for _ in range(25)]
    x = np.array([gate_features(verdict, d, e) for d, e, _ in rows])
    gate = fit(x, np.array([label for *_, label in rows], dtype=float))
    assert {cell: int(gate.probability(verdict, *cell) >= 0.5) for cell in cells} == cells


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(cached=_text, query=_text, distance=st.floats(min_value=0.0, max_value=2.0))
def test_any_input_gets_a_verdict_and_the_radius_holds(cached: str, query: str, distance: float) -> None:
    gate = default_gate()
    verdict = gate.accepts(cached, query, distance)
    assert isinstance(verdict, bool)
    assert verdict == gate.accepts(cached, query, distance)  # deterministic
    if distance > gate.radius:
        assert not verdict


@settings(max_examples=100, deadline=None)
@given(
    subject=st.sampled_from(["my worker", "the build", "the import job", "this query"]),
    verb=st.sampled_from(["fail", "hang", "retry", "block"]),
    distance=st.floats(min_value=0.0, max_value=0.4),
)
def test_a_negated_question_is_never_accepted(subject: str, verb: str, distance: float) -> None:
    cached, query = f"Why does {subject} {verb}?", f"Why does {subject} not {verb}?"
    assert not accepts(cached, query, distance) and not accepts(query, cached, distance)


def test_the_default_threshold_is_the_gates_radius() -> None:
    """Retraining the gate (benchmarks/verifier_train.py) moves its radius; the settings' default must follow."""
    from redis_rag_integrations.settings import Settings

    assert Settings.model_fields["cache_distance_threshold"].default == default_gate().radius


NEW_CLASSES = [  # (rule, cached, query): look-alike classes the gate used to leave to its learned half
    ("added_quantity", "How do I attach a file to an email?", "How do I attach several files to an email?"),
    ("turned_around", "How do I cache DNS lookups in my app?", "How do I stop my app from caching DNS lookups?"),
    ("turned_around", "How do I sort a table by a column?", "How do I sort a table by its row labels instead?"),
    (
        "turned_around",
        "How do I sort a table by a column?",
        "How do I sort a table by its labels rather than a column?",
    ),
    ("negation", "What is a blocking socket?", "What is a non-blocking socket?"),
    ("swap", "How do I send a GET request with curl?", "How do I send a POST request with curl?"),
    ("swap", "How do I log the time in UTC?", "How do I log the time in the local time zone?"),
]


@pytest.mark.parametrize(("rule", "cached", "query"), NEW_CLASSES, ids=[r for r, _, _ in NEW_CLASSES])
def test_counts_turning_words_non_words_names_and_two_scopes_are_structural(rule: str, cached: str, query: str) -> None:
    assert _structural(cached, query) == rule
    assert _structural(query, cached) == rule
    assert not accepts(cached, query, 0.01) and not accepts(query, cached, 0.01)


def test_a_trailing_phrase_with_a_determiner_is_part_of_the_question_not_a_scope() -> None:
    cached = "How do I compare two floats?"
    assert judge(cached, "How do I compare two floats within a relative tolerance?").rule == "addition"
    assert judge(cached, "How do I compare two floats in Python?").rule is None  # a scope: left out


def test_an_upper_case_sentence_is_not_read_as_names() -> None:
    question = "How do I send a request with curl?"
    assert _structural(question, question.upper()) is None
    assert accepts(question, question.upper(), 0.01)


def test_after_a_look_alike_only_the_same_question_is_taken() -> None:
    """A question one slot away from a closer cached question asks something next to it: a farther cached question
    that is merely related is no answer, the same question asked in other words still is. The learned half is
    left out (it accepts everything here), so this is the rule across candidates alone."""
    query = "How do I write a CSV file?"
    look_alike = ("How do I read a CSV file?", 0.05)
    related = ("How can I append rows at the end of an existing CSV file?", 0.1)
    same = ("How do I create a CSV file?", 0.1)

    def anything(*_: object) -> bool:
        return True

    assert scan(query, [related], anything) == 0
    assert scan(query, [look_alike, related], anything) is None
    assert scan(query, [look_alike, related, same], anything) == 2
    assert default_gate().choose(query, [look_alike, same]) == 1  # the shipped gate takes the same question
    rows = [{"prompt": text.encode(), "vector_distance": distance} for text, distance in (look_alike, related)]
    assert pick(rows, query, verify=True) == (None, 2)
    assert pick(rows, query, verify=False) == (rows[0], 0)
    assert pick([*rows, {"prompt": same[0], "vector_distance": same[1]}], query, verify=True)[1] == 2


def test_edits_counts_the_places_two_questions_differ_in() -> None:
    assert edits("How do I read a file?", "How can I write a file?") == 1  # the frame and determiners aside
    assert edits("How do I read a file?", "What is the way to read the file?") == 0
    assert edits("How do I reduce the size of a Docker image?", "How can I make my Docker images smaller?") >= 2


@settings(max_examples=200, deadline=None)
@given(question=_text, other=_text)
@example(question="TEN:10", other="")  # "10" is related to "ten": each word must match itself first
def test_edits_is_zero_for_the_same_question_and_never_fails(question: str, other: str) -> None:
    assert edits(question, question) == 0
    assert edits(question, other) >= 0


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(["mean", "scale", "term_mean", "term_scale", "weights", "bias", "cut", "radius", "terms"]),
    value=_json,
    drop=st.booleans(),
)
def test_malformed_gate_weights_are_refused_with_a_value_error(field: str, value: object, drop: bool) -> None:
    """Weights edited by hand or cut short: a clear ValueError, or a gate whose every number is finite."""
    data = default_gate().to_dict()
    if drop:
        del data[field]
    else:
        data[field] = value
    try:
        gate = Gate.from_dict(data)
    except ValueError:
        return
    verdict = judge("How do I sort a list?", "How can I order a list?")
    assert 0.0 <= gate.probability(verdict, 0.1, 1) <= 1.0


@pytest.mark.parametrize("value", [None, [], "weights", 3])
def test_gate_weights_that_are_not_an_object_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        Gate.from_dict(value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_number_the_gate_cannot_read_never_accepts(bad: float) -> None:
    """NaN compares false with everything, so a clamp would read it as certainty: a NaN or infinite distance gets
    probability 0, and weights with such a number are refused."""
    gate = default_gate()
    cached = query = "How do I rotate the logs of a service?"
    assert gate.probability(judge(cached, query), bad, 0) == 0.0
    assert not gate.accepts(cached, query, bad)
    with pytest.raises(ValueError, match="finite"):
        Gate.from_dict({**gate.to_dict(), "bias": bad})


def test_the_shipped_probability_is_the_one_training_optimised() -> None:
    """Training/serving parity: the sigmoid of ``fit``'s own design matrix (standardised features, their products,
    standardised again) equals :meth:`Gate.probability` on the same candidates."""
    from benchmarks.verifier_train import fit

    rng = np.random.default_rng(7)
    verdicts = [Verdict(None, ("a",) * u, ("b",) * v, s) for u in range(3) for v in range(3) for s in range(1, 4)]
    rows = [(verdicts[i % len(verdicts)], float(rng.uniform(0, 0.5)), int(rng.integers(0, 5))) for i in range(120)]
    x = np.array([gate_features(v, d, e) for v, d, e in rows])
    gate = fit(x, rng.integers(0, 2, len(rows)).astype(float))
    z = (x - np.array(gate.mean)) / np.array(gate.scale)
    terms = (np.array([quadratic_terms(row) for row in z]) - np.array(gate.term_mean)) / np.array(gate.term_scale)
    expected = 1.0 / (1.0 + np.exp(-(terms @ np.array(gate.weights) + gate.bias)))
    served = [gate.probability(v, d, e) for v, d, e in rows]
    assert np.allclose(served, expected, rtol=0, atol=1e-12)
