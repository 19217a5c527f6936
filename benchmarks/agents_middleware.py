"""The middleware section of ``benchmarks/bench_agents.py`` (see its docstring for the method): what the RAG and
semantic-cache middleware add to each model call of a ``create_agent`` loop, optionally interleaved with the code
of another git revision (``--before REV``). Apart from the checkpoint section so that neither file outgrows a
screenful of reading; ``bench_agents`` imports and runs it.
"""

from __future__ import annotations

import importlib
import itertools
import os
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from redis.connection import AbstractConnection

from benchmarks.agents_floor import FLOOR_CASE, capture_commands, contexts, floor_agents
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import Settings
from redis_rag_integrations.datasets import docs_available, python_docs
from redis_rag_integrations.embeddings import Embedder, LocalEmbedder
from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.datasets import split_documents
from redis_rag_integrations.langchain.middleware import RedisRAGMiddleware

QUESTIONS = [
    "Why are default values shared between objects?",
    "How do I make sure a file gets closed?",
    "What is the global interpreter lock?",
    "How can I sort a list of dictionaries by a key?",
    "Why does 0.1 + 0.2 not equal 0.3?",
    "How do I copy an object?",
]


class CountingEmbedder:
    """An :class:`Embedder` that counts the calls it gets and serves known texts from a table (``table=True``: the
    vectors were computed up front by ``inner``) or passes every call to ``inner``. Unknown texts always go to
    ``inner`` (the store's dimension probe, the chunks)."""

    def __init__(self, inner: Embedder, known: Sequence[str] = (), *, table: bool = False) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.calls = 0
        self.table = dict(zip(known, inner.embed(list(known)), strict=True)) if table and known else {}

    @property
    def dims(self) -> int:
        return self.inner.dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.table and all(t in self.table for t in texts):
            return np.stack([self.table[t] for t in texts])
        return self.inner.embed(texts)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


class RoundTrips:
    """Counts what is sent to Redis while installed: one per command or pipeline, i.e. one per round trip; by the
    thread that installed it (:attr:`count`: the caller's critical path) and by any other thread
    (:attr:`background`: the cache's write-behind worker). Instrumentation only: redis-py's connection method is
    wrapped and still does the sending."""

    def __init__(self) -> None:
        self.count = 0
        self.background = 0
        self._send: Any = None

    def __enter__(self) -> RoundTrips:
        self._send = send = AbstractConnection.send_packed_command
        caller = threading.get_ident()

        def counted(connection: Any, command: Any, check_health: bool = True) -> Any:
            if threading.get_ident() == caller:
                self.count += 1
            else:
                self.background += 1
            return send(connection, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        AbstractConnection.send_packed_command = self._send  # type: ignore[method-assign]


def p50(samples: list[float]) -> float:
    return percentiles(samples)["p50"]


# --- middleware -----------------------------------------------------------------------------------------------------
def _fake_model() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=itertools.cycle([AIMessage("Here is the answer.")]))


#: The package as it was at a git revision, importable beside the current one (``--before REV``).
BEFORE_PACKAGE = "redis_rag_integrations_before"
ROOT = Path(__file__).resolve().parents[1]


