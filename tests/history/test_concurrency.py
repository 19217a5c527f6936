"""Concurrent writers to one session (threads and processes) lose nothing, keep one order, never cross sessions."""

from __future__ import annotations

import multiprocessing
import threading

from redis_rag_integrations.history import ChatHistoryStore, StoredMessage

WRITERS = 4
PER_WRITER = 60


def _write(url: str, prefix: str, session: str, writer: int) -> None:
    store = ChatHistoryStore(url, prefix=prefix)
    for i in range(PER_WRITER):
        # two messages per append: they must stay adjacent
        store.append(session, [StoredMessage(role="user", content=f"{writer}:{i}:q"),
                               StoredMessage(role="assistant", content=f"{writer}:{i}:a")])  # fmt: skip
    store.close()


def _check(messages: list[StoredMessage]) -> None:
    texts = [str(m.content) for m in messages]
    assert len(texts) == WRITERS * PER_WRITER * 2
    assert len(set(texts)) == len(texts)
    for pos in range(0, len(texts), 2):  # each append is contiguous
        assert texts[pos].endswith(":q") and texts[pos + 1] == texts[pos][:-1] + "a"
    for writer in range(WRITERS):  # each writer's messages keep their own order
        mine = [t for t in texts if t.startswith(f"{writer}:") and t.endswith(":q")]
        assert mine == [f"{writer}:{i}:q" for i in range(PER_WRITER)]


def test_threads_appending_to_one_session_lose_nothing(store: ChatHistoryStore) -> None:
    threads = [
        threading.Thread(target=_write, args=(store.url, store.layout.prefix, "shared", w)) for w in range(WRITERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check(store.read("shared"))


def test_processes_appending_to_one_session_lose_nothing(store: ChatHistoryStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write, args=(store.url, store.layout.prefix, "shared", w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    _check(store.read("shared"))


def test_concurrent_sessions_never_see_each_other(store: ChatHistoryStore) -> None:
    threads = [
        threading.Thread(target=_write, args=(store.url, store.layout.prefix, f"own-{w}", w)) for w in range(WRITERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in range(WRITERS):
        texts = [str(m.content) for m in store.read(f"own-{w}")]
        assert len(texts) == PER_WRITER * 2 and all(t.startswith(f"{w}:") for t in texts)
