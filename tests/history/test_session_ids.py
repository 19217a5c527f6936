"""Any session id names exactly one session, or is refused: messages and relevant recall never cross sessions.

Property-based: hypothesis draws pairs of distinct ids nobody here chose (case variants, commas, spaces at the ends,
control characters, query syntax, non-ASCII).
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Iterator

import pytest
from fakes import WordsEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore, RelevantRecall, StoredMessage
from redis_rag_integrations.history.errors import InvalidSessionIdError

session_ids = st.one_of(
    st.sampled_from(["a", "A", "a,b", "a b", " a", "a ", "a\tb", "_", "~", "@session:{x}", "a|b", "-a", "\x00"]),
    st.text(alphabet=string.printable, min_size=1, max_size=8),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=0, max_size=8),
)


@pytest.fixture(scope="module")
def module_store(redis_url: str) -> Iterator[ChatHistoryStore]:
    store = ChatHistoryStore(redis_url, prefix=f"t{uuid.uuid4().hex[:12]}", settings=Settings(redis_url=redis_url))
    yield store
    for sid in store.sessions():
        store.delete(sid)
    store.close()


@given(first=session_ids, second=session_ids)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_each_session_id_sees_only_its_own_messages_and_recall(
    module_store: ChatHistoryStore, first: str, second: str
) -> None:
    if first == second:
        second = first + "x"
    try:
        for sid in (first, second):
            module_store.delete(sid)
            module_store.append(sid, [StoredMessage(role="user", content=f"fruit salad for {sid!r}")])
    except InvalidSessionIdError as exc:
        refused = {"{", "}", "\x00"}
        assert any(c in first + second for c in refused) or "" in (first, second), exc
        return
    recall = RelevantRecall(module_store, WordsEmbedder(dims=16))
    for sid in (first, second):
        assert [m.text for m in module_store.read(sid)] == [f"fruit salad for {sid!r}"]
        found = recall.get_relevant(sid, "fruit salad", k=10)
        assert [m.text for m in found] == [f"fruit salad for {sid!r}"], sid
