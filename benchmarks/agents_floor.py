"""The floor of the RAG + cache-miss middleware pair: the cheapest agent that does the same Redis work.

Why: "added per model call" mixes three things: LangChain's own cost of running two ``wrap_model_call`` hooks,
one Redis round trip that carries a freshness watch, the cache lookup and both hybrid-search commands (the server's
search work and a ~50 kB reply), and our Python (decoding, fusion, the near-miss verifier, the two exact call keys,
the context block, the write-behind hand-off). Only the last is ours to shrink. So the middleware section also
times, interleaved with the real cases:

* ``two no-op middlewares``: an agent whose two middlewares only call the handler (LangChain's per-hook cost);
* ``floor: rag + cache miss``: the same two hooks, the outer one embedding the question with the same embedder,
  sending the very commands our pipeline sent for that question (captured once, untimed) on a pooled connection
  of the same client with the reply read and left unparsed, and adding a context block of the same passages to
  the system prompt.

``rag + cache miss`` minus the floor is then what our Python costs per model call, and their ratio is the figure
that moves least with the speed of a shared machine. The captured watch (``EVAL``) is replayed on keys of its own,
so the floor's in-flight tokens never meet the real cache's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from redis.connection import AbstractConnection
from redis.exceptions import ResponseError

FLOOR_CASE = "floor: rag + cache miss"
NOOP_CASE = "two no-op middlewares"
#: Where the floor's replayed watch keeps its clock and in-flight set (not the cache's).
FLOOR_KEYS = ("bench-floor:clock", "bench-floor:inflight")


def base_question(text: str) -> str:
    """The question a miss variant ("<question> (variant 12)") was made from."""
    return text.rsplit(" (variant ", 1)[0]


class _Captured:
    """The commands of the last pipeline the calling thread packed (instrumentation: redis-py still packs)."""

    def __init__(self) -> None:
        self.last: list[tuple[Any, ...]] = []
        self._pack: Any = None

    def __enter__(self) -> _Captured:
        self._pack = pack = AbstractConnection.pack_commands
        caller = threading.get_ident()

        def recorded(connection: Any, commands: Any) -> Any:
            commands = list(commands)
            if threading.get_ident() == caller:
                self.last = [tuple(c) for c in commands]
            return pack(connection, commands)

        AbstractConnection.pack_commands = recorded  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        AbstractConnection.pack_commands = self._pack  # type: ignore[method-assign]


def _own_keys(command: tuple[Any, ...]) -> tuple[Any, ...]:
    """``command`` with a watch script's two keys replaced by :data:`FLOOR_KEYS`."""
    if str(command[0]).upper() != "EVAL":
        return command
    return (command[0], command[1], command[2], *FLOOR_KEYS, *command[5:])


def capture_commands(call: Callable[[str], object], questions: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The commands of the single pipelined round trip ``call`` sends for a miss on each question (run twice per
    question: the RAG middleware asks the cache middleware for its lookup from the second model call on)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with _Captured() as seen:
        for question in questions:
            for i in (990, 991):
                call(f"{question} (variant {i})")
            if not any(str(c[0]).upper() == "FT.SEARCH" for c in seen.last):
                raise RuntimeError(f"no search pipeline was captured for {question!r}")
            out[question] = [_own_keys(c) for c in seen.last]
    return out


class _Noop(AgentMiddleware):
    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        return handler(request)


class _NoopInner(_Noop):
    """A second class: ``create_agent`` refuses two middlewares of one name."""


class _FloorRound(AgentMiddleware):
    """Embed the question, send the captured round trip raw, read the replies unparsed, add the context."""

    def __init__(self, embedder: Any, client: Any, commands: dict[str, list[tuple[Any, ...]]], context: dict[str, str]):
        super().__init__()
        self.embedder, self.pool, self.commands, self.context = embedder, client.connection_pool, commands, context

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        question = base_question(request.messages[-1].text)
        self.embedder.embed([request.messages[-1].text])
        commands = self.commands[question]
        connection = self.pool.get_connection()
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            for _ in commands:
                with contextlib.suppress(ResponseError):
                    connection.read_response()
        finally:
            self.pool.release(connection)
        return handler(request.override(system_prompt=self.context[question]))


def floor_agents(
    model: Callable[[], Any], embedder: Any, client: Any, commands: dict[str, list[tuple[Any, ...]]],
    context: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """The two floor agents, by case name (``model`` makes a fresh fake chat model)."""
    return {
        NOOP_CASE: create_agent(model(), middleware=[_Noop(), _NoopInner()]),
        FLOOR_CASE: create_agent(model(), middleware=[_FloorRound(embedder, client, commands, context), _NoopInner()]),
    }


def contexts(store: Any, questions: Sequence[str], k: int = 4) -> dict[str, str]:
    """A context block per question of the size the RAG middleware adds: its ``k`` passages' texts."""
    return {q: "Context:\n\n" + "\n\n".join(d.page_content for d in store.similarity_search(q, k=k)) for q in questions}
