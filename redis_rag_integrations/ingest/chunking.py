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
    if kind == "langchain":
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        lc = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        return lc.split_text
    if kind == "llama_index":
        from llama_index.core.node_parser import SentenceSplitter

        li = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        return li.split_text
    raise ValueError(f"splitter kind must be 'langchain' or 'llama_index', got {kind!r}")
