"""The core's ``$substr`` (LlamaIndex ``TEXT_MATCH``): exact, case-sensitive substrings on every read path, the
delete by filter included; refused where it cannot be answered exactly (the vector-set backend, a raw compile,
too many candidates). The LlamaIndex comparison against ``SimpleVectorStore`` is in test_llama_filter_properties."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from redis_rag_integrations import Settings
from redis_rag_integrations.store import FilterError, Record, RedisVectorIndex, substring
from redis_rag_integrations.store.filters import compile_filter

TEXTS = ["Running fast", "runs", "the end", "it is a cat", "a run is fast", "Run"]


def _records() -> list[Record]:
    return [
        Record(
            f"r{i}", f"chunk {i}", (np.eye(4, dtype=np.float32)[i % 4] + 0.1 * i).tolist(), {"t": t, "g": str(i % 2)}
        )
        for i, t in enumerate(TEXTS)
    ]


@pytest.fixture
def index(redis_url: str) -> Iterator[RedisVectorIndex]:
    idx = RedisVectorIndex(
        f"t{uuid.uuid4().hex[:12]}", dims=4, metadata_fields={"t": "text", "g": "tag"},
        settings=Settings(redis_url=redis_url),
    )  # fmt: skip
    idx.upsert(_records())
    yield idx
    idx.drop()
    idx.close()


def _holding(value: str) -> set[str]:
    return {f"r{i}" for i, t in enumerate(TEXTS) if value in t}


@pytest.mark.parametrize("value", ["Run", "run", "un", "s fast", " is ", "the", "it", "_", "", "Running fast!"])
def test_every_read_path_answers_the_exact_substring(index: RedisVectorIndex, value: str) -> None:
    flt = {"t": {"$substr": value}}
    want = _holding(value)
    assert {r.id for r in index.find(flt)} == want
    assert {r.id for r in asyncio.run(index.afind(flt))} == want
    assert {h.record.id for h in index.search([1.0, 0, 0, 0], 10, flt)} == want
    assert {h.record.id for h in asyncio.run(index.asearch([1.0, 0, 0, 0], 10, flt))} == want
    assert {h.record.id for h in index.text_search("chunk", 10, flt)} == want
    assert {h.record.id for h in index.hybrid_search("chunk", [1.0, 0, 0, 0], 10, flt)} == want
    assert {h.record.id for h in asyncio.run(index.atext_search("chunk", 10, flt))} == want
    assert {h.record.id for h in asyncio.run(index.ahybrid_search("chunk", [1.0, 0, 0, 0], 10, flt))} == want
    assert {h.record.id for h in asyncio.run(index.ammr_search([1.0, 0, 0, 0], 10, 20, 0.5, flt))} == want
    assert {h.record.id for h in index.mmr_search([1.0, 0, 0, 0], 10, 20, 0.5, flt)} == want


def test_the_k_nearest_matches_come_back_in_order(index: RedisVectorIndex) -> None:
    every = [h.record.id for h in index.search([1.0, 0, 0, 0], 10)]
    want = [i for i in every if i in _holding("un")][:2]
    assert [h.record.id for h in index.search([1.0, 0, 0, 0], 2, {"t": {"$substr": "un"}})] == want


def test_substr_under_or_and_not_and_with_other_operators(index: RedisVectorIndex) -> None:
    assert {r.id for r in index.find({"$not": {"t": {"$substr": "Run"}}})} == {"r1", "r2", "r3", "r4"}
    assert {r.id for r in index.find({"$or": [{"t": {"$substr": "end"}}, {"g": "1"}]})} == {"r1", "r2", "r3", "r5"}
    assert {r.id for r in index.find({"t": {"$substr": "un", "$like": "fast"}})} == {"r0", "r4"}


def test_delete_by_a_substring_filter_deletes_exactly_the_matches(index: RedisVectorIndex) -> None:
    assert index.delete_where({"t": {"$substr": "Run"}}) == 2
    assert {r.id for r in index.find({"g": {"$in": ["0", "1"]}})} == {"r1", "r2", "r3", "r4"}
    assert asyncio.run(index.adelete_where({"t": {"$substr": "fast"}})) == 1


def test_isubstr_compares_after_lowercasing_both_sides(index: RedisVectorIndex) -> None:
    assert {r.id for r in index.find({"t": {"$isubstr": "RUN"}})} == {"r0", "r1", "r4", "r5"}
    assert {r.id for r in index.find({"t": {"$isubstr": "a RUN is", "$substr": "fast"}})} == {"r4"}


def test_substr_on_a_tag_field_and_bad_values(index: RedisVectorIndex) -> None:
    assert {r.id for r in index.find({"g": {"$substr": "1"}})} == {"r1", "r3", "r5"}
    with pytest.raises(FilterError, match="takes a string"):
        index.find({"t": {"$substr": 3}})
    index.upsert([Record("num", "chunk", [0.5, 0.5, 0.5, 0.5], {"t": "7 up", "g": 7})])
    with pytest.raises(FilterError, match="holds 7 \\(int\\), not a string"):  # as LlamaIndex's TypeError
        index.find({"g": {"$substr": "7"}})


def test_a_compile_that_cannot_resolve_it_refuses_it(index: RedisVectorIndex) -> None:
    with pytest.raises(FilterError, match="substring match"):
        compile_filter(index.layout, {"t": {"$substr": "Run"}})
    with pytest.raises(FilterError, match="substring match"):
        index.hybrid_plan("chunk", [1.0, 0, 0, 0], 2, {"t": {"$substr": "Run"}})


def test_too_many_candidates_are_refused(index: RedisVectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(substring, "MAX_CANDIDATES", 3)
    with pytest.raises(FilterError, match="candidate records"):
        index.find({"t": {"$substr": "n"}})  # no whole word inside: every record is a candidate
    assert index.find({"t": {"$substr": "s fast "}}) == []  # "fast" narrows it to 2 candidates, neither holds it


def test_the_other_conditions_the_filter_ands_narrow_the_candidates(
    index: RedisVectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(substring, "MAX_CANDIDATES", 3)
    flt = {"$and": [{"g": "0"}, {"t": {"$substr": "n"}}]}  # 3 records with g = 0, each holding "n"
    assert {r.id for r in index.find(flt)} == {"r0", "r2", "r4"}
    assert {h.record.id for h in index.search([1.0, 0, 0, 0], 2, {"g": "1", "t": {"$substr": "s"}})} == {"r1", "r3"}
    with pytest.raises(FilterError, match="candidate records"):  # under $or the other conditions do not narrow it
        index.find({"$and": [{"g": "0"}, {"$or": [{"t": {"$substr": "n"}}, {"g": "1"}]}]})


def test_whole_words_are_only_the_uncut_space_bounded_ascii_words() -> None:
    assert substring.whole_words("Run fast now") == ["fast"]
    assert substring.whole_words(" Run fast ") == ["fast"]  # the record may hold a backslash before " Run"
    assert substring.whole_words("a the cat b") == ["cat"]  # stopwords are not indexed
    assert substring.whole_words("x tab\tsep y naïve z") == ["y"]  # the tokenizer keeps tab\tsep whole
    assert substring.whole_words("a\\ k b c") == ["b"]  # an escaped space joins "a k"
    assert substring.whole_words("x " + "ab" * 60 + " y") == []  # 129+ characters are not indexed whole


#: Record texts: letters, digits, spaces, the characters that join or split tokens, non-ASCII that lowercases.
record_texts = st.text(alphabet=" \\\t-_.aAbk1\u212aİé", min_size=1, max_size=14)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(text="a\\ k b", cut=(0, 6), insensitive=False)  # an escaped space: "a k" is one token
@example(text="a \u212a b", cut=(0, 5), insensitive=True)  # the Kelvin sign lowercases to "k"
@given(text=record_texts, cut=st.tuples(st.integers(0, 14), st.integers(0, 14)), insensitive=st.booleans())
def test_a_record_holding_the_value_is_always_a_candidate(
    index: RedisVectorIndex, text: str, cut: tuple[int, int], insensitive: bool
) -> None:
    """The engine's superset never leaves out a record that holds the value (whatever the tokenizer does)."""
    value = text[min(cut) : max(cut)]
    index.upsert([Record("probe", "chunk", [0.5, 0.5, 0.5, 0.5], {"t": text, "g": "p"})])
    op = "$isubstr" if insensitive else "$substr"
    assert "probe" in {r.id for r in index.find({"$and": [{"g": "p"}, {"t": {op: value}}]})}
    assert "probe" in {r.id for r in index.find({"t": {op: value}})}


def test_the_vector_set_backend_refuses_it(redis_url: str) -> None:
    idx = RedisVectorIndex(
        f"t{uuid.uuid4().hex[:12]}", dims=4, metadata_fields={"g": "tag"}, backend="vectorset",
        settings=Settings(redis_url=redis_url),
    )  # fmt: skip
    try:
        idx.upsert(_records()[:1])
        with pytest.raises(FilterError, match="substring matching"):
            idx.find({"g": {"$substr": "0"}})
    finally:
        idx.drop()
        idx.close()
