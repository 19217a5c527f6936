"""The LlamaIndex side of the demo: a query engine on our vector store, behind ``CachedQueryEngine``.

Timings come from LlamaIndex's own ``LlamaDebugHandler`` (its RETRIEVE and SYNTHESIZE events), so they measure
what the framework did rather than what the demo thinks it did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from llama_index.core import VectorStoreIndex, get_response_synthesizer
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.llms import LLM, ChatMessage, MessageRole
from llama_index.core.prompts import ChatPromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import VectorIndexRetriever
from rich.console import Console
from rich.markup import escape

from ..cache import SemanticCache
from ..llama_index import CachedQueryEngine, RagEmbedding
from .display import ms, note_reuse, print_answer, print_report_footer, sources_from_nodes
from .langchain_rag import SYSTEM_PROMPT
from .summary import AnswerReport

# The same messages as the LangChain side (system instructions, then context and question), so the two frameworks'
# answers are comparable. A chat template, not a text one: sent as one user message, a text template's trailing
# "Answer:" invites a small model to continue the pattern with more "Question: ... Answer: ..." pairs.
QA_TEMPLATE = ChatPromptTemplate(
    message_templates=[
        ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM_PROMPT),
        ChatMessage(role=MessageRole.USER, content="Context:\n{context_str}\n\nQuestion: {query_str}"),
    ]
)


def query_engine(
    index: VectorStoreIndex,
    model: LLM,
    *,
    k: int,
    embed_model: RagEmbedding,
    cache: SemanticCache,
    engine_id: str,
) -> tuple[CachedQueryEngine, LlamaDebugHandler]:
    """A vector query engine answering with ``model``, wrapped in the question-level cache, and its event log."""
    debug = LlamaDebugHandler(print_trace_on_end=False)
    callbacks = CallbackManager([debug])
    model.callback_manager = callbacks  # the LLM events carry the finish reason (cut at max_tokens or not)
    engine = RetrieverQueryEngine(
        retriever=VectorIndexRetriever(index, similarity_top_k=k, callback_manager=callbacks),
        response_synthesizer=get_response_synthesizer(
            llm=model, text_qa_template=QA_TEMPLATE, callback_manager=callbacks
        ),
        callback_manager=callbacks,
    )
    return CachedQueryEngine(engine, embed_model=embed_model, cache=cache, engine_id=engine_id), debug


def _event_seconds(debug: LlamaDebugHandler, event: CBEventType) -> float | None:
    stats = debug.get_event_time_info(event)
    return stats.total_secs if stats.total_count else None


def _finish_reason(debug: LlamaDebugHandler) -> str | None:
    """The model's finish reason from the LLM event payload, when the callback saw one (``length``: cut off)."""
    for _, end in debug.get_llm_inputs_outputs():
        response: Any = (end.payload or {}).get("response")
        raw = getattr(response, "raw", None)
        choices = raw.get("choices") if isinstance(raw, dict) else getattr(raw, "choices", None)
        if choices:
            first = choices[0]
            reason = first.get("finish_reason") if isinstance(first, dict) else getattr(first, "finish_reason", None)
            if reason:
                return str(reason)
    return None


def ask(
    engine: CachedQueryEngine,
    debug: LlamaDebugHandler,
    question: str,
    *,
    console: Console,
    earlier: Sequence[AnswerReport] = (),
) -> AnswerReport:
    """One question through the cached query engine; shows the answer, the sources and the timings."""
    console.print(f"[bold]Q:[/] {escape(question)}")
    debug.flush_event_logs()
    start = time.perf_counter()
    with console.status("retrieving and generating..."):
        response = engine.query(question)
    total = time.perf_counter() - start
    hit = bool((response.metadata or {}).get("cache_hit"))
    answer = str(getattr(response, "response", None) or "")
    retrieve = None if hit else _event_seconds(debug, CBEventType.RETRIEVE)
    generate = None if hit else _event_seconds(debug, CBEventType.SYNTHESIZE)
    truncated = not hit and _finish_reason(debug) == "length"
    print_answer(console, answer, truncated)
    report = AnswerReport(
        framework="LlamaIndex",
        question=question,
        answer=answer,
        sources=sources_from_nodes(response.source_nodes),
        cache_hit=hit,
        cache_lookup_ms=engine.cache.stats.last_lookup_ms,
        total_ms=ms(total),
        retrieve_ms=ms(retrieve) if retrieve is not None else None,
        generate_ms=ms(generate) if generate is not None else None,
        truncated=truncated,
    )
    if hit:
        note_reuse(report, earlier)
    print_report_footer(console, report)
    return report
