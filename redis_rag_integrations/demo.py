"""The README's demo: an embedded Redis, real documents, a retrieval query. Grows with the package.

Run with ``make demo`` (or ``python -m redis_rag_integrations.demo``). No key, no network: the embedded Redis and
the packaged all-MiniLM-L6-v2 model do everything locally.
"""

from __future__ import annotations

import time
from pydoc_data.topics import topics

from redisvl.index import SearchIndex
from redisvl.query import VectorQuery
from rich.console import Console
from rich.table import Table

from . import default_embedder, redis_url

console = Console()

QUESTIONS = [
    "How do I catch an exception and handle it?",
    "What does the with statement do?",
    "How are class attributes looked up?",
]


def main() -> None:
    t0 = time.perf_counter()
    url = redis_url()
    console.print(f"[bold]Redis[/] {url}  (embedded unless REDIS_URL is set)")
    embedder = default_embedder()
    names = sorted(topics)
    texts = [topics[name][:1500] for name in names]
    with console.status(f"embedding {len(texts)} Python reference topics with {embedder.model_name}..."):
        vectors = embedder.embed(texts)
    index = SearchIndex.from_dict(
        {
            "index": {"name": "demo-topics", "prefix": "demo-topics", "storage_type": "hash"},
            "fields": [
                {"name": "topic", "type": "tag"},
                {"name": "text", "type": "text"},
                {
                    "name": "vector",
                    "type": "vector",
                    "attrs": {"dims": embedder.dims, "algorithm": "hnsw", "distance_metric": "cosine"},
                },
            ],
        },
        redis_url=url,
    )
    index.create(overwrite=True, drop=True)
    index.load(
        [{"topic": n, "text": t, "vector": v.tobytes()} for n, t, v in zip(names, texts, vectors, strict=True)],
        id_field="topic",
    )
    console.print(f"indexed {len(texts)} documents in {time.perf_counter() - t0:.1f}s")
    for question in QUESTIONS:
        start = time.perf_counter()
        qv = embedder.embed([question])[0]
        hits = index.query(VectorQuery(qv.tolist(), "vector", return_fields=["topic"], num_results=3))
        ms = (time.perf_counter() - start) * 1000
        table = Table(title=f"{question}  ({ms:.1f} ms)", show_header=True)
        table.add_column("topic")
        table.add_column("similarity", justify="right")
        for hit in hits:
            table.add_row(hit["topic"], f"{1 - float(hit['vector_distance']):.3f}")
        console.print(table)
    index.delete(drop=True)


if __name__ == "__main__":
    main()
