"""What the demo did, as data: the console shows it to a person, the tests assert on it, ``--summary-json`` saves it.

Every step returns one of these records instead of only printing, so that "the paraphrase was a cache hit" or
"the follow-up used the history" is a checked fact rather than something read off a terminal.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    """One retrieved chunk: its id in the shared index, its page and title, and which framework wrote it."""

    id: str
    page: str
    title: str
    ingested_with: str


@dataclass
class AnswerReport:
    """One question answered by one framework, with where the time went.

    ``retrieve_ms`` / ``generate_ms`` are ``None`` on a cache hit (neither ran); ``first_token_ms`` is the time from
    the request to the first streamed token (LangChain only). ``truncated`` says the model hit ``max_tokens``.
    """

    framework: str
    question: str
    answer: str
    sources: list[Source]
    cache_hit: bool
    cache_lookup_ms: float | None  # None: not behind a cache (the conversation)
    total_ms: float
    retrieve_ms: float | None = None
    generate_ms: float | None = None
    first_token_ms: float | None = None
    truncated: bool = False
    saved_ms: float | None = None  # on a hit: the original answer's time minus this one's
    cached_question: str | None = None  # on a hit: the earlier question whose answer was reused


@dataclass
class IngestReport:
    """How the corpus got into the one shared index."""

    corpus: str  # "python3.11-doc HTML" or "pydoc_data.topics"
    index: str
    langchain_pages: int
    langchain_chunks: int
    llama_index_pages: int
    llama_index_chunks: int
    seconds: float
    documents_in_index: int


@dataclass
class ConversationReport:
    """Two turns through ``RunnableWithMessageHistory``; the second only makes sense with the first."""

    session_id: str
    turns: list[AnswerReport]
    history_seen: list[int]  # messages the chain got from Redis at each turn (0, then 2)
    search_queries: list[str]  # what the retriever searched at each turn (the follow-up's includes turn one)
    sources_without_history: list[Source]  # what the follow-up alone would have retrieved
    stored_messages: int  # messages in the Redis session afterwards


@dataclass
class LLMInfo:
    kind: str
    base_url: str
    model: str
    timeout: float


@dataclass
class DemoSummary:
    redis_url: str
    llm: LLMInfo
    ingest: IngestReport
    langchain: list[AnswerReport] = field(default_factory=list)
    llama_index: list[AnswerReport] = field(default_factory=list)
    conversation: ConversationReport | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
