"""The search hot path's shortcuts give exactly what the general code would, or the same refusal.

- ``knn._decode_json`` (the JSON scanner without ``json.loads``'s wrapping) against ``json.loads``;
- ``Layout.vector_bytes`` on lists and numpy arrays against a plain numpy conversion, for any floats (NaN, infinity,
  values beyond float32, huge finite ones whose square overflows);
- the unvalidated ``Document`` / ``TextNode`` constructors against the validated ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.load import dumpd
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from redis_rag_integrations.langchain.fast_documents import document
from redis_rag_integrations.llama_index.fast_nodes import text_node
from redis_rag_integrations.store.knn import _decode_json
from redis_rag_integrations.store.layout import Layout

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _outcome(fn: Callable[[str], Any], text: str) -> tuple[str, Any]:
    try:
        return ("ok", fn(text))
    except ValueError as exc:
        return ("error", type(exc))


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False)),
        JSON_VALUES.map(lambda v: json.dumps(v, indent=1)),
        st.floats().map(lambda f: json.dumps({"x": f})),  # NaN / Infinity literals, which only json.loads reads
        st.integers(min_value=-(2**80), max_value=2**80).map(str),  # beyond 64 bits
        st.text(max_size=30),
    )
)
def test_json_shortcut_is_json_loads(text: str) -> None:
    got, want = _outcome(_decode_json, text), _outcome(json.loads, text)
    assert got == want or (got[0] == want[0] == "ok" and json.dumps(got[1]) == json.dumps(want[1]))  # NaN != NaN


DIMS = 8
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from([3.4e38, 1e30, -2e19, 1e39])


def _expected(values: list[float]) -> bytes | None:
    with np.errstate(over="ignore"):
        arr = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            return None
        as32 = arr.astype(np.float32)
    return as32.tobytes() if np.all(np.isfinite(as32)) else None


@settings(max_examples=300, deadline=None)
@given(st.lists(FLOATS, min_size=DIMS, max_size=DIMS))
def test_vector_bytes_exact_or_refused(values: list[float]) -> None:
    layout = Layout("hot", DIMS)
    expected = _expected(values)
    for given_vector in (values, np.asarray(values, dtype=np.float32) if expected is not None else values):
        if expected is None:
            with pytest.raises(ValueError, match="NaN or infinity"):
                layout.vector_bytes(given_vector)
        else:
            assert layout.vector_bytes(given_vector) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e4, 1e4, width=32), min_size=DIMS, max_size=DIMS),
    st.lists(st.tuples(st.integers(0, DIMS - 1), st.sampled_from([math.nan, math.inf, -math.inf])), max_size=3),
    st.sampled_from(["float32", "float16"]),
)
def test_arrays_and_lists_of_the_stored_type_are_exact_or_refused(
    values: list[float], bad: list[tuple[int, float]], datatype: str
) -> None:
    """The fast paths' finiteness check, for arrays of the stored dtype and lists of numpy scalars too."""
    layout = Layout("hot", DIMS, datatype=datatype)
    dtype = np.float32 if datatype == "float32" else np.float16
    arr = np.asarray(values, dtype=np.float64)
    for i, v in bad:
        arr[i] = v
    typed = arr.astype(dtype)
    for given_vector in (typed, list(typed), typed.tolist()):
        if bad:
            with pytest.raises(ValueError, match="NaN or infinity"):
                layout.vector_bytes(given_vector)
        elif np.all(np.isfinite(typed)):
            assert layout.vector_bytes(given_vector) == typed.tobytes()


def test_vector_bytes_refuses_wrong_sizes_and_non_numbers() -> None:
    layout = Layout("hot", DIMS)
    with pytest.raises(ValueError, match="dimensions"):
        layout.vector_bytes([0.1] * (DIMS - 1))
    with pytest.raises((TypeError, ValueError)):
        layout.vector_bytes(["a"] * DIMS)
    assert math.isclose(np.frombuffer(layout.vector_bytes([1e30] * DIMS), np.float32)[0], 1e30, rel_tol=1e-6)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(max_size=50), st.dictionaries(st.text(max_size=6), JSON_VALUES))
def test_fast_documents_equal_validated_ones(doc_id: str, text: str, metadata: dict) -> None:
    fast, slow = document(doc_id, text, metadata), Document(id=doc_id, page_content=text, metadata=metadata)
    assert fast == slow and fast.__dict__ == slow.__dict__ and dumpd(fast) == dumpd(slow)
    assert fast.model_fields_set == slow.model_fields_set


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=1, max_size=20),
    st.text(max_size=50),
    st.dictionaries(st.text(max_size=6), JSON_VALUES),
    st.none() | st.text(min_size=1, max_size=10),
)
def test_fast_nodes_equal_validated_ones(node_id: str, text: str, metadata: dict, doc_id: str | None) -> None:
    slow = TextNode(id_=node_id, text=text, metadata=metadata)
    if doc_id:
        slow.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    fast = text_node(node_id, text, metadata, doc_id)
    assert fast == slow and fast.model_dump_json() == slow.model_dump_json() and fast.ref_doc_id == slow.ref_doc_id
    other = text_node("x", "y", {}, None)
    fast.excluded_embed_metadata_keys.append("k")
    assert other.excluded_embed_metadata_keys == []  # no shared mutable defaults


def _as_str(value: Any) -> Any:
    """The same reply as a ``decode_responses`` client gets it."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_as_str(v) for v in value]
    return value


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=12),
            st.none() | st.text(max_size=40),
            st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3),
            st.none() | st.text(min_size=1, max_size=10),
            st.none() | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
            st.floats(min_value=0, max_value=2),
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_resp2_bytes_fast_path_reads_what_the_general_path_reads(rows: list, prefixed: bool) -> None:
    from redis_rag_integrations import tags
    from redis_rag_integrations.store.knn import parse_reply

    layout = Layout("hot", DIMS)
    reply: list = [len(rows)]
    for record_id, text, metadata, doc, extra, distance in rows:
        key = f"hot:{record_id}" if prefixed else record_id
        flat = [b"vector_distance", repr(distance).encode()]
        if doc is not None:
            flat += [b"doc_id", tags.encode(doc).encode()]
        if text is not None:
            flat += [b"text", text.encode()]
        flat += [b"metadata", json.dumps(metadata).encode()]
        if extra is not None:
            flat += [b"extra", json.dumps(extra).encode()]
        reply += [key.encode(), flat]
    similarity = layout.similarity_fn()
    fast = parse_reply(layout, reply, similarity)
    assert fast == parse_reply(layout, _as_str(reply), similarity)
    assert [h.record.doc_id for h in fast] == [d for _, _, _, d, _, _ in rows]
