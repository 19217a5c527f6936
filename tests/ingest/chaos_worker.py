"""One ingestion worker process for the kill tests (``chaos.py``): prints ``BATCH`` when it starts embedding a batch,
and now and then stalls there past ``claim_idle_ms`` so its events get reclaimed while it still holds them.

argv: redis_url index_name consumer seed claim_idle_ms stall_chance
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes.py (tests is no package)

from chaos import DIMS, split_paragraphs
from fakes import WordsEmbedder

from redis_rag_integrations import Settings
from redis_rag_integrations.ingest import Worker
from redis_rag_integrations.store.index import RedisVectorIndex


class StallingEmbedder(WordsEmbedder):
    def __init__(self, rng: random.Random, stall_s: float, stall_chance: float) -> None:
        super().__init__(dims=DIMS)
        self.rng, self.stall_s, self.stall_chance = rng, stall_s, stall_chance

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        print("BATCH", flush=True)
        stalled = self.rng.random() < self.stall_chance
        time.sleep(self.stall_s if stalled else self.rng.uniform(0.005, 0.04))
        return super().embed(texts)


def main() -> None:
    url, index_name, consumer = sys.argv[1:4]
    seed, claim_idle_ms, stall_chance = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    embedder = StallingEmbedder(random.Random(seed), 2.5 * claim_idle_ms / 1000, stall_chance)
    index = RedisVectorIndex(index_name, dims=DIMS, settings=Settings(redis_url=url))
    worker = Worker(index, embedder, splitter=split_paragraphs, consumer=consumer, batch_size=4, block_ms=100,
                    claim_idle_ms=claim_idle_ms)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run()


if __name__ == "__main__":
    main()
