"""Agent memory and middleware costs: the Redis checkpointer against LangGraph's ``InMemorySaver``, and what the RAG
and semantic-cache middleware add to each model call of a ``create_agent`` loop.

Standalone (not part of ``make bench``: it needs the ``agents`` extra and measures an integration, not a target):
``python -m benchmarks.bench_agents [--rounds 10] [--json out.json]``. It starts its own embedded Redis.

1. **Checkpoints.** A tool-calling agent turn (model -> tool -> model, a scripted model: no LLM time) runs on 20
   threads that grow turn by turn, with no checkpointer, with ``InMemorySaver`` and with our Redis saver,
   interleaved turn by turn. The checkpointing cost per agent step is ``(turn - turn without checkpointer) /
   steps``; a second figure times one ``put`` + ``get_tuple`` of a real 20-message checkpoint directly.
2. **Middleware.** A one-call agent (scripted model) with: nothing, ``RedisRAGMiddleware`` (hybrid, k=4, over 100
   Python-FAQ chunks, the real MiniLM query embedding), ``SemanticCacheMiddleware`` on a miss (new question every
   call: lookup + store) and on a hit, and both. Added latency = p50 of the case minus p50 of the bare agent. The
   query embedding's own p50 is printed beside them: most of the added time is that embedding.
"""

from __future__ import annotations

import argparse
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver

from benchmarks.timing import interleaved, percentiles, timed
from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.datasets import docs_available, python_docs
from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.langchain import RagEmbeddings, RedisVectorStore
from redis_rag_integrations.langchain.agent_cache import SemanticCacheMiddleware
from redis_rag_integrations.langchain.agents import checkpointer
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


class ScriptedModel(BaseChatModel):
    """No LLM time: calls ``lookup`` once after a user message when ``tools`` is set, then answers."""

    tools: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted-bench"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        if self.tools and isinstance(messages[-1], HumanMessage):
            call = {"name": "lookup", "args": {"query": "x"}, "id": f"call_{uuid.uuid4().hex[:12]}"}
            message = AIMessage("", tool_calls=[call])
        else:
            message = AIMessage("Here is the answer.")
        return ChatResult(generations=[ChatGeneration(message=message)])


@tool
def lookup(query: str) -> str:
    """Look the query up."""
    return f"result for {query}"


def p50(samples: list[float]) -> float:
    return percentiles(samples)["p50"]


def checkpoint_section(url: str, rounds: int) -> dict[str, float]:
    savers: dict[str, Any] = {"none": None, "in-memory": InMemorySaver(), "redis": checkpointer(url)}
    agents = {
        name: create_agent(ScriptedModel(tools=True), tools=[lookup], checkpointer=s) for name, s in savers.items()
    }
    run = uuid.uuid4().hex[:6]

    def turn(name: str) -> Callable[[int], object]:
        config = {"configurable": {"thread_id": f"{run}-{name}-"}}

        def call(thread: int) -> object:
            cfg = {"configurable": {"thread_id": config["configurable"]["thread_id"] + str(thread)}}
            return agents[name].invoke({"messages": [{"role": "user", "content": "look x up"}]}, cfg)

        return call

    samples = interleaved({name: turn(name) for name in agents}, list(range(20)), rounds=rounds, warmup=5)
    probe = {"configurable": {"thread_id": f"{run}-in-memory-0"}}
    steps = len(list(agents["in-memory"].get_state_history(probe))) / (rounds + 1)  # warm-up turn included
    out = {f"turn p50 ms, {name}": p50(s) for name, s in samples.items()}
    out["checkpoints per turn"] = steps
    for name in ("in-memory", "redis"):
        out[f"checkpointing per step ms, {name}"] = (p50(samples[name]) - p50(samples["none"])) / steps
    out["checkpointing per step, redis / in-memory"] = (
        out["checkpointing per step ms, redis"] / out["checkpointing per step ms, in-memory"]
    )
    # one put + get_tuple of the latest checkpoint of a thread with ~20 messages, side by side
    found = savers["in-memory"].get_tuple(probe)
    direct = {name: _write_read(savers[name], found, run) for name in ("in-memory", "redis")}
    for name, fn in direct.items():
        out[f"put+get_tuple p50 ms, {name}"] = p50(timed(fn, rounds=200, warmup=20))
    out["put+get_tuple, redis / in-memory"] = (
        out["put+get_tuple p50 ms, redis"] / out["put+get_tuple p50 ms, in-memory"]
    )
    out["messages in that checkpoint"] = len(found.checkpoint["channel_values"]["messages"])
    return out


def _write_read(saver: Any, found: Any, run: str) -> Callable[[], object]:
    config = {"configurable": {"thread_id": f"{run}-direct", "checkpoint_ns": ""}}

    def once() -> object:
        checkpoint = {**found.checkpoint, "id": str(uuid6(clock_seq=-2))}
        saved = saver.put(config, checkpoint, found.metadata, checkpoint["channel_versions"])
        return saver.get_tuple(saved)

    return once


def middleware_section(url: str, rounds: int) -> dict[str, float]:
    embedder = LocalEmbedder()
    run = uuid.uuid4().hex[:6]
    store = RedisVectorStore(
        RagEmbeddings(embedder), f"bench-agents-{run}", redis_url=url, settings=Settings(redis_url=url)
    )
    pages = python_docs(sections=("faq",)) if docs_available() else python_docs()[:20]
    store.add_documents(split_documents(pages)[:100])
    rag = RedisRAGMiddleware(store, k=4)
    miss_cache = SemanticCacheMiddleware(embeddings=embedder, name=f"bench-miss-{run}", redis_url=url)
    hit_cache = SemanticCacheMiddleware(embeddings=embedder, name=f"bench-hit-{run}", redis_url=url)
    counter = itertools.count()
    agents = {
        "bare": create_agent(ScriptedModel()),
        "rag": create_agent(ScriptedModel(), middleware=[rag]),
        "cache miss": create_agent(ScriptedModel(), middleware=[miss_cache]),
        "cache hit": create_agent(ScriptedModel(), middleware=[hit_cache]),
        "rag + cache hit": create_agent(ScriptedModel(), middleware=[rag, hit_cache]),
    }

    def case(name: str) -> Callable[[str], object]:
        def call(question: str) -> object:
            text = f"{question} (variant {next(counter)})" if name == "cache miss" else question
            return agents[name].invoke({"messages": [{"role": "user", "content": text}]})

        return call

    try:
        for question in QUESTIONS:  # prime the hit caches
            case("cache hit")(question)
            case("rag + cache hit")(question)
        samples = interleaved({name: case(name) for name in agents}, QUESTIONS, rounds=rounds, warmup=3)
        embed = timed(lambda: embedder.embed([QUESTIONS[0]]), rounds=100, warmup=5)
        bare = p50(samples["bare"])
        out = {"bare agent call p50 ms": bare, "query embedding p50 ms": p50(embed)}
        for name in agents:
            if name != "bare":
                out[f"added per model call ms, {name}"] = p50(samples[name]) - bare
        assert hit_cache.stats.hits >= len(QUESTIONS) * rounds, "the hit cases must really hit"
        return out
    finally:
        store.index.drop()
        miss_cache.core.delete_index()
        hit_cache.core.delete_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        figures = {
            "checkpoints": checkpoint_section(server.url, args.rounds),
            "middleware": middleware_section(server.url, args.rounds),
        }
    for section, values in figures.items():
        print(f"\n{section}")
        for name, value in values.items():
            print(f"  {name:<48} {value:10.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
