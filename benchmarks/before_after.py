"""What the before/after round-trip benchmarks (``find_round_trip``, ``hybrid_round_trip``) share: an index of Python
doc chunks with random unit vectors, the interleaved timing with the load around it, and the command line.

Why random vectors: these benchmarks compare two code paths over the same index, and the vector side's cost does not
depend on what the vectors mean.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from benchmarks.corpus import doc_chunks
from benchmarks.machine import load
from benchmarks.timing import interleaved, percentiles
from redis_rag_integrations import Settings
from redis_rag_integrations.server import EmbeddedRedis
from redis_rag_integrations.store import Record, RedisVectorIndex

DIMS = 384


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.normal(size=(n, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@contextmanager
def chunk_index(
    url: str, chunks: int, name: str, metadata_fields: dict[str, str], rng: np.random.Generator
) -> Iterator[tuple[RedisVectorIndex, list[Record]]]:
    """A fresh index of ``chunks`` Python-doc chunks with their metadata (plus ``n``, the chunk number, when
    ``metadata_fields`` declares it), dropped after."""
    docs = doc_chunks(chunks)
    vectors = unit_vectors(rng, len(docs))
    index = RedisVectorIndex(
        f"bench-{name}-{uuid.uuid4().hex[:8]}", dims=DIMS, metadata_fields=metadata_fields,
        settings=Settings(redis_url=url),
    )  # fmt: skip
    try:
        numbered = "n" in metadata_fields
        records = [
            Record(c.id, c.text, v, {**c.metadata, "n": i} if numbered else c.metadata)
            for i, (c, v) in enumerate(zip(docs, vectors, strict=True))
        ]
        index.upsert(records)
        yield index, records
    finally:
        index.drop()
        index.close()


def timed(
    cases: dict[str, Callable[[Any], Any]], inputs: Sequence[Any], rounds: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Every case interleaved input by input: the p50 of each (ms), and the report's lines on the run (samples,
    load average before and after, the p50s rounded)."""
    before = load()
    samples = interleaved(cases, list(inputs), rounds=rounds, warmup=10)
    after = load()
    p50 = {name: percentiles(s)["p50"] for name, s in samples.items()}
    return p50, {
        "samples per case": len(samples["ping"]),
        "load average before (1/5/15 min)": before,
        "load average after": after,
        "p50 ms": {name: round(v, 3) for name, v in p50.items()},
    }


def main(run: Callable[[str, int, int], dict[str, Any]], doc: str | None) -> None:
    """``--chunks N --rounds N`` on a private embedded Redis; the figures printed as JSON."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        print(json.dumps(run(server.url, args.chunks, args.rounds), indent=2))