def load_before(rev: str, folder: str) -> types.SimpleNamespace:
    """The middleware classes of the package at git revision ``rev``, imported under :data:`BEFORE_PACKAGE` (the
    package imports itself only relatively, so a renamed copy is a second, independent package in this process:
    its own clients, request scope and caches). What a before/after comparison interleaves with the current code."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "redis_rag_integrations"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    os.rename(os.path.join(folder, "redis_rag_integrations"), os.path.join(folder, BEFORE_PACKAGE))
    sys.path.insert(0, folder)
    for name in [m for m in sys.modules if m == BEFORE_PACKAGE or m.startswith(BEFORE_PACKAGE + ".")]:
        del sys.modules[name]  # a revision loaded earlier in this process
    lc = importlib.import_module(f"{BEFORE_PACKAGE}.langchain")
    return types.SimpleNamespace(
        rev=rev,
        RagEmbeddings=lc.RagEmbeddings,
        RedisVectorStore=lc.RedisVectorStore,
        RedisRAGMiddleware=importlib.import_module(f"{BEFORE_PACKAGE}.langchain.middleware").RedisRAGMiddleware,
        SemanticCacheMiddleware=importlib.import_module(
            f"{BEFORE_PACKAGE}.langchain.agent_cache"
        ).SemanticCacheMiddleware,
        Settings=importlib.import_module(BEFORE_PACKAGE).Settings,
    )


CURRENT = types.SimpleNamespace(
    rev="working tree",
    RagEmbeddings=RagEmbeddings,
    RedisVectorStore=RedisVectorStore,
    RedisRAGMiddleware=RedisRAGMiddleware,
    SemanticCacheMiddleware=SemanticCacheMiddleware,
    Settings=Settings,
)
CASES = ("rag", "cache miss", "cache hit", "rag + cache miss", "rag + cache hit")
#: The two miss cases again, timed until the write the cache middleware left to its worker thread is done
#: (``core.flush()``; code without write-behind wrote before returning): critical path + background, the total.
WRITE_CASES = ("cache miss, write included", "rag + cache miss, write included")


def middleware_section(url: str, rounds: int, chunks: int = 100, before: types.SimpleNamespace | None = None,
                       real: bool = True) -> dict[str, float]:  # fmt: skip
    """The middleware cases with the table embedder (and ``before``'s code interleaved, when given), then with the
    real embedder (current code only; skipped with ``real=False``)."""
    live_model = LocalEmbedder()
    run = uuid.uuid4().hex[:6]
    warmup = 3
    variants = [f"{q} (variant {i})" for i in range((rounds + 2) * 4) for q in QUESTIONS]  # miss questions
    pages = python_docs(sections=("faq",)) if docs_available() else python_docs()[:20]
    docs = split_documents(pages)[:chunks]
    out: dict[str, float] = {}
    table = CountingEmbedder(live_model, QUESTIONS + variants, table=True)
    flavours = {"": CURRENT, **({"before: ": before} if before is not None else {})}
    out.update(_middleware_cases(url, f"{run}t", table, docs, variants, rounds, warmup, "table embedder", flavours))
    if real:
        live = CountingEmbedder(live_model)
        out.update(
            _middleware_cases(url, f"{run}r", live, docs, variants, rounds, warmup, "real embedder", {"": CURRENT})
        )
    return out


def _agents(
    code: types.SimpleNamespace, url: str, run: str, embedder: CountingEmbedder, docs: list[Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """One store and the middleware agents of ``code`` (one RAG middleware per agent, as an application builds
    an agent: a RAG middleware shared by agents with different caches keeps asking for unused lookups); the caches
    by case."""
    store = code.RedisVectorStore(
        code.RagEmbeddings(embedder), f"bench-agents-{run}", redis_url=url, settings=code.Settings(redis_url=url)
    )
    store.add_documents(docs)
    caches = {
        kind: code.SemanticCacheMiddleware(embeddings=embedder, name=f"bench-{kind}-{run}", redis_url=url)
        for kind in ("miss", "hit", "rag-miss", "rag-hit", "miss-w", "rag-miss-w")
    }

    def rag() -> Any:
        return code.RedisRAGMiddleware(store, k=4)

    agents = {
        "rag": create_agent(_fake_model(), middleware=[rag()]),
        "cache miss": create_agent(_fake_model(), middleware=[caches["miss"]]),
        "cache hit": create_agent(_fake_model(), middleware=[caches["hit"]]),
        "rag + cache miss": create_agent(_fake_model(), middleware=[rag(), caches["rag-miss"]]),
        "rag + cache hit": create_agent(_fake_model(), middleware=[rag(), caches["rag-hit"]]),
        WRITE_CASES[0]: create_agent(_fake_model(), middleware=[caches["miss-w"]]),
        WRITE_CASES[1]: create_agent(_fake_model(), middleware=[rag(), caches["rag-miss-w"]]),
    }
    kinds = dict(
        zip([*CASES[1:], *WRITE_CASES], ["miss", "hit", "rag-miss", "rag-hit", "miss-w", "rag-miss-w"], strict=True)
    )
    return store, agents, {name: caches[kind] for name, kind in kinds.items()}


def _flush(cache: Any) -> None:
    """Wait for the writes ``cache`` left to its worker (code without write-behind has none)."""
    flush = getattr(cache.core, "flush", None)
    if flush is not None:
        flush()


def _middleware_cases(
    url: str,
    run: str,
    embedder: CountingEmbedder,
    docs: list[Any],
    variants: list[str],
    rounds: int,
    warmup: int,
    label: str,
    flavours: dict[str, types.SimpleNamespace],
) -> dict[str, float]:
    agents: dict[str, Any] = {"bare": create_agent(_fake_model())}
    stores, caches = [], {}
    for i, (prefix, code) in enumerate(flavours.items()):
        store, made, made_caches = _agents(code, url, f"{run}{i}", embedder, docs)
        stores.append(store)
        agents.update({prefix + name: agent for name, agent in made.items()})
        caches.update({prefix + name: cache for name, cache in made_caches.items()})
        if not prefix:  # the floor of RAG + miss, for the current code (see benchmarks/agents_floor.py)
            miss, miss_cache = made["rag + cache miss"], made_caches["rag + cache miss"]

            def through(text: str, agent: Any = miss, cache: Any = miss_cache) -> None:
                agent.invoke({"messages": [{"role": "user", "content": text}]})
                _flush(cache)

            commands = capture_commands(through, QUESTIONS)
            agents.update(floor_agents(_fake_model, embedder, store.index.client, commands, contexts(store, QUESTIONS)))
    fresh = {name: iter(variants) for name in agents if "miss" in name}
    calls: dict[str, list[int]] = {name: [] for name in agents}
    trips: dict[str, list[int]] = {name: [] for name in agents}
    behind: dict[str, list[int]] = {name: [] for name in agents}
    cpu: dict[str, list[float]] = {name: [] for name in agents}
    # timed here rather than by interleaved(): the flush after a case without "write included" is not its time
    elapsed: dict[str, list[float]] = {name: [] for name in agents}
    sent = RoundTrips()

    def case(name: str) -> Callable[[str], object]:
        # a miss's write is waited for after the call (untimed: the next case starts with an idle worker), or
        # inside it ("write included"); a hit writes nothing (a watch it took is ended by the next one sent)
        cache = caches.get(name) if "miss" in name else None
        included = name.endswith(WRITE_CASES[0].partition(",")[2])

        def call(question: str) -> object:
            text = next(fresh[name]) if name in fresh else question
            before, sent_before, behind_before = embedder.calls, sent.count, sent.background
            cpu_before, started = time.process_time(), time.perf_counter()
            result = agents[name].invoke({"messages": [{"role": "user", "content": text}]})
            if cache is not None and included:
                _flush(cache)
            elapsed[name].append((time.perf_counter() - started) * 1000.0)
            cpu[name].append((time.process_time() - cpu_before) * 1000.0)
            if cache is not None and not included:
                _flush(cache)
            calls[name].append(embedder.calls - before)
            trips[name].append(sent.count - sent_before)
            behind[name].append(sent.background - behind_before)
            return result

        return call

    cases: dict[str, Callable[[str], object]] = {name: case(name) for name in agents}
    # the embedding alone, in the same loop: the same embedder on the same questions (outside any request scope);
    # and one bare round trip to the same server, the unit of the Redis side
    cases["embedding"] = lambda question: embedder.embed([question])
    ping = stores[0].index.client
    cases["redis PING"] = lambda question: ping.ping()
    try:
        for question in QUESTIONS:  # prime the hit caches
            for prefix in flavours:
                cases[prefix + "cache hit"](question)
                cases[prefix + "rag + cache hit"](question)
        with sent:
            samples = interleaved(cases, QUESTIONS, rounds=rounds, warmup=warmup)
        samples.update({name: values[-rounds * len(QUESTIONS) :] for name, values in elapsed.items()})
        bare, embed, ping_ms = p50(samples["bare"]), p50(samples["embedding"]), p50(samples["redis PING"])
        out = {
            f"{label}: bare agent call p50 ms": bare,
            f"{label}: query embedding p50 ms": embed,
            f"{label}: redis PING p50 ms": ping_ms,
        }
        bare_cpu = float(np.median(cpu["bare"]))
        out[f"{label}: bare agent call, client CPU p50 ms"] = bare_cpu
        for name in agents:
            if name == "bare":
                continue
            # this process' CPU time (Python, encoding, parsing; not the waits for Redis nor for a core): the part
            # of the added latency that a loaded machine inflates least
            out[f"{label}: added client CPU per model call ms, {name}"] = float(np.median(cpu[name])) - bare_cpu
            per_call, round_trips = float(np.median(calls[name])), float(np.median(trips[name]))
            out[f"{label}: embedder calls per model call, {name}"] = per_call
            out[f"{label}: redis round trips per model call, {name}"] = round_trips
            # sent by the cache's write-behind worker (the store after a miss, the end of an unused watch)
            out[f"{label}: background round trips per model call, {name}"] = float(np.median(behind[name]))
            added = p50(samples[name]) - bare
            out[f"{label}: added per model call ms, {name}"] = added
            if embedder.table == {}:  # the real model: its time subtracted once per counted call
                added -= per_call * embed
                out[f"{label}: added minus embeddings ms, {name}"] = added
            # what is left once each round trip is counted at a PING's cost: our Python plus Redis' own search work
            out[f"{label}: added minus embeddings and round trips at PING cost ms, {name}"] = (
                added - round_trips * ping_ms
            )
        for prefix in flavours:
            for name in (*CASES, *WRITE_CASES):
                if prefix:
                    now, then = (
                        out[f"{label}: added per model call ms, {name}"],
                        out[f"{label}: added per model call ms, {prefix}{name}"],
                    )
                    out[f"{label}: added, now / before, {name}"] = now / then
                    now = out[f"{label}: added client CPU per model call ms, {name}"]
                    then = out[f"{label}: added client CPU per model call ms, {prefix}{name}"]
                    out[f"{label}: added client CPU, now / before, {name}"] = now / then
            if not prefix:
                ours, floor = (
                    out[f"{label}: added per model call ms, rag + cache miss"],
                    out[f"{label}: added per model call ms, {FLOOR_CASE}"],
                )
                out[f"{label}: rag + cache miss minus its floor ms"] = ours - floor
                out[f"{label}: rag + cache miss / its floor (added)"] = ours / floor
            for kind in ("cache hit", "rag + cache hit"):
                assert caches[prefix + kind].stats.hits >= len(QUESTIONS) * rounds, f"the {prefix}{kind} case must hit"
        return out
    finally:
        for store in stores:
            store.index.drop()
        for cache in caches.values():
            cache.core.delete_index()
