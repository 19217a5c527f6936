"""The Python docs corpus as LlamaIndex ``Document`` objects and ``TextNode`` chunks (``SentenceSplitter``).

Node ids are ``<source>#<n>`` and ``ref_doc_id`` is the page's source path: stable across runs, so re-ingesting
overwrites instead of duplicating, and ``delete_ref_doc(<page>)`` removes a page's chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llama_index.core import Document
from llama_index.core.schema import BaseNode

from ..datasets import TextDocument

DEFAULT_CHUNK_SIZE = 256  # tokens: about 1000 characters, like the LangChain side
DEFAULT_CHUNK_OVERLAP = 25


def _node_id(i: int, doc: BaseNode) -> str:
    """``<page>#<n>``: ``i`` counts the splits of one document."""
    return f"{doc.node_id}#{i}"


def to_documents(docs: Iterable[TextDocument]) -> list[Document]:
    """One LlamaIndex ``Document`` per page (``id_`` = the page's source path)."""
    return [Document(text=d["text"], metadata=dict(d["metadata"]), id_=d["id"]) for d in docs]


def split_documents(
    docs: Iterable[TextDocument],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    **splitter_kwargs: Any,
) -> list[BaseNode]:
    """Pages split into nodes with ``SentenceSplitter``; each node keeps its page's metadata."""
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, id_func=_node_id, **splitter_kwargs)
    return splitter.get_nodes_from_documents(to_documents(docs))
