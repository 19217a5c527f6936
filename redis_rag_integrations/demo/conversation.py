"""A two-turn conversation through ``RunnableWithMessageHistory`` with our ``RedisChatMessageHistory``.

The second question ("And how do I close it?") only makes sense after the first: the history from Redis goes into
the prompt, and the previous question goes into the search (see :func:`~.langchain_rag.contextual_query`). The
demo also shows what the follow-up alone would have retrieved, so the difference the history makes is visible.

Conversations are not put behind the question-level cache: "And how do I close it?" means something else in every
conversation, so caching it on its text alone would serve wrong answers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnablePassthrough
from langchain_core.runnables.history import RunnableWithMessageHistory
from rich.console import Console
from rich.markup import escape

from ..history import ChatHistoryStore
from ..langchain import RedisChatMessageHistory
from .display import answer_note, ms, print_report_footer, print_sources, sources_from_documents
from .langchain_rag import StepTimer, contextual_query, rag_chain, streaming_printer
from .summary import AnswerReport, ConversationReport


def conversation_chain(retriever: BaseRetriever, model: BaseChatModel, store: ChatHistoryStore) -> Runnable:
    """RAG with memory: ``{"question"}`` in, ``{"answer", "context", "search_query", "history_seen"}`` out.

    Every session's history lives in ``store`` (one connection pool for all of them).
    """
    chain = (
        RunnablePassthrough.assign(
            search_query=contextual_query, history_seen=lambda inputs: len(inputs.get("history") or [])
        )
        | rag_chain(retriever, model, search_key="search_query")
    ).pick(["answer", "context", "search_query", "history_seen"])
    return RunnableWithMessageHistory(
        chain,
        lambda session_id: RedisChatMessageHistory(session_id, store=store),
        input_messages_key="question",
        history_messages_key="history",
        output_messages_key="answer",
    )


def converse(
    chain: Runnable,
    retriever: BaseRetriever,
    questions: Sequence[str],
    *,
    session_id: str,
    store: ChatHistoryStore,
    console: Console,
) -> ConversationReport:
    """Ask ``questions`` in one session; stream each answer; report what each turn got from the history."""
    history = RedisChatMessageHistory(session_id, store=store)
    history.clear()  # a re-run starts a new conversation
    turns: list[AnswerReport] = []
    seen: list[int] = []
    queries: list[str] = []
    config: RunnableConfig = {"configurable": {"session_id": session_id}}
    for question in questions:
        console.print(f"[bold]Q:[/] {escape(question)}")
        console.print("[bold green]A:[/] ", end="")
        timer = StepTimer(on_token=streaming_printer(console))
        start = time.perf_counter()
        output = chain.invoke({"question": question}, {**config, "callbacks": [timer]})
        total = time.perf_counter() - start
        answer = str(output.get("answer") or "")
        truncated = timer.finish_reason == "length"
        console.print(f" {answer_note(answer, truncated)}")
        console.print(
            f"[dim]history from Redis: {output['history_seen']} messages; "
            f"retriever searched: {escape(repr(output['search_query']))}[/]"
        )
        report = AnswerReport(
            framework="LangChain chat",
            question=question,
            answer=answer,
            sources=sources_from_documents(output.get("context") or []),
            cache_hit=False,
            cache_lookup_ms=None,
            total_ms=ms(total),
            retrieve_ms=ms(timer.retrieve_s),
            generate_ms=ms(timer.generate_s),
            first_token_ms=ms(timer.first_token_s) if timer.first_token_s is not None else None,
            truncated=truncated,
        )
        print_report_footer(console, report)
        turns.append(report)
        seen.append(int(output["history_seen"]))
        queries.append(str(output["search_query"]))
    alone = sources_from_documents(retriever.invoke(questions[-1])) if len(questions) > 1 else []
    if alone:
        console.print(f"[dim]Without the history the retriever would have searched {escape(repr(questions[-1]))}:[/]")
        print_sources(console, alone)
    stored = len(history.messages)
    console.print(f"[dim]The session {session_id!r} in Redis now holds {stored} messages.[/]")
    return ConversationReport(
        session_id=session_id,
        turns=turns,
        history_seen=seen,
        search_queries=queries,
        sources_without_history=alone,
        stored_messages=stored,
    )
