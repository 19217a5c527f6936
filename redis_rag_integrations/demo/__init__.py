"""The README's demo: RAG over the Python docs with Redis under LangChain and LlamaIndex, with a real LLM.

``make demo`` (or ``python -m redis_rag_integrations.demo``) starts the embedded Redis (unless ``REDIS_URL`` is
set), ingests about 500 chunks of the Python documentation with a progress bar -- the FAQ through LangChain's
splitter, the tutorial through LlamaIndex's, into one index -- then answers questions through a LangChain LCEL
chain (streamed token by token) and a LlamaIndex query engine, with sources and timings; answers a paraphrase from
the question-level semantic cache; and answers a follow-up that only makes sense with the chat history in Redis.

The LLM is whatever :func:`redis_rag_integrations.llm.llm_endpoint` picks: ``OPENAI_BASE_URL`` (any compatible
server), else ``OPENAI_API_KEY`` (OpenAI), else the bundled SmolLM2-135M on llama.cpp, so the demo needs no key and
no network. :func:`run` returns a :class:`DemoSummary` so tests assert on what happened, not on printed text.
"""

from __future__ import annotations

from .run import DemoConfig, main, parse_args, run
from .summary import AnswerReport, ConversationReport, DemoSummary, IngestReport, Source

__all__ = [
    "AnswerReport",
    "ConversationReport",
    "DemoConfig",
    "DemoSummary",
    "IngestReport",
    "Source",
    "main",
    "parse_args",
    "run",
]
