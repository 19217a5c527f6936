"""identity_json's fast path (plain values written by the C encoder) gives the walk's text, or takes the walk.

The agent middleware's cache key is ``identity_json`` over the whole thread; the fast path must never change a key
(existing entries would stop matching, or worse, two calls would share one) nor accept what the walk refuses.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache.identity import UncacheableCall, _canonical, identity_json


class Text(str):
    """A str subclass (langchain-core's ``.text`` is one): not a plain value."""


def walked(value: Any) -> str:
    """What identity_json wrote before the fast path: the canonical walk, then the encoder."""
    return json.dumps(_canonical(value, None, "$", 0), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


KEYS = st.sampled_from(["a", "b", "$ref", "timeout", "Password", "max_tokens", "content", "name"]) | st.text(max_size=6)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.text(max_size=5).map(Text)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(KEYS, inner, max_size=4)
        | st.dictionaries(st.integers(), inner, min_size=1, max_size=2)
        | st.tuples(inner, inner)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_the_fast_path_writes_the_walks_text_or_refuses_the_same(value: Any) -> None:
    try:
        expected = walked(value)
    except (UncacheableCall, RecursionError):
        with pytest.raises(UncacheableCall):
            identity_json(value)
        return
    assert identity_json(value) == expected


def test_depth_limit_is_the_walks() -> None:
    deep: Any = 1
    for _ in range(45):
        deep = [deep]
    with pytest.raises(UncacheableCall):
        identity_json(deep)
    shallow: Any = 1
    for _ in range(40):
        shallow = [shallow]
    assert identity_json(shallow) == walked(shallow)


@pytest.mark.parametrize("value", [math.nan, [math.inf], {"x": -math.inf}])
def test_non_finite_numbers_are_refused(value: Any) -> None:
    with pytest.raises(UncacheableCall):
        identity_json(value)
