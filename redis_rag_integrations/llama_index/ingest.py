"""Publish LlamaIndex ``Document``s (readers, ``IngestionPipeline`` output) to the streaming ingestion pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from llama_index.core.schema import BaseNode, MetadataMode

from ..ingest import Producer, upsert_event


def publish_documents(producer: Producer, documents: Iterable[BaseNode]) -> list[str]:
    """Publish each document (or node) as an upsert keyed by its id; the workers chunk, embed and index it.

    Nodes that already went through an ``IngestionPipeline`` are published as they are: each is one document
    whose id is the node id, and the worker's splitter leaves a chunk-sized text whole.
    """
    events = [
        upsert_event(node.node_id, node.get_content(metadata_mode=MetadataMode.NONE), dict(node.metadata))
        for node in documents
    ]
    return producer.publish(events)
