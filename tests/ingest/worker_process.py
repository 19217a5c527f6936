"""Run one ingestion worker in its own process (so a test can SIGKILL it mid-batch).

argv: redis_url index_name consumer delay_seconds
Prints "READY" once its group is set up, and "BATCH" each time it has prepared a batch, before writing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes.py (tests is no package)

from fakes import WordsEmbedder

from redis_rag_integrations import Settings
from redis_rag_integrations.ingest import Worker, make_splitter
from redis_rag_integrations.store.index import RedisVectorIndex


class AnnouncingEmbedder(WordsEmbedder):
    def embed(self, texts):  # type: ignore[no-untyped-def]
        print("BATCH", flush=True)
        return super().embed(texts)


def main() -> None:
    url, index_name, consumer, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    embedder = AnnouncingEmbedder(dims=32, delay=delay)
    index = RedisVectorIndex(index_name, dims=32, settings=Settings(redis_url=url))
    worker = Worker(index, embedder, splitter=make_splitter(chunk_size=200, chunk_overlap=0), consumer=consumer,
                    batch_size=4)  # fmt: skip
    print("READY", flush=True)
    worker.run()


if __name__ == "__main__":
    main()
