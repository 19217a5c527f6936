"""The LangChain side of the demo: an LCEL RAG chain on our hybrid retriever, behind ``CachedRAGChain``.

The answer streams to the console token by token through a callback handler, because ``CachedRAGChain`` (like any
cache) returns whole outputs: the chain inside it still streams from the model, and the handler sees each token
as it arrives. The same handler times the retriever and the model, so the demo reports measured steps, not guesses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnablePassthrough
from rich.console import Console
from rich.markup import escape

from ..langchain import CachedRAGChain
from .display import answer_note, ms, note_reuse, print_report_footer, sources_from_documents
from .summary import AnswerReport

SYSTEM_PROMPT = (
    "You are a helpful assistant for Python programmers. Use the context from the Python documentation to answer "
    "the question briefly, in one or two sentences. If the context does not answer it, say that you do not know."
)


def rag_prompt() -> ChatPromptTemplate:
    """System instructions, the conversation so far (empty outside a chat), then the context and the question."""
    return ChatPromptTemplate.from_messages(
        [
            ("system", SYSTEM_PROMPT),
            MessagesPlaceholder("history", optional=True),
            ("human", "Context:\n{context_text}\n\nQuestion: {question}"),
        ]
    )


def format_context(docs: Sequence[Document]) -> str:
    return "\n\n".join(f"[{doc.metadata.get('title', '')}]\n{doc.page_content}" for doc in docs)


def rag_chain(retriever: BaseRetriever, model: BaseChatModel, *, search_key: str = "question") -> Runnable:
    """``{"question"} -> {"answer", "context"}``: retrieve on ``search_key``, then answer from the context.

    The output keeps the retrieved ``Document`` objects, so ``CachedRAGChain`` can restore the sources on a hit and
    link the cached answer to the documents it came from (an update of one of them drops the answer).
    """
    generate = rag_prompt() | model | StrOutputParser()
    return (
        RunnablePassthrough.assign(context=itemgetter(search_key) | retriever)
        .assign(context_text=lambda inputs: format_context(inputs["context"]))
        .assign(answer=generate)
    )


def answer_and_sources(chain: Runnable) -> Runnable:
    """Only what a cached answer needs: the text and the documents (not the prompt-sized context string)."""
    return chain.pick(["answer", "context"])


class StepTimer(BaseCallbackHandler):
    """Times the retriever and the chat model of one chain run and passes each streamed token to ``on_token``."""

    def __init__(self, on_token: Callable[[str], None] | None = None) -> None:
        self.on_token = on_token
        self.reset()

    def reset(self) -> None:
        self.retrieve_s = 0.0
        self.generate_s = 0.0
        self.first_token_s: float | None = None
        self.finish_reason: str | None = None
        self.retrieved = False
        self.generated = False
        self._starts: dict[UUID, float] = {}
        self._llm_start: float | None = None

    def on_retriever_start(self, serialized: dict[str, Any], query: str, *, run_id: UUID, **kwargs: Any) -> None:
        self._starts[run_id] = time.perf_counter()

    def on_retriever_end(self, documents: Sequence[Document], *, run_id: UUID, **kwargs: Any) -> None:
        self.retrieved = True
        self.retrieve_s += time.perf_counter() - self._starts.pop(run_id, time.perf_counter())

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._llm_start = self._starts[run_id] = time.perf_counter()

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        if not token:
            return
        if self.first_token_s is None and self._llm_start is not None:
            self.first_token_s = time.perf_counter() - self._llm_start
        if self.on_token is not None:
            self.on_token(token)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.generated = True
        self.generate_s += time.perf_counter() - self._starts.pop(run_id, time.perf_counter())
        for generations in response.generations:
            for generation in generations:
                info = dict(generation.generation_info or {})
                message = getattr(generation, "message", None)
                if message is not None:
                    info.update(message.response_metadata or {})
                if info.get("finish_reason"):
                    self.finish_reason = str(info["finish_reason"])


def streaming_printer(console: Console) -> Callable[[str], None]:
    def emit(token: str) -> None:
        console.print(escape(token), end="", soft_wrap=True, highlight=False)

    return emit


def ask(
    rag: CachedRAGChain,
    question: str,
    *,
    console: Console,
    earlier: Sequence[AnswerReport] = (),
    framework: str = "LangChain",
) -> AnswerReport:
    """One question through the cached chain: stream a fresh answer, or show the cached one, then sources and times."""
    console.print(f"[bold]Q:[/] {escape(question)}")
    console.print("[bold green]A:[/] ", end="")
    timer = StepTimer(on_token=streaming_printer(console))
    hits = rag.cache.stats.hits
    config: RunnableConfig = {"callbacks": [timer], "run_name": "demo-rag"}
    start = time.perf_counter()
    output = rag.invoke({"question": question}, config)
    total = time.perf_counter() - start
    hit = rag.cache.stats.hits > hits
    answer = str(output.get("answer") or "")
    truncated = timer.finish_reason == "length"
    if hit or not timer.generated:
        console.print(f"{escape(answer.strip())} {answer_note(answer, truncated)}")
    else:
        console.print(f" {answer_note(answer, truncated)}")
    report = AnswerReport(
        framework=framework,
        question=question,
        answer=answer,
        sources=sources_from_documents(output.get("context") or []),
        cache_hit=hit,
        cache_lookup_ms=rag.cache.stats.last_lookup_ms,
        total_ms=ms(total),
        retrieve_ms=ms(timer.retrieve_s) if timer.retrieved else None,
        generate_ms=ms(timer.generate_s) if timer.generated else None,
        first_token_ms=ms(timer.first_token_s) if timer.first_token_s is not None else None,
        truncated=truncated,
    )
    if hit:
        note_reuse(report, earlier)
    print_report_footer(console, report)
    return report


def last_user_turn(history: Sequence[BaseMessage]) -> str:
    """The latest question the user asked before this one ('' in a new conversation)."""
    for message in reversed(history):
        if isinstance(message, HumanMessage):
            return message.text if isinstance(message.text, str) else str(message.content)
    return ""


def contextual_query(inputs: dict[str, Any]) -> str:
    """What the retriever searches for in a conversation: the previous question plus this one.

    "And how do I close it?" alone matches nothing useful; with "How do I open a file for reading?" before it, the
    search finds the page about files. Deterministic on purpose: asking a 135M model to rewrite the question would
    fail too often to demonstrate anything.
    """
    previous = last_user_turn(inputs.get("history") or [])
    return f"{previous} {inputs['question']}".strip()
