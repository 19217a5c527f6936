"""Whether anyone would see a LangChain retriever run started here: the RAG middleware skips the run's bookkeeping
when nobody listens, and keeps it whenever someone might.

Why: ``BaseRetriever.invoke`` configures a callback manager (the run config's callbacks, tracing, debug, context
hooks), starts a retriever run, calls ``_get_relevant_documents`` and ends the run: about 0.1 ms of each model
call of :class:`~.middleware.RedisRAGMiddleware` (``benchmarks/results/agents.md``), spent for nobody when the
manager ends up with no handler. A run without handlers has no observable effect (no event goes anywhere), so the
middleware may then call ``_get_relevant_documents`` itself with a no-op run manager: the same documents.

When a handler could be attached, the retriever runs through ``invoke`` as before and every handler sees it: the
callbacks in the run config (``agent.invoke(..., {"callbacks": [...]})``, and LangGraph's own handler of
``stream_mode="messages"``), LangSmith / LangChain tracing (environment, ``tracing_context`` /
``tracing_v2_enabled``, a run tree of an enclosing ``@traceable``), ``set_debug(True)``, the context hooks
(``collect_runs()``, ``get_usage_metadata_callback()`` and any registered later), the v1 tracing variables (whose
error ``invoke`` raises), and callbacks set on the retriever itself. The checks mirror the handlers
``langchain_core.callbacks.manager._configure`` (langchain-core 1.x) can add; a langchain-core whose hook list
this module cannot read counts as always observed: the normal path.
"""

from __future__ import annotations

from typing import Any

from langchain_core.globals import get_debug
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.utils.env import env_var_is_set

try:  # the context hooks and the tracer variable: read-only, never changed here
    from langchain_core.tracers.context import _configure_hooks as _HOOKS
    from langchain_core.tracers.context import tracing_v2_callback_var
    from langsmith.utils import tracing_is_enabled
except ImportError:  # pragma: no cover - another langchain-core layout: always take the normal path
    _HOOKS = None

__all__ = ["unobserved"]

_V1_TRACING = ("LANGCHAIN_TRACING", "LANGCHAIN_HANDLER")


def unobserved(local_callbacks: Any = None) -> bool:
    """True only when a run started now, in this context, would get no callback handler at all (so skipping it
    changes nothing anyone can see). ``local_callbacks``: the runnable's own ``callbacks``, if it has any (a
    retriever of langchain-core 1.x has none; counted as listeners when present)."""
    if _HOOKS is None or local_callbacks:
        return False
    config = var_child_runnable_config.get()
    if config:
        callbacks = config.get("callbacks")
        # a list of handlers, or a manager (what LangGraph passes down) holding some
        if callbacks and (isinstance(callbacks, list) or getattr(callbacks, "handlers", True)):
            return False
    if get_debug() or tracing_v2_callback_var.get() is not None or tracing_is_enabled():
        return False
    if any(env_var_is_set(name) for name in _V1_TRACING):
        return False
    for var, _inheritable, handler_class, env_var in _HOOKS:
        if var.get() is not None or (env_var is not None and handler_class is not None and env_var_is_set(env_var)):
            return False
    return True
