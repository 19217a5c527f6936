"""The Python docs corpus as LangChain ``Document`` chunks, split by LangChain's own splitter.

Chunk ids are ``<source>#<n>``: stable across runs, so re-ingesting the corpus overwrites instead of duplicating,
and a chunk's page is readable from its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.documents import Document

from ..datasets import TextDocument

DEFAULT_CHUNK_SIZE = 1000  # characters: about 250 tokens, so 4 chunks + question fit the local model's window
DEFAULT_CHUNK_OVERLAP = 100


def to_documents(docs: Iterable[TextDocument]) -> list[Document]:
    """One LangChain ``Document`` per page, unsplit (``id`` = the page's source path)."""
    return [Document(page_content=d["text"], metadata=dict(d["metadata"]), id=d["id"]) for d in docs]


def split_documents(
    docs: Iterable[TextDocument],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    **splitter_kwargs: Any,
) -> list[Document]:
    """Pages split with ``RecursiveCharacterTextSplitter`` (paragraphs first, then lines, then words).

    Each chunk keeps its page's metadata plus ``doc_id`` (the page), ``chunk`` (its position) and ``start_index``
    (its character offset in the page).
    """
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True, **splitter_kwargs
    )
    chunks: list[Document] = []
    for page in to_documents(docs):
        for n, chunk in enumerate(splitter.split_documents([page])):
            chunk.metadata.update(doc_id=page.id, chunk=n)
            chunk.id = f"{page.id}#{n}"
            chunks.append(chunk)
    return chunks
