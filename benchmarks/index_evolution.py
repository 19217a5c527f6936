"""What adding a filterable field to a filled index costs, and what the engine alone would give.

    .venv/bin/python -m benchmarks.index_evolution [--records 20000] [--dims 16]

Two indexes of ``--records`` records each (random vectors, ``metadata={"color": red|blue}``, no declared field), on a
private embedded Redis:

* ``engine``: ``FT.ALTER ... SCHEMA ADD color TAG`` without our backfill (the engine's own re-scan). Reported: how
  long ``FT.ALTER`` takes to answer, how long the background re-scan runs (``FT.INFO indexing``), and how many old
  records a filter on ``color`` finds afterwards. Our records keep a declared field as its own hash field, written
  only while declared, so the answer is 0: the value sits in the ``metadata`` JSON only.
* ``redis-rag``: opening the index with ``metadata_fields={"color": "tag"}`` (check, ``FT.ALTER ...
  SKIPINITIALSCAN``, backfill: :mod:`redis_rag_integrations.store.evolution`). Reported: the opening's wall time
  and the records the filter finds (all of them).

Wall times on a shared 2-core machine: compare them within one run, not across runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.store import Record, RedisVectorIndex


def _fill(name: str, settings: Settings, records: int, dims: int) -> RedisVectorIndex:
    rng = np.random.default_rng(0)
    index = RedisVectorIndex(name, dims=dims, settings=settings)
    batch = [
        Record(f"r{i}", "x", rng.random(dims).astype(np.float32), metadata={"color": ("red", "blue")[i % 2]})
        for i in range(records)
    ]
    index.upsert(batch)
    return index


def _indexing(index: RedisVectorIndex) -> bool:
    return bool(int(float(index.client.ft(index.name).info().get("indexing", 0))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=16)
    args = parser.parse_args(argv)
    with EmbeddedRedis() as server:
        settings = Settings(redis_url=server.url)
        engine = _fill("evo-engine", settings, args.records, args.dims)
        start = time.perf_counter()
        engine.client.execute_command("FT.ALTER", engine.name, "SCHEMA", "ADD", "color", "TAG")
        answered = time.perf_counter() - start
        while _indexing(engine):
            time.sleep(0.05)
        scanned = time.perf_counter() - start
        found = engine.client.ft(engine.name).search("@color:{red}").total
        print(f"engine:    FT.ALTER answered in {answered * 1000:.1f} ms, re-scan {scanned:.1f} s, "
              f"filter finds {found} of {args.records // 2} old records")  # fmt: skip

        ours = _fill("evo-ours", settings, args.records, args.dims)
        start = time.perf_counter()
        grown = RedisVectorIndex(ours.name, dims=args.dims, metadata_fields={"color": "tag"}, settings=settings)
        opened = time.perf_counter() - start
        got = len(grown.find({"color": "red"}, limit=args.records))
        print(f"redis-rag: opening with the new field took {opened:.1f} s (check + FT.ALTER + backfill), "
              f"filter finds {got} of {args.records // 2} old records")  # fmt: skip


if __name__ == "__main__":
    main()
