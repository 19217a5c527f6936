"""``llama-index-vector-stores-redis`` 0.9 measured inside its own venv (it pins redisvl<0.5; ours needs >=0.12).

Run by :mod:`benchmarks.store_latency` as ``.venv-legacy/bin/python -m benchmarks.legacy_llamaindex`` (cwd: the
repository) with a JSON spec on stdin; writes one JSON object to the spec's ``result`` path (stdout is not ours alone:
the legacy packages print). Because the two venvs cannot share a
process, this process measures its own baseline too: raw redis-py ``FT.SEARCH`` on the same index, interleaved query
by query with the store's ``query`` exactly as the main process does for our engines, so the ratio it reports was
measured within one process. It writes its index with the package's default layout and our HNSW parameters.

Only the standard library, numpy, redis-py and the legacy packages may be imported here (plus
:mod:`benchmarks.timing`, which keeps to those).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

from benchmarks.timing import QpsPool, interleaved, qps_rounds

STORE = "llama-index-vector-stores-redis"
RAW = "raw FT.SEARCH, llama-index index"


def _schema(spec: dict[str, Any]) -> Any:
    from llama_index.vector_stores.redis.schema import RedisVectorStoreSchema
    from redisvl.schema import IndexSchema

    schema = RedisVectorStoreSchema().to_dict()
    schema["index"]["name"] = spec["index"]
    schema["index"]["prefix"] = f"{spec['index']}/vector"
    for f in schema["fields"]:
        if f["name"] == "vector":
            f["attrs"].update(
                dims=spec["dims"],
                algorithm="hnsw",
                m=spec["hnsw_m"],
                ef_construction=spec["hnsw_ef_construction"],
                ef_runtime=spec["ef_runtime"],
            )
    return IndexSchema.from_dict(schema)


def _store(spec: dict[str, Any], overwrite: bool = False) -> Any:
    from llama_index.vector_stores.redis import RedisVectorStore

    return RedisVectorStore(schema=_schema(spec), redis_url=spec["redis_url"], overwrite=overwrite)


def build(spec: dict[str, Any]) -> dict[str, Any]:
    """The two engines on the legacy index (the QPS workers' factory)."""
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from redis.commands.search.query import Query

    store = _store(spec)
    k = spec["k"]
    query = (
        Query(f"*=>[KNN {k} @vector $v EF_RUNTIME {spec['ef_runtime']} AS d]")
        .sort_by("d")
        .return_fields("id", "doc_id", "text", "_node_content", "d")  # what the store reads back
        .paging(0, k)
        .dialect(2)
    )
    ft = redis.Redis.from_url(spec["redis_url"]).ft(spec["index"])  # the store's .client may be its async one
    return {
        RAW: lambda q: ft.search(query, {"v": q.tobytes()}),
        STORE: lambda q: store.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=k)),
    }


def _fill(spec: dict[str, Any]) -> float:
    """Write the corpus through the store's ``add`` (its own layout); returns records per second."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    vectors = np.load(spec["vectors"])
    rows = json.loads(Path(spec["rows"]).read_text())
    store = _store(spec, overwrite=True)
    nodes = [
        TextNode(
            id_=r["id"],
            text=r["text"],
            metadata=r["metadata"],
            embedding=v.tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=r["doc_id"])},
        )
        for r, v in zip(rows, vectors, strict=True)
    ]
    start = time.perf_counter()
    store.add(nodes)
    rate = len(nodes) / (time.perf_counter() - start)
    ft = redis.Redis.from_url(spec["redis_url"]).ft(spec["index"])
    while float(ft.info()["indexing"]):
        time.sleep(0.1)
    return rate


def main() -> None:
    from importlib.metadata import version

    import llama_index.vector_stores.redis  # noqa: F401  (fail early and clearly if the venv is incomplete)

    spec = json.load(sys.stdin)
    ingest_rate = _fill(spec)
    queries = np.load(spec["queries"])
    engines = build(spec)
    series = interleaved(engines, list(queries), spec["rounds"])
    qps: dict[str, list[float]] = {}
    if spec["qps_seconds"] > 0:
        with QpsPool("benchmarks.legacy_llamaindex:build", spec, queries, procs=max(spec["qps_procs"])) as pool:
            qps = qps_rounds(pool, [RAW, STORE], spec["qps_procs"], spec["qps_seconds"], spec["qps_rounds"])
    _store(spec).delete_index()  # the index and its records
    out = {
        "series": series,
        "qps": qps,
        "ingest_per_s": ingest_rate,
        "versions": {p: version(p) for p in (STORE, "redisvl", "redis", "llama-index-core")},
    }
    Path(spec["result"]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
