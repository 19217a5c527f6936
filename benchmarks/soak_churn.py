"""Whose memory grows under document churn: our store, or the search module itself?

Why: the soak (``benchmarks/soak.py``) saw ``used_memory`` climb while the key count and the memory of all keys stayed
flat. This runs the same churn twice, each on its own embedded Redis at the same time -- ``ours``: the soak's
``replace_document`` / ``delete_document`` + filtered search; ``raw``: plain ``HSET`` / ``DEL`` of the same hashes
(copied field for field from one record our store wrote) on the same index schema, + the same search -- and prints
the second-half slope of ``used_memory_dataset`` and the key counts. Equal slopes mean the growth is the engine's.
Run: ``python -m benchmarks.soak_churn [--seconds 180]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import soak
from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations.store.layout import Record


def _churn(variant: str, seconds: float, out: mp.Queue) -> None:
    with EmbeddedRedis() as server:
        traffic = soak._Traffic(server.url, uuid.uuid4().hex[:8])
        client = traffic.store.client
        traffic.store.upsert([Record(id="tpl", text="x", vector=traffic.embedder.embed(["x"])[0],
                                     metadata={"label": "t0"}, doc_id="tpl")])  # fmt: skip
        key = next(iter(client.scan_iter(match="soak-*:tpl")))
        prefix, fields = key.decode()[: -len("tpl")], client.hgetall(key)

        def step(worker: int, n: int, rng: np.random.Generator) -> None:
            doc = f"d{rng.integers(soak.DOCS)}"
            if variant == "ours":
                traffic._doc(doc, rng)
            elif rng.random() < 0.2:
                client.delete(*(f"{prefix}{doc}-{i}" for i in range(2)))
            else:
                for i in range(2):
                    client.hset(f"{prefix}{doc}-{i}", mapping={**fields, b"text": f"{doc} part {i}".encode()})
            traffic.store.search(traffic.embedder.embed([str(n)])[0], k=4, filter={"label": f"t{n % 8}"})

        traffic.step = lambda worker, n, rng: step(worker, n, rng)  # type: ignore[method-assign]
        deadline = time.monotonic() + seconds
        workers = [threading.Thread(target=traffic.worker, args=(w, deadline, 1 / 40)) for w in range(4)]
        for w in workers:
            w.start()
        points = []
        start = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(5)
            points.append((time.monotonic() - start, client.info("memory")["used_memory_dataset"], client.dbsize()))
        for w in workers:
            w.join()
        half = points[len(points) // 2 :]
        slope = np.polyfit([p[0] / 60 for p in half], [p[1] for p in half], 1)[0]
        out.put((variant, traffic.ops, len(traffic.errors), points[0], points[-1], float(slope)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_churn, args=(v, args.seconds, out)) for v in ("ours", "raw")]
    for p in procs:
        p.start()
    rows = [out.get(timeout=args.seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    print("| churn | rounds | errors | dataset first / last sample (MiB) | keys first / last | second-half slope |")
    print("|---|---|---|---|---|---|")
    for variant, ops, errors, first, last, slope in sorted(rows):
        print(
            f"| {variant} | {ops} | {errors} | {first[1] / 2**20:.2f} / {last[1] / 2**20:.2f} | {first[2]} / "
            f"{last[2]} | {slope / 1024:+.0f} KiB/min |"
        )


if __name__ == "__main__":
    main()
