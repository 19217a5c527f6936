"""``redis-rag ingest`` and ``redis-rag worker``."""

from __future__ import annotations

import argparse
import signal

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..embeddings import default_embedder
from ..errors import RedisRagError
from ..settings import get_settings
from ..store.index import RedisVectorIndex
from .chunking import make_splitter
from .events import upsert_event
from .files import iter_files, read_document
from .producer import Producer
from .worker import Worker, WorkerStats


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )


def _worker(args: argparse.Namespace) -> Worker:
    embedder = default_embedder()
    index = RedisVectorIndex(args.index or get_settings().index_name, dims=embedder.dims, tenant=args.tenant)
    splitter = make_splitter(args.splitter, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
    return Worker(index, embedder, splitter=splitter, batch_size=args.batch_size)


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not args.inline and settings.redis_url is None and settings.local_server == "private":
        raise RedisRagError(
            "REDIS_URL is not set and REDIS_RAG_LOCAL_SERVER=private: published documents would vanish with this "
            "command's private server. Use --inline to index them now, set REDIS_URL to the Redis your workers "
            "read, or unset REDIS_RAG_LOCAL_SERVER to use the persistent local server."
        )
    files = list(iter_files(args.paths))
    producer = Producer(args.index, tenant=args.tenant)
    worker = _worker(args) if args.inline else None
    with _progress() as progress:
        task = progress.add_task("publishing", total=len(files))
        batch = []
        for file, root in files:
            doc_id, text, metadata = read_document(file, root)
            batch.append(upsert_event(doc_id, text, metadata))
            if len(batch) == 100:
                producer.publish(batch)
                progress.advance(task, len(batch))
                batch = []
        producer.publish(batch)
        progress.advance(task, len(batch))
        if worker is not None:
            done = progress.add_task("indexing", total=producer.backlog())
            worker.run(until_idle=True, on_batch=lambda n: progress.advance(done, n))
    index = args.index or settings.index_name
    print(f"published {len(files)} documents to {producer.keys.events}")
    if worker is None:
        print(f"run `redis-rag worker --index {index}` to index them (with the same REDIS_URL)")
    else:
        print(summary(worker.stats))
    return 0


def summary(stats: WorkerStats) -> str:
    """What a run did, in one line: every command ends by saying it."""
    return (
        f"indexed {stats.indexed} documents ({stats.chunks_written} chunks), deleted {stats.deleted}, "
        f"{stats.skipped_unchanged} unchanged, {stats.skipped_stale} superseded, {stats.dead_lettered} dead-lettered"
    )


def cmd_worker(args: argparse.Namespace) -> int:
    worker = _worker(args)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())
    print(f"worker {worker.consumer} indexing {worker.keys.events} into {worker.index.name!r} (Ctrl-C stops)")
    print(summary(worker.run()))
    return 0


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=None, help="index name (default: settings' index_name)")
    p.add_argument("--tenant", default=None, help="the tenant whose index and stream to use (default: none)")
    p.add_argument("--splitter", choices=["langchain", "llama_index"], default="langchain")
    p.add_argument("--chunk-size", type=int, default=1000)
    p.add_argument("--chunk-overlap", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=32, help="events per worker batch")


def add_ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="files or folders (txt, md, html)")
    p.add_argument("--inline", action="store_true", help="also index them now in this process (no worker needed)")
    add_common(p)
