"""RedisRAGMiddleware's retriever run: skipped when no callback handler would see it (the same documents, without
LangChain's run bookkeeping), and still seen, with its query and documents, by every kind of listener: callbacks
in the run config (sync and async), LangGraph's ``stream_mode="messages"`` handler, ``collect_runs()``, a tracer
set for the context (what ``tracing_v2_enabled`` / LangSmith tracing installs) and the debug flag."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler, CallbackManager
from langchain_core.globals import get_debug, set_debug
from langchain_core.messages import AIMessage
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.context import collect_runs, tracing_v2_callback_var
from langchain_core.tracers.schemas import Run
from langsmith.run_helpers import tracing_context

from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.middleware import RedisRAGMiddleware
from redis_rag_integrations.langchain.run_observers import unobserved

from .conftest import ToolFakeChatModel

TEXTS = {
    "files": "Use a with statement to close files automatically.",
    "sort": "list.sort() sorts a list in place; sorted() returns a new list.",
    "gil": "The global interpreter lock lets one thread run Python bytecode at a time.",
    "copy": "copy.copy makes a shallow copy, copy.deepcopy a deep one.",
}
QUESTION = "How do I close a file?"


@pytest.fixture
def store(redis_url: str, unique_name: str) -> Iterator[RedisVectorStore]:
    vs = RedisVectorStore(RagEmbeddings(HashEmbedder()), unique_name, redis_url=redis_url)
    vs.add_texts(list(TEXTS.values()), metadatas=[{"source": f"{k}.md"} for k in TEXTS], ids=list(TEXTS))
    yield vs
    vs.index.drop()


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_retriever_start(self, serialized: Any, query: str, **kwargs: Any) -> None:
        self.events.append(("start", query))

    def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self.events.append(("end", [d.id for d in documents]))


class RecordingTracer(BaseTracer):
    """A tracer kept in memory: what a LangSmith tracer would send."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.runs.append(run)


def _model() -> ToolFakeChatModel:
    return ToolFakeChatModel(messages=itertools.cycle([AIMessage("Use `with` [1].")]))


def _agent(store: RedisVectorStore, *more: Any) -> tuple[Any, ToolFakeChatModel]:
    model = _model()
    return create_agent(model, system_prompt="Answer.", middleware=[RedisRAGMiddleware(store, k=2), *more]), model


def _ask() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": QUESTION}]}


@pytest.fixture
def run_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Queries of every retriever run started through a sync callback manager (the LangChain side only)."""
    started: list[str] = []
    original = CallbackManager.on_retriever_start

    def counted(self: CallbackManager, serialized: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        started.append(query)
        return original(self, serialized, query, *args, **kwargs)

    monkeypatch.setattr(CallbackManager, "on_retriever_start", counted)
    return started


def _expected_ids(store: RedisVectorStore) -> list[str]:
    return [d.id for d in store.as_retriever(search_type="hybrid", search_kwargs={"k": 2}).invoke(QUESTION)]


def test_nobody_listening_no_retriever_run_same_context(store: RedisVectorStore, run_starts: list[str]) -> None:
    agent, model = _agent(store)
    agent.invoke(_ask())
    assert run_starts == []  # the run's bookkeeping was skipped (fails when the middleware calls invoke)
    system = model.calls[0][0].text
    ids = _expected_ids(store)
    for i, doc_id in enumerate(ids, 1):
        assert f"[{i}] (source: {doc_id}.md)\n{TEXTS[doc_id]}" in system


def test_callbacks_in_the_run_config_see_the_retriever_run(store: RedisVectorStore, run_starts: list[str]) -> None:
    agent, _ = _agent(store)
    recorder = Recorder()
    agent.invoke(_ask(), {"callbacks": [recorder]})
    assert run_starts == [QUESTION]
    assert recorder.events == [("start", QUESTION), ("end", _expected_ids(store))]

    arecorder = Recorder()
    asyncio.run(agent.ainvoke(_ask(), {"callbacks": [arecorder]}))
    assert arecorder.events == [("start", QUESTION), ("end", _expected_ids(store))]


def test_behind_a_cache_middleware_too(store: RedisVectorStore, redis_url: str, unique_name: str) -> None:
    """The pipelined retrieval (RAG + cache lookup in one round trip) reports the same run."""
    cache = SemanticCacheMiddleware(embeddings=HashEmbedder(), name=f"{unique_name}c", redis_url=redis_url)
    agent, _ = _agent(store, cache)
    for _ in range(3):  # the cache middleware follows the RAG one from the second call on
        recorder = Recorder()
        agent.invoke({"messages": [{"role": "user", "content": f"{QUESTION} {uuid.uuid4().hex}"}]},
                     {"callbacks": [recorder]})  # fmt: skip
        assert [e[0] for e in recorder.events] == ["start", "end"]
    cache.core.clear()


def test_stream_mode_messages_handler_sees_it(store: RedisVectorStore, run_starts: list[str]) -> None:
    agent, _ = _agent(store)
    list(agent.stream(_ask(), stream_mode="messages"))
    assert run_starts == [QUESTION]


def test_collect_runs_and_a_context_tracer_see_it(store: RedisVectorStore) -> None:
    agent, _ = _agent(store)
    with collect_runs() as collected:
        agent.invoke(_ask())
    assert [r.inputs["query"] for r in collected.traced_runs if r.run_type == "retriever"] == [QUESTION]

    tracer = RecordingTracer()
    token = tracing_v2_callback_var.set(tracer)  # what tracing_v2_enabled() / LangSmith tracing installs
    try:
        agent.invoke(_ask())
    finally:
        tracing_v2_callback_var.reset(token)
    retrieved = [r for r in _all_runs(tracer.runs) if r.run_type == "retriever"]
    assert [r.inputs["query"] for r in retrieved] == [QUESTION]
    assert [d.id for d in retrieved[0].outputs["documents"]] == _expected_ids(store)


def _all_runs(runs: list[Run]) -> Iterator[Run]:
    for run in runs:
        yield run
        yield from _all_runs(run.child_runs)


def test_what_counts_as_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    assert unobserved()
    assert not unobserved([Recorder()])  # the runnable's own callbacks
    with tracing_context(enabled=True):  # LangSmith tracing on for this context
        assert not unobserved()
    with tracing_context(enabled=False):
        assert unobserved()
    assert not get_debug()
    set_debug(True)
    try:
        assert not unobserved()
    finally:
        set_debug(False)
    with collect_runs():
        assert not unobserved()
    monkeypatch.setenv("LANGCHAIN_HANDLER", "langchain")  # v1 tracing: invoke raises its error, as before
    assert not unobserved()
    monkeypatch.setenv("LANGCHAIN_HANDLER", "false")
    assert unobserved()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from([*" ".join(TEXTS.values()).split(), "why", "?", "ünï", "*", "-"]), max_size=6))
def test_the_search_alone_returns_what_the_run_returned(store: RedisVectorStore, words: list[str]) -> None:
    """Same documents (ids, text, metadata, order), whichever path the middleware takes, for any query."""
    query = " ".join(words)
    middleware = RedisRAGMiddleware(store, k=3)
    if not query.strip():
        return
    try:
        want = middleware.retriever.invoke(query)
    except ValueError:
        with pytest.raises(ValueError):
            middleware._retrieve(query)
        return
    got = middleware._retrieve(query)
    assert [(d.id, d.page_content, d.metadata) for d in got] == [(d.id, d.page_content, d.metadata) for d in want]
    agot = asyncio.run(middleware._aretrieve(query))
    assert [(d.id, d.page_content, d.metadata) for d in agot] == [(d.id, d.page_content, d.metadata) for d in want]
