"""One conversation, two frameworks: a LangGraph thread (checkpointer) as a shared history session, and back.

LangChain 1.x agents keep their messages in checkpoints, per ``thread_id``; LlamaIndex (``RedisChatStore``,
``Memory``) and our ``RedisChatMessageHistory`` read sessions of the history core
(:class:`~redis_rag_integrations.history.ChatHistoryStore`, ``chat:{session_id}``). Checkpoints are LangGraph's
private format, so the bridge copies messages, exactly (tool calls, tool results, ids, metadata), rather than
teaching LlamaIndex to read checkpoints:

* :class:`SessionMirrorMiddleware` -- ``create_agent(..., middleware=[SessionMirrorMiddleware()])``: after every
  agent run the thread's messages are written to the session named by the ``thread_id`` (or ``session_id_of``),
  so LlamaIndex sees the conversation as it stands. The session is *replaced* by the thread's messages, not
  appended to: edits LangGraph makes (summaries, removed messages) show up as they are.
* :func:`export_thread_to_session` -- the same, once, from the agent's saved state (for threads made without it).
* :func:`seed_thread_from_session` -- start a new thread from an existing session (a conversation begun in
  LlamaIndex continues in a LangChain agent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, AgentState
from langgraph.config import get_config
from langgraph.runtime import Runtime

from ..errors import RedisRagError
from ..history import ChatHistoryStore, check_session_id
from .history import from_stored, to_stored

__all__ = [
    "SessionMirrorMiddleware",
    "ThreadExistsError",
    "UnknownThreadError",
    "export_thread_to_session",
    "seed_thread_from_session",
]


class UnknownThreadError(RedisRagError, LookupError):
    """The checkpointer has no state for this thread (a typo in the id, or a thread that expired)."""


class ThreadExistsError(RedisRagError, ValueError):
    """Seeding would overwrite a thread that already has messages."""


def _config(thread_id: str) -> dict[str, Any]:
    if not isinstance(thread_id, str) or not thread_id:
        raise ValueError(f"thread_id must be a non-empty string, got {thread_id!r}")
    return {"configurable": {"thread_id": thread_id}}


def export_thread_to_session(
    agent: Any, thread_id: str, *, session_id: str | None = None, history: ChatHistoryStore | None = None
) -> int:
    """Write the messages of ``thread_id`` (read through ``agent``'s checkpointer) to the shared session
    ``session_id`` (default: the thread id), replacing what it held; returns the number of messages.

    Raises :class:`UnknownThreadError` when the checkpointer has nothing for the thread.
    """
    state = agent.get_state(_config(thread_id))
    if state.created_at is None:
        raise UnknownThreadError(f"no checkpoint for thread_id {thread_id!r}: nothing to export")
    messages = state.values.get("messages", [])
    (history or ChatHistoryStore()).replace(session_id or thread_id, [to_stored(m) for m in messages])
    return len(messages)


def seed_thread_from_session(
    agent: Any,
    thread_id: str,
    *,
    session_id: str | None = None,
    history: ChatHistoryStore | None = None,
    as_node: str = "model",
) -> int:
    """Start ``thread_id`` with the messages of the shared session ``session_id`` (default: the thread id);
    returns how many. The state is recorded as written by ``as_node`` (``create_agent``'s model node), so the
    thread waits for the next user message. Refuses (:class:`ThreadExistsError`) to overwrite a thread that has
    messages; raises :class:`LookupError` for an empty or missing session.
    """
    config = _config(thread_id)
    if agent.get_state(config).values.get("messages"):
        raise ThreadExistsError(f"thread {thread_id!r} already has messages; seed a new thread id")
    session = session_id or thread_id
    stored = (history or ChatHistoryStore()).read(session)
    if not stored:
        raise LookupError(f"chat session {session!r} is empty or does not exist")
    agent.update_state(config, {"messages": [from_stored(m) for m in stored]}, as_node=as_node)
    return len(stored)


class SessionMirrorMiddleware(AgentMiddleware):
    """After each agent run, the thread's messages become the shared session (see the module docstring).

    ``session_id_of`` maps a thread id to a session id (default: the same string). The write is one atomic
    replace of the session, so readers never see half a conversation.
    """

    def __init__(
        self, history: ChatHistoryStore | None = None, *, session_id_of: Callable[[str], str] | None = None
    ) -> None:
        super().__init__()
        self.history = history or ChatHistoryStore()
        self.session_id_of = session_id_of or (lambda thread_id: thread_id)

    def _session(self) -> str | None:
        thread_id = (get_config().get("configurable") or {}).get("thread_id")
        return None if thread_id is None else check_session_id(self.session_id_of(str(thread_id)))

    def before_agent(self, state: AgentState, runtime: Runtime) -> dict[str, Any] | None:
        """Refuse a thread id that cannot name a session before the model runs, not after it answered."""
        self._session()
        return None

    async def abefore_agent(self, state: AgentState, runtime: Runtime) -> dict[str, Any] | None:
        self._session()
        return None

    def after_agent(self, state: AgentState, runtime: Runtime) -> dict[str, Any] | None:
        session = self._session()
        if session is not None:
            self.history.replace(session, [to_stored(m) for m in state["messages"]])
        return None

    async def aafter_agent(self, state: AgentState, runtime: Runtime) -> dict[str, Any] | None:
        session = self._session()
        if session is not None:
            await self.history.areplace(session, [to_stored(m) for m in state["messages"]])
        return None
