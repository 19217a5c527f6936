"""Streaming ingestion through Redis Streams: producers publish document events, workers index them.

>>> producer = Producer("docs")
>>> producer.upsert("guide.md", text, {"team": "docs"})      # searchable within a second once a worker runs
>>> Worker(index, embedder).run()                             # or: redis-rag worker --index docs
"""

from .chunking import chunk_id, make_splitter
from .events import DocumentEvent, PoisonEvent, StreamKeys, decode_event, delete_event, upsert_event
from .producer import BackpressureError, Producer, backlog
from .worker import Worker, WorkerStats

__all__ = [
    "BackpressureError",
    "DocumentEvent",
    "PoisonEvent",
    "Producer",
    "StreamKeys",
    "Worker",
    "WorkerStats",
    "backlog",
    "chunk_id",
    "decode_event",
    "delete_event",
    "make_splitter",
    "upsert_event",
]
