"""A cache scope names exactly its own entries: any two different scopes (tenants, users, any JSON value) never share
an answer, and the same prompt stored in both answers each with its own. Property-based over values nobody chose."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache import SemanticCache

scalars = st.one_of(
    st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.sampled_from(["a", "A", "a ", " a", "a,b", "a|b", "@scope:{x}", "", "~", "\x00", "1", "1.0", "true"]),
)  # fmt: skip
scopes = st.one_of(scalars, st.dictionaries(st.text(max_size=4), scalars, max_size=3))


@pytest.fixture(scope="module")
def cache(redis_url: str) -> Iterator[SemanticCache]:
    c = SemanticCache(HashEmbedder(), redis_url=redis_url, name=f"t{uuid.uuid4().hex[:12]}", distance_threshold=0.5)
    yield c
    c.clear()


@given(first=scopes, second=scopes)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_two_scopes_never_share_an_answer(cache: SemanticCache, first: object, second: object) -> None:
    cache.clear()
    prompt = "How do I sort a list?"
    try:
        cache.store(prompt, "answer for first", scope=first)
        cache.store(prompt + " (probe)", "probe", scope=second)
    except (TypeError, ValueError):
        return  # refused with a clear error (a scope value that is not a str/int/float/bool, an empty string)
    if _same(first, second):
        assert cache.check(prompt, scope=second).response == "answer for first"
        return
    assert cache.check(prompt, scope=second) is None, (first, second)
    cache.store(prompt, "answer for second", scope=second)
    assert cache.check(prompt, scope=first).response == "answer for first"
    assert cache.check(prompt, scope=second).response == "answer for second"


def _same(a: object, b: object) -> bool:
    """One scope: both shared (None / {}), or the same kind with the same JSON, types kept."""
    shared = (None, {})
    if a in shared or b in shared:
        return a in shared and b in shared
    return type(a) is type(b) and json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize(("a", "b"), [("x", {"scope": "x"}), ({"t": 1}, {"t": 1.0}), ({"t": 1}, {"t": True})])
def test_scopes_that_once_collided_are_apart(cache: SemanticCache, a: object, b: object) -> None:
    cache.clear()
    cache.store("q", "for a", scope=a)
    assert cache.check("q", scope=b) is None
