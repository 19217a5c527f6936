"""Split documents into chunks with the frameworks' own splitters, with chunk ids derived from the document id.

Deriving ids (``{doc_id}#{n}``) rather than drawing random ones is what makes ingestion idempotent: replaying an
event rewrites the same keys instead of adding copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Splitter = Callable[[str], list[str]]


def chunk_id(doc_id: str, n: int) -> str:
    return f"{doc_id}#{n}"


def make_splitter(
    kind: Literal["langchain", "llama_index"] = "langchain", chunk_size: int = 1000, chunk_overlap: int = 150
) -> Splitter:
    """A text -> chunks function backed by LangChain's RecursiveCharacterTextSplitter (characters) or
    LlamaIndex's SentenceSplitter (tokens)."""
    if chunk_size <= 0 or not 0 <= chunk_overlap < chunk_size:
        raise ValueError(f"need chunk_size > 0 and 0 <= chunk_overlap < chunk_size, got {chunk_size}, {chunk_overlap}")
    # Imported here, not at the top: the ingest core must not need either framework (each is an extra).
    if kind == "langchain":
        try:
            from langchain_text_splitters import RecursiveCharacterTextSplitter
        except ImportError as exc:
            raise ImportError(_missing("langchain", "langchain-text-splitters", other="llama_index")) from exc

        lc = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        return lc.split_text
    if kind == "llama_index":
        try:
            from llama_index.core.node_parser import SentenceSplitter
        except ImportError as exc:
            raise ImportError(_missing("llama-index", "llama-index-core", other="langchain")) from exc

        li = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        return li.split_text
    raise ValueError(f"splitter kind must be 'langchain' or 'llama_index', got {kind!r}")


def _missing(extra: str, package: str, other: str) -> str:
    return (
        f"this splitter needs {package}: pip install 'redis-rag-integrations[{extra}]' "
        f"(or use make_splitter({other!r}), or pass your own text -> chunks function)"
    )
