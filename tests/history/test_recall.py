"""Relevant recall: earlier messages that matter to a new question, per session, from both frameworks."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage

from redis_rag_integrations import Settings
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.errors import MissingModuleError
from redis_rag_integrations.history import ChatHistoryStore, RelevantRecall, StoredMessage
from redis_rag_integrations.langchain import RedisChatMessageHistory
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore
from redis_rag_integrations.server import find_binaries, free_port

CONVERSATION = [
    ("user", "I am planning a trip to Japan next spring."),
    ("assistant", "Cherry blossom season in Kyoto is lovely in early April."),
    ("user", "My dog Biscuit is a golden retriever who loves swimming."),
    ("assistant", "Golden retrievers are great swimmers; lakes are perfect for them."),
    ("user", "I'm allergic to peanuts, so please keep that in mind for recipes."),
    ("assistant", "Noted: I will avoid peanuts in any recipe suggestions."),
    ("user", "What's the capital of Australia?"),
    ("assistant", "Canberra is the capital of Australia."),
]


def write(store: ChatHistoryStore, session: str) -> None:
    store.append(session, [StoredMessage(role=r, content=t) for r, t in CONVERSATION])


def test_recall_finds_the_relevant_earlier_turns(store: ChatHistoryStore, local_embedder: LocalEmbedder) -> None:
    write(store, "trip")
    recall = RelevantRecall(store, local_embedder)
    assert "peanut" in recall.get_relevant("trip", "Can you suggest a snack without nuts?", k=2)[0].text.lower()
    top = [m.text for m in recall.get_relevant("trip", "Where can my pet go for a swim?", k=2)]
    assert any("Biscuit" in t or "swimmers" in t for t in top)
    top = {m.text for m in recall.get_relevant("trip", "When should I see the sakura in Kyoto?", k=2)}
    assert top == {CONVERSATION[0][1], CONVERSATION[1][1]}


def test_recall_never_crosses_sessions_and_sees_new_and_removed_messages(
    store: ChatHistoryStore, local_embedder: LocalEmbedder
) -> None:
    write(store, "a")
    store.append("b", [StoredMessage(role="user", content="Peanut butter sandwiches are my favourite lunch.")])
    recall = RelevantRecall(store, local_embedder)
    found = recall.get_relevant("b", "nut allergy", k=5)
    assert [m.text for m in found] == ["Peanut butter sandwiches are my favourite lunch."]
    store.append("b", [StoredMessage(role="user", content="Almonds and cashews are also nuts.")])
    assert len(recall.get_relevant("b", "nut allergy", k=5)) == 2
    store.trim("b", keep_last=1)
    assert [m.text for m in recall.get_relevant("b", "nut allergy", k=5)] == ["Almonds and cashews are also nuts."]
    store.delete("a")
    assert recall.get_relevant("a", "peanuts", k=3) == []


def test_recall_can_leave_out_the_recent_window(store: ChatHistoryStore, words_embedder) -> None:
    write(store, "w")
    recall = RelevantRecall(store, words_embedder, index_name=f"{store.layout.prefix}-fake")
    found = recall.get_relevant("w", "capital of Australia", k=8, exclude_recent=2)
    assert len(found) == 6 and not any("Canberra" in m.text or "Australia" in m.text for m in found)


def test_recall_includes_archived_messages(store: ChatHistoryStore, words_embedder) -> None:
    write(store, "arch")
    store.archive_oldest("arch", 6)
    recall = RelevantRecall(store, words_embedder, index_name=f"{store.layout.prefix}-fake")
    assert len(recall.get_relevant("arch", "anything at all", k=10)) == len(CONVERSATION)


async def test_recall_from_both_frameworks(store: ChatHistoryStore, local_embedder: LocalEmbedder) -> None:
    lc = RedisChatMessageHistory("both", store=store, embedder=local_embedder)
    lc.add_messages([HumanMessage(content="My favourite colour is teal."), AIMessage(content="Teal is nice.")])
    RedisChatStore(store=store).add_message("both", ChatMessage(role="user", content="I play the cello on Sundays."))
    found = lc.get_relevant("Which instrument do I play?", k=1)
    assert isinstance(found[0], HumanMessage) and "cello" in found[0].content
    li = RedisAsyncChatStore(store=store, embedder=local_embedder)
    found_li = await li.aget_relevant("both", "What colour do I like?", k=1)
    assert "teal" in (found_li[0].content or "").lower()
    found_async = await lc.aget_relevant("music on weekends", k=1)
    assert "cello" in found_async[0].content


def test_recall_entries_follow_the_session_ttl(redis_url: str, unique_name: str, words_embedder) -> None:
    store = ChatHistoryStore(redis_url, prefix=unique_name, ttl=300)
    write(store, "t")
    RelevantRecall(store, words_embedder, index_name=f"{unique_name}-fake").get_relevant("t", "x y", k=1)
    client = store.client
    recall_keys = list(client.scan_iter(match=f"{store.keys('t').recall_prefix}*"))
    assert recall_keys and all(0 < client.ttl(k) <= 300 for k in recall_keys)
    store.delete("t")
    assert not list(client.scan_iter(match=f"{store.keys('t').recall_prefix}*"))


@pytest.fixture
def plain_redis_url(tmp_path: Path) -> Iterator[str]:
    """A second redis-server with no modules: a stand-in for a plain Redis OSS."""
    server_bin, _ = find_binaries()
    port = free_port()
    proc = subprocess.Popen(
        [str(server_bin), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


def test_plain_history_works_without_search_and_recall_says_what_is_missing(
    plain_redis_url: str, words_embedder
) -> None:
    history = RedisChatMessageHistory("p", redis_url=plain_redis_url, embedder=words_embedder)
    history.add_messages([HumanMessage(content="hello"), AIMessage(content="hi")])
    assert [m.content for m in history.messages] == ["hello", "hi"]
    assert RedisChatStore(redis_url=plain_redis_url).get_keys() == ["p"]
    with pytest.raises(MissingModuleError, match="relevant recall needs the Redis query engine"):
        history.get_relevant("greeting")
    assert [m.content for m in history.messages] == ["hello", "hi"]


def test_default_url_resolution_needs_no_module(redis_url: str, unique_name: str) -> None:
    store = ChatHistoryStore(prefix=unique_name, settings=Settings(redis_url=redis_url))
    assert store.url == redis_url
