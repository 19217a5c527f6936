"""Agent memory and middleware costs: the Redis checkpointer beside LangGraph's ``InMemorySaver`` and ``SqliteSaver``,
and what the RAG and semantic-cache middleware add to each model call of a ``create_agent`` loop.

Standalone (not part of ``make bench``: it needs the ``agents`` extra and measures an integration, not a target):
``python -m benchmarks.bench_agents [--rounds 10] [--json out.json]``. It starts its own embedded Redis. Every
comparison runs in one process, the cases interleaved input by input (``benchmarks.timing.interleaved``), so the
load of the shared machine hits them alike; the load average is printed with the figures.

1. **Checkpoints.** A tool-calling agent turn (model -> tool -> model, a scripted model: no LLM time) runs on
   threads that grow turn by turn, with no checkpointer, ``InMemorySaver``, ``SqliteSaver`` on a file (WAL;
   ``langgraph-checkpoint-sqlite``, in the ``dev`` extra) with SQLite's default ``synchronous=FULL`` (a disk sync
   per checkpoint) and with ``synchronous=NORMAL`` (the durability of the embedded Redis: AOF synced every
   second), and our Redis saver. Checkpointing per agent step = ``(turn p50 - turn p50 without checkpointer) /
   checkpoints per turn``. A second figure is one write + read (``put`` + ``get_tuple``) of a real checkpoint of
   that thread, the savers interleaved. Ratios are Redis / each baseline.
2. **Middleware.** A one-call agent on ``GenericFakeChatModel`` with: nothing, ``RedisRAGMiddleware`` (hybrid, k=4,
   Python FAQ chunks), ``SemanticCacheMiddleware`` on a miss (a new question every call: lookup + store) and on a
   hit, and RAG + cache (hit and miss). Two measurements of the same cases:

   * **table embedder** (the headline): the questions' real MiniLM vectors computed once up front and served from
     a dict, so a case's added time is the middleware alone (our code and its Redis round trips), with nothing to
     subtract;
   * **real embedder**: the MiniLM model in the loop, embedder calls counted per model call, and the embedding's
     own p50 (the same embedder on the same questions, timed in the same interleaved loop) subtracted once per
     counted call. On a loaded 2-core machine the embedding's spread is larger than the target, so this one is a
     cross-check, not the figure.

   The client process' CPU time per model call is measured too (``time.process_time``): what the middleware costs
   in Python, without the waits for Redis or for a core, the figure a loaded machine inflates least.

   Redis round trips are counted per model call (commands and pipelines sent), on the caller's thread and, apart,
   by the cache's write-behind worker (the store after a miss: ``background round trips``), and a bare ``PING`` to
   the same server is timed in the same loop: ``added - round trips x PING`` is an upper bound of the Python the
   middleware runs (it still holds Redis' own search work). On a loaded 2-core machine a round trip costs several
   times what it does on a quiet one (the server waits for a core), which is why the figures move with the load
   average.

   The target is <= 2 ms p50 added per model call, plus one query embedding when retrieval or a lookup happens.

   **The floor of RAG + miss** (``benchmarks/agents_floor.py``): the same agent with two no-op middlewares, and
   with two hooks whose outer one embeds the question, sends the very commands our pipeline sent for it (captured
   once, untimed) on a pooled connection with the reply left unparsed, and adds a context of the same passages:
   the cheapest agent that does the same Redis work. ``rag + cache miss minus its floor`` is what our Python costs
   per model call; ``rag + cache miss / its floor`` is the ratio that moves least with the machine's speed.

   A miss case's write is waited for after each timed call (``core.flush()``, untimed); the two ``write included``
   cases time the call until that write is done: critical path + background, the total a miss costs.

   ``--before REV`` adds the same five cases built from the package as it was at git revision ``REV`` (extracted
   and imported as ``redis_rag_integrations_before``) to the table-embedder pass, interleaved with the current code
   on the same server: ``added, now / before`` is the change at the same load.
3. **Checkpoint commands.** What the Redis saver sends per agent turn, per checkpoint step and per ``put`` /
   ``put_writes`` / ``get_tuple``: round trips counted at the client, commands from the server's INFO commandstats.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import types
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from benchmarks.agents_middleware import (
    CASES,
    QUESTIONS,
    CountingEmbedder,
    RoundTrips,
    load_before,
    middleware_section,
    p50,
)
from benchmarks.timing import interleaved
from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations.langchain.agents import checkpointer

#: Re-exported from :mod:`benchmarks.agents_middleware` (the smoke test and callers use ``bench_agents``' names).
__all__ = ["CASES", "QUESTIONS", "CountingEmbedder", "RoundTrips", "load_before", "middleware_section", "p50", "run"]
SAVERS = ("none", "in-memory", "sqlite", "sqlite, synchronous=NORMAL", "redis")
BASELINES = SAVERS[1:-1]


class ScriptedModel(BaseChatModel):
    """No LLM time: calls ``lookup`` once after a user message, then answers (a model -> tool -> model turn)."""

    @property
    def _llm_type(self) -> str:
        return "scripted-bench"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        if isinstance(messages[-1], HumanMessage):
            call = {"name": "lookup", "args": {"query": "x"}, "id": f"call_{uuid.uuid4().hex[:12]}"}
            message = AIMessage("", tool_calls=[call])
        else:
            message = AIMessage("Here is the answer.")
        return ChatResult(generations=[ChatGeneration(message=message)])


@tool
def lookup(query: str) -> str:
    """Look the query up."""
    return f"result for {query}"


# --- checkpoints ----------------------------------------------------------------------------------------------------
def _sqlite(path: str, synchronous: str | None = None) -> SqliteSaver:
    """``SqliteSaver`` on a file; its ``setup()`` turns WAL on. SQLite's default ``synchronous=FULL`` syncs the disk
    at every commit (every checkpoint); ``NORMAL`` syncs at WAL checkpoints only, which is the durability class of
    the embedded Redis (append-only file synced every second)."""
    saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    saver.setup()
    if synchronous:
        saver.conn.execute(f"PRAGMA synchronous={synchronous}")
    return saver


def _savers(url: str, folder: str) -> dict[str, Any]:
    return {
        "none": None,
        "in-memory": InMemorySaver(),
        "sqlite": _sqlite(os.path.join(folder, "full.sqlite")),
        "sqlite, synchronous=NORMAL": _sqlite(os.path.join(folder, "normal.sqlite"), "NORMAL"),
        "redis": checkpointer(url),
    }


def checkpoint_section(url: str, rounds: int, threads: int = 20) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as folder:
        savers = _savers(url, folder)
        try:
            return _checkpoints(savers, rounds, threads)
        finally:
            for name in ("sqlite", "sqlite, synchronous=NORMAL"):
                savers[name].conn.close()


def _checkpoints(savers: dict[str, Any], rounds: int, threads: int) -> dict[str, float]:
    agents = {name: create_agent(ScriptedModel(), tools=[lookup], checkpointer=s) for name, s in savers.items()}
    run = uuid.uuid4().hex[:6]

    def turn(name: str) -> Callable[[int], object]:
        def call(thread: int) -> object:
            config = {"configurable": {"thread_id": f"{run}-{name}-{thread}"}}
            return agents[name].invoke({"messages": [{"role": "user", "content": "look x up"}]}, config)

        return call

    warmup = min(5, threads)
    samples = interleaved({name: turn(name) for name in agents}, list(range(threads)), rounds=rounds, warmup=warmup)
    probe = {"configurable": {"thread_id": f"{run}-in-memory-0"}}
    steps = len(list(agents["in-memory"].get_state_history(probe))) / (rounds + 1)  # the warm-up turn included
    out = {f"turn p50 ms, {name}": p50(s) for name, s in samples.items()}
    out["checkpoints per turn"] = steps
    per_step = {name: (p50(samples[name]) - p50(samples["none"])) / steps for name in SAVERS[1:]}
    # one write + read of the latest checkpoint of a thread (its messages grew over the rounds), side by side
    found = savers["in-memory"].get_tuple(probe)
    direct = {name: _write_read(savers[name], found, run) for name in SAVERS[1:]}
    cases = {name: _ignore_input(fn) for name, fn in direct.items()}
    pairs = interleaved(cases, [0] * 50, rounds=max(2, rounds // 2), warmup=10)
    write_read = {name: p50(pairs[name]) for name in SAVERS[1:]}
    out["messages in that checkpoint"] = len(found.checkpoint["channel_values"]["messages"])
    for measure, values in (("checkpointing per step", per_step), ("put+get_tuple p50", write_read)):
        for name in SAVERS[1:]:
            out[f"{measure} ms, {name}"] = values[name]
        for other in BASELINES:
            out[f"{measure}, redis / {other}"] = values["redis"] / values[other]
    return out


def _command_counts(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def _commands_of(client: Any, fn: Callable[[], object], repeat: int = 5) -> tuple[float, dict[str, float]]:
    """Round trips and server commands per call of ``fn`` (medians would hide nothing here: the counts are the
    same call to call; averaged over ``repeat``). The INFO calls of the counting itself are left out."""
    sent = RoundTrips()
    before = _command_counts(client)
    with sent:
        for _ in range(repeat):
            fn()
    after = _command_counts(client)
    ran = {n: (after[n] - before.get(n, 0)) / repeat for n in after if n != "info" and after[n] != before.get(n, 0)}
    return sent.count / repeat, dict(sorted(ran.items(), key=lambda kv: -kv[1]))


def checkpoint_commands(url: str) -> dict[str, Any]:
    """What our Redis saver sends per agent turn, per checkpoint step and per ``put`` / ``put_writes`` /
    ``get_tuple`` (round trips counted at the client, commands from the server's INFO commandstats)."""
    saver = checkpointer(url)
    agent = create_agent(ScriptedModel(), tools=[lookup], checkpointer=saver)
    client = saver._redis
    thread = f"commands-{uuid.uuid4().hex[:6]}"
    config = {"configurable": {"thread_id": thread}}

    def turn() -> object:
        return agent.invoke({"messages": [{"role": "user", "content": "look x up"}]}, config)

    for _ in range(3):
        turn()
    steps = len(list(saver.list(config))) / 3
    out: dict[str, Any] = {"checkpoints per turn": steps}
    trips, ran = _commands_of(client, turn)
    out["turn: round trips"] = trips
    out["turn: commands"] = sum(ran.values())
    out["per checkpoint step: round trips"] = trips / steps
    out["per checkpoint step: commands"] = sum(ran.values()) / steps
    out["turn: by command"] = ", ".join(f"{n} {c:g}" for n, c in ran.items())
    found = saver.get_tuple(config)
    direct = {"checkpoint_ns": "", "thread_id": f"{thread}-direct"}
    writes = [("messages", found.checkpoint["channel_values"]["messages"][-1:])]

    def put() -> object:
        checkpoint = {**found.checkpoint, "id": str(uuid6(clock_seq=-2))}
        return saver.put({"configurable": direct}, checkpoint, found.metadata, checkpoint["channel_versions"])

    saved = put()
    ops = {
        "put": put,
        "put_writes": lambda: saver.put_writes(saved, writes, task_id=uuid.uuid4().hex),
        "get_tuple": lambda: saver.get_tuple(saved),
        "get_tuple (latest)": lambda: saver.get_tuple({"configurable": direct}),
    }
    for name, fn in ops.items():
        trips, ran = _commands_of(client, fn)
        out[f"{name}: round trips"] = trips
        out[f"{name}: commands"] = sum(ran.values())
        out[f"{name}: by command"] = ", ".join(f"{n} {c:g}" for n, c in ran.items())
    return out


def _ignore_input(fn: Callable[[], object]) -> Callable[[int], object]:
    return lambda _: fn()


def _write_read(saver: Any, found: Any, run: str) -> Callable[[], object]:
    config = {"configurable": {"thread_id": f"{run}-direct", "checkpoint_ns": ""}}

    def once() -> object:
        checkpoint = {**found.checkpoint, "id": str(uuid6(clock_seq=-2))}
        saved = saver.put(config, checkpoint, found.metadata, checkpoint["channel_versions"])
        return saver.get_tuple(saved)

    return once


def run(
    url: str,
    rounds: int,
    threads: int = 20,
    chunks: int = 100,
    before: types.SimpleNamespace | None = None,
    sections: Sequence[str] = ("checkpoints", "middleware"),
    real: bool = True,
) -> dict[str, Any]:
    """The chosen sections on ``url``, with the machine's load averages before and after."""
    load = [round(x, 2) for x in os.getloadavg()]
    figures: dict[str, Any] = {}
    if "checkpoints" in sections:
        figures["checkpoints"] = checkpoint_section(url, rounds, threads)
        figures["checkpoint commands"] = checkpoint_commands(url)
    if "middleware" in sections:
        figures["middleware"] = middleware_section(url, rounds, chunks, before, real)
        if before is not None:
            figures["middleware"]["before = git revision"] = before.rev  # type: ignore[assignment]
    figures["load average"] = {"before (1/5/15 min)": load, "after": [round(x, 2) for x in os.getloadavg()]}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=20, help="agent threads in the checkpoint section")
    parser.add_argument("--chunks", type=int, default=100, help="FAQ chunks in the RAG middleware's index")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--before", metavar="REV", help="interleave the middleware of this git revision (table embedder)"
    )
    parser.add_argument("--sections", default="checkpoints,middleware", help="comma-separated: checkpoints,middleware")
    parser.add_argument("--no-real-embedder", action="store_true", help="skip the real-embedder middleware pass")
    args = parser.parse_args()
    sections = [x.strip() for x in args.sections.split(",") if x.strip()]
    unknown = set(sections) - {"checkpoints", "middleware"}
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="bench-agents-before-") as folder, EmbeddedRedis() as server:
        before = load_before(args.before, folder) if args.before else None
        figures = run(server.url, args.rounds, args.threads, args.chunks, before, sections, not args.no_real_embedder)
    for section, values in figures.items():
        print(f"\n{section}")
        for name, value in values.items():
            shown = f"{value:10.3f}" if isinstance(value, float | int) else f"{value!s:>10}"
            print(f"  {name:<64} {shown}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
