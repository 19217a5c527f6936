"""``HybridPlan.finish`` fuses on the rows' keys and derives record ids for the ``k`` winners only: it must rank,
score and decode exactly as fusing the fully decoded hits of both lists on record ids (``ranking.relative_score_fuse``
/ ``rrf_fuse`` over ``knn.parse_reply`` and ``text.parse_text_reply``), ties and overlaps included, also when some
keys lie outside the layout's prefix (where two keys can name one record id: the plan then fuses on ids)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from redis_rag_integrations.store.hybrid import HybridPlan
from redis_rag_integrations.store.knn import SCORE_FIELD, parse_reply
from redis_rag_integrations.store.layout import Layout
from redis_rag_integrations.store.ranking import relative_score_fuse, rrf_fuse
from redis_rag_integrations.store.text import parse_text_reply

LAYOUT = Layout("fuse", 4)
HEAD = "fuse:"
# ids drawn from a small pool so that the lists overlap and scores tie; "b" also exists as a bare key "b"
IDS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"])
SCORES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 1.0, 1.5, 2.0])


def _fields(rid: str, key: str) -> list[bytes]:
    return [b"doc_id", f"doc-{rid}".encode(), b"text", f"text of {key}".encode(),
            b"metadata", json.dumps({"k": key}).encode()]  # fmt: skip


def _knn_reply(rows: list[tuple[str, float]], at: int = 0) -> list[object]:
    """Rows with the distance field at pair ``at`` (0: first, as Redis 8.2 sends it; 3: last; 1: in between)."""
    out: list[object] = [len(rows)]
    for key, distance in rows:
        flat = _fields(key.removeprefix(HEAD), key)
        flat[2 * at : 2 * at] = [SCORE_FIELD.encode(), repr(distance).encode()]
        out += [key.encode(), flat]
    return out


def _text_reply(rows: list[tuple[str, float]]) -> list[object]:
    out: list[object] = [len(rows)]
    for key, score in rows:
        out += [key.encode(), repr(score).encode(), _fields(key.removeprefix(HEAD), key)]
    return out


def _ranked(bare: bool) -> st.SearchStrategy[list[tuple[str, float]]]:
    """Rows of one list: distinct keys (a search never returns a key twice), each with a score."""
    keys = IDS.map(lambda i: HEAD + i)
    if bare:  # also the key "b" beside "fuse:b": another key, the same record id
        keys = st.one_of(keys, st.just("b"))
    return st.lists(st.tuples(keys, SCORES), max_size=8, unique_by=lambda r: r[0])


@settings(max_examples=300, deadline=None)
@given(
    bare=st.booleans(),
    data=st.data(),
    k=st.integers(1, 6),
    alpha=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
    fusion=st.sampled_from(["relative_score", "rrf"]),
    at=st.sampled_from([0, 1, 3]),
)
def test_fusing_on_keys_equals_fusing_decoded_hits_on_ids(
    bare: bool, data: st.DataObject, k: int, alpha: float, fusion: str, at: int
) -> None:
    dense = sorted(data.draw(_ranked(bare)), key=lambda r: r[1])  # closest first
    sparse = sorted(data.draw(_ranked(bare)), key=lambda r: -r[1])  # best BM25 first
    similarity = LAYOUT.similarity_fn()
    plan = HybridPlan(LAYOUT, ("FT.SEARCH",), ("FT.SEARCH",), k, alpha, fusion, similarity)
    knn, text = _knn_reply(dense, at), _text_reply(sparse)
    got = plan.finish([knn, text])
    lists = [parse_reply(LAYOUT, knn, similarity), parse_text_reply(LAYOUT, text)]
    fuse = rrf_fuse if fusion == "rrf" else relative_score_fuse
    want = fuse(lists, k, [alpha, 1.0 - alpha])
    assert [(h.record.id, h.score, h.distance) for h in got] == [(h.record.id, h.score, h.distance) for h in want]
    assert [h.record for h in got] == [h.record for h in want]


def test_a_bare_key_and_a_prefixed_key_of_one_id_are_one_record() -> None:
    """``fuse:b`` (vector list) and ``b`` (text list) are both record ``b``: fused as one, not two."""
    plan = HybridPlan(LAYOUT, ("FT.SEARCH",), ("FT.SEARCH",), 4, 0.5, "relative_score", LAYOUT.similarity_fn())
    hits = plan.finish([_knn_reply([("fuse:b", 0.1), ("fuse:a", 0.3)]), _text_reply([("b", 2.0), ("fuse:c", 1.0)])])
    assert [h.record.id for h in hits] == ["b", "a", "c"]
    assert hits[0].score == 1.0
    assert hits[0].record.text == "text of fuse:b"  # the row of the first list that holds it
