"""Any question string and any word-filter value is answered or refused with a clear error, never a raw
``ResponseError`` from the query parser; and a word filter never silently drops a word.

Found by review: a lone ``_`` is a ``\\w+`` word the parser rejects (``Syntax error``), and ``$like`` sent Redis
stopwords, which the engine drops from the query (``the`` alone filtered nothing). Hypothesis draws the strings.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations import Settings
from redis_rag_integrations.store import FilterError, Record, RedisVectorIndex

TEXTS = ["the end", "it is a cat", "Running fast", "a_b __ _x x_ 9", "日本 é naïve", "x"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
words = st.sampled_from(["_", "__", "the", "it", "a", "cat", "end", "x", "9", "_x", "a_b", "run*", "日本", "é"])
strings = st.one_of(
    st.lists(words, min_size=1, max_size=4).map(" ".join),
    st.text(alphabet=string.printable, max_size=12),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8),
)


@pytest.fixture(scope="module")
def index(redis_url: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(
        f"t{uuid.uuid4().hex[:12]}", dims=4, metadata_fields={"body": "text"}, settings=Settings(redis_url=redis_url)
    )
    idx.upsert(
        [Record(f"r{i}", t, (np.arange(4, dtype=np.float32) + i).tolist(), {"body": t}) for i, t in enumerate(TEXTS)]
    )
    yield idx
    idx.drop()
    idx.close()


def test_a_question_with_a_lone_underscore_is_answered(index: RedisVectorIndex) -> None:
    assert [h.record.id for h in index.text_search("what is _ cat", 3)] == ["r1"]
    assert index.hybrid_search("what is _ cat", [1.0, 0, 0, 0], 3)
    with pytest.raises(ValueError, match="no words"):
        index.text_search("_ the", 3)  # nothing left to search for: a clear error, as for "the"


@pytest.mark.parametrize("value", ["the", "it", "cat the", "_", "cat _"])
def test_a_word_filter_with_a_stopword_or_a_lone_underscore_is_refused(index: RedisVectorIndex, value: str) -> None:
    with pytest.raises(FilterError, match="cannot be matched as a word"):
        index.find({"body": {"$like": value}})
    with pytest.raises(FilterError, match="cannot be matched as a word"):
        index.search([1.0, 0, 0, 0], 3, {"body": {"$like": value}})


def test_a_word_filter_without_stopwords_still_matches_words(index: RedisVectorIndex) -> None:
    assert [r.id for r in index.find({"body": {"$like": "cat"}})] == ["r1"]
    assert [r.id for r in index.find({"body": {"$like": "run*"}})] == ["r2"]


@FAST
@given(question=strings)
def test_any_question_is_answered_or_refused_clearly(index: RedisVectorIndex, question: str) -> None:
    for run in (
        lambda: index.text_search(question, 3),
        lambda: index.hybrid_search(question, [1.0, 0, 0, 0], 3),
        lambda: index.text_search(question, 3, {"body": {"$like": "cat"}}),
    ):
        try:
            hits = run()
        except ValueError as exc:
            assert "no words" in str(exc) or "non-empty" in str(exc)
            continue
        assert len(hits) <= 3


@FAST
@given(value=strings)
def test_any_word_filter_value_is_answered_or_refused_clearly(index: RedisVectorIndex, value: str) -> None:
    for flt in ({"body": {"$like": value}}, {"body": {"$match": value}}):
        try:
            found = index.find(flt)
            hits = index.search([1.0, 0, 0, 0], 6, flt)
        except FilterError:
            continue
        assert {r.id for r in found} == {h.record.id for h in hits}
