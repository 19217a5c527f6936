"""``source_fingerprint`` keeps the fingerprints of documents seen lately (the RAG agent middleware fingerprints its
passages on every model call). A kept fingerprint must be the one the document gives: values that Python calls
equal but JSON writes differently (``1`` / ``1.0`` / ``True``, ``0.0`` / ``-0.0``) never share one, whatever was
asked before; metadata the key cannot hold exactly (containers, other types) is fingerprinted afresh."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache import entry
from redis_rag_integrations.cache.entry import source_fingerprint


def _fresh(text: str, metadata: dict[str, Any] | None) -> str:
    """The fingerprint's definition (see its docstring): sha256 of the text and the canonical JSON metadata."""
    body = text + "\x00" + json.dumps(dict(metadata or {}), sort_keys=True, default=repr)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


# Values chosen to collide in Python and differ in JSON
VALUES = st.one_of(
    st.sampled_from([1, 1.0, True, 0, 0.0, -0.0, False, None, "1", float("nan"), float("inf")]),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(0, 2), max_size=2),  # a container: not kept
)
METADATA = st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b", "chunk", "source"]), VALUES, max_size=4))
DOCS = st.tuples(st.sampled_from(["", "text", "other text", "caf\u00e9"]), METADATA)


@settings(max_examples=400, deadline=None)
@given(docs=st.lists(DOCS, min_size=1, max_size=8))
def test_a_kept_fingerprint_is_the_documents_own(docs: list[tuple[str, dict[str, Any] | None]]) -> None:
    entry._FINGERPRINTS.clear()
    for text, metadata in [*docs, *reversed(docs)]:  # each asked again after the others were kept
        assert source_fingerprint(text, metadata) == _fresh(text, metadata)


def test_equal_in_python_is_not_one_fingerprint() -> None:
    entry._FINGERPRINTS.clear()
    prints = {source_fingerprint("t", {"n": v}) for v in (1, 1.0, True, 0.0, -0.0)}
    assert len(prints) == 5  # JSON writes 1, 1.0, true, 0.0 and -0.0
    assert source_fingerprint("t", {"n": 1}) != source_fingerprint("t", {"n": 1.0})
    assert source_fingerprint("t", {"n": 0.0}) != source_fingerprint("t", {"n": -0.0})


def test_the_kept_fingerprints_are_bounded() -> None:
    entry._FINGERPRINTS.clear()
    for i in range(entry._MAX_FINGERPRINTS + 10):
        source_fingerprint(f"doc {i}", {"chunk": i})
    assert len(entry._FINGERPRINTS) <= entry._MAX_FINGERPRINTS
    assert source_fingerprint("doc 3", {"chunk": 3}) == _fresh("doc 3", {"chunk": 3})
