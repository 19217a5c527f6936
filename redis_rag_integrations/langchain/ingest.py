"""Publish LangChain ``Document``s (from any loader) to the streaming ingestion pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from langchain_core.documents import Document

from ..ingest import Producer, upsert_event


def publish_documents(producer: Producer, documents: Iterable[Document], *, id_key: str = "source") -> list[str]:
    """Publish each document as an upsert; the workers chunk, embed and index it.

    The document id is ``Document.id`` when set, else ``metadata[id_key]`` (loaders put the file path or URL
    there), so re-publishing the same source replaces its chunks instead of adding copies. A document with
    neither is rejected before anything is published.
    """
    events = []
    for n, doc in enumerate(documents):
        doc_id = doc.id or doc.metadata.get(id_key)
        if not doc_id:
            raise ValueError(f"document #{n} has no id and no metadata[{id_key!r}]: set Document.id")
        events.append(upsert_event(str(doc_id), doc.page_content, dict(doc.metadata)))
    return producer.publish(events)
