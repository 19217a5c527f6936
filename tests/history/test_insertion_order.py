"""Insertion order across a session's active and archived lists (``history/order.py`` and the archive script):
reads with ``status="all"`` and the archive keep the order messages were written in; entries written without a
``seq`` (before it existed, or by other code) keep the old order, archive first."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.history import ChatHistoryStore, MessageTooLargeError, StoredMessage, encode
from redis_rag_integrations.history.order import merge, next_seqs, seq_of


def _m(text: str) -> StoredMessage:
    return StoredMessage(role="user", content=text)


def _texts(messages: list[StoredMessage]) -> list[str]:
    return [str(m.content) for m in messages]


def test_seqs_increase_and_sit_at_the_end_of_the_entry() -> None:
    first, second = next_seqs(3), next_seqs(1)
    assert first == sorted(first) and len(set(first)) == 3 and second[0] > first[-1]
    raw = encode(_m('ends with "seq":5}'), seq=second[0])
    assert raw.endswith(b',"seq":%d}' % second[0]) and seq_of(raw) == second[0]
    assert seq_of(encode(_m("x"))) is None  # no seq: none read into the message's text either
    assert seq_of(encode(StoredMessage(role="user", content="x", extra={"seq": 7}))) is None  # nested: not ours


def test_a_message_archived_directly_keeps_its_place(store: ChatHistoryStore) -> None:
    store.append("s", [_m("a1")])
    store.append("s", [_m("z")], status="archived")
    store.append("s", [_m("a2"), _m("a3")])
    assert _texts(store.read("s", status="all")) == ["a1", "z", "a2", "a3"]
    assert _texts(store.read("s", status="all", limit=2, offset=1)) == ["z", "a2"]
    # a1 is older than z: archiving it puts it before z (the script merges), not after
    assert _texts(store.archive_oldest("s", 2)) == ["a1", "a2"]
    assert _texts(store.read("s", status="archived")) == ["a1", "z", "a2"]
    assert _texts(store.read("s", status="all")) == ["a1", "z", "a2", "a3"]
    assert _texts(store.read("s")) == ["a3"]


def test_the_archive_script_compares_seqs_by_value_not_as_text(store: ChatHistoryStore) -> None:
    """Seqs of different lengths: ``"10" < "9"`` as text; 19-digit seqs do not fit a Lua double either."""
    keys = store.keys("s")
    store.client.rpush(keys.archived, encode(_m("ten"), seq=10), encode(_m("big"), seq=10**18 + 1))
    store.client.rpush(keys.active, encode(_m("nine"), seq=9), encode(_m("big-1"), seq=10**18))
    assert _texts(store.archive_oldest("s", 2)) == ["nine", "big-1"]
    assert _texts(store.read("s", status="archived")) == ["nine", "ten", "big-1", "big"]


def test_entries_without_a_seq_read_archive_first_as_before(store: ChatHistoryStore) -> None:
    keys = store.keys("s")
    store.client.rpush(keys.archived, encode(_m("old-archived")))
    store.client.rpush(keys.active, encode(_m("old-1")), encode(_m("old-2")))
    assert _texts(store.read("s", status="all")) == ["old-archived", "old-1", "old-2"]
    store.append("s", [_m("new")])
    assert _texts(store.archive_oldest("s", 1)) == ["old-1"]
    assert _texts(store.read("s", status="archived")) == ["old-archived", "old-1"]
    assert _texts(store.read("s", status="all")) == ["old-archived", "old-1", "old-2", "new"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_merge_interleaves_without_reordering_either_list(data: st.DataObject) -> None:
    """Any seqs (missing, repeated, out of order): each list's order is kept, and with increasing seqs the merge
    is the sort by seq (archive first on a tie)."""
    seqs = st.one_of(st.none(), st.integers(min_value=0, max_value=20))
    a = [encode(_m(f"a{i}"), seq=s) for i, s in enumerate(data.draw(st.lists(seqs, max_size=6)))]
    b = [encode(_m(f"b{i}"), seq=s) for i, s in enumerate(data.draw(st.lists(seqs, max_size=6)))]
    out = merge(("A", a), ("B", b))
    assert [raw for key, _, raw in out if key == "A"] == a and [raw for key, _, raw in out if key == "B"] == b
    assert [i for key, i, _ in out if key == "A"] == list(range(len(a)))
    keyed = [(seq_of(raw) if seq_of(raw) is not None else -1, key) for key, _, raw in out]
    if all(seq_of(r) is not None for r in a + b) and all(
        (seq_of(x) or 0) <= (seq_of(y) or 0) for lst in (a, b) for x, y in pairwise(lst)
    ):
        assert keyed == sorted(keyed)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), seq=st.integers(0, 2**63 - 1))
def test_the_insertion_order_does_not_count_against_max_message_bytes(text: str, seq: int) -> None:
    # the limit is the user's message; the seq is our bookkeeping: a message that fits without it fits with it,
    # and one over the limit is refused either way
    message = StoredMessage(role="user", content=text)
    size = len(encode(message))
    assert seq_of(encode(message, max_bytes=size, seq=seq)) == seq
    with pytest.raises(MessageTooLargeError):
        encode(message, max_bytes=size - 1, seq=seq)
