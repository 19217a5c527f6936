"""The query engines compared side by side, each built from a plain spec dict so that QPS worker processes can
build their own (Redis connections do not cross processes).

Every engine answers the same top-k KNN question for a query vector and returns what an application needs from a
result (id, text, metadata). On our index: raw redis-py ``FT.SEARCH`` (the baseline), redisvl's ``VectorQuery``,
our core, our LangChain store and our LlamaIndex store. ``langchain-redis`` writes its own layout, so it is compared
on its own index of the same vectors, against raw ``FT.SEARCH`` on that index. (``llama-index-vector-stores-redis``
cannot live in this venv: see :mod:`benchmarks.legacy_llamaindex`.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import redis
from langchain_core.embeddings import Embeddings
from llama_index.core.vector_stores.types import VectorStoreQuery
from redis.commands.search.query import Query

from redis_rag_integrations import Settings
from redis_rag_integrations.langchain import RedisVectorStore as LCStore
from redis_rag_integrations.llama_index import RedisVectorStore as LIStore
from redis_rag_integrations.store import RedisVectorIndex

RAW = "raw FT.SEARCH (bare execute_command)"
RAW_LC = "raw FT.SEARCH (bare), text + metadata"
RAW_REDISPY = "redis-py ft().search(Query)"
REDISVL = "redisvl VectorQuery"
CORE = "ours: core search"
LANGCHAIN = "ours: LangChain store"
LLAMAINDEX = "ours: LlamaIndex store"
CORE_NP = "ours: core search (numpy)"
LANGCHAIN_NP = "ours: LangChain store (numpy)"
LLAMAINDEX_NP = "ours: LlamaIndex store (numpy)"
RAW_FILTER = "raw FT.SEARCH + tag filter"
RAW_DECODED = "floor: bare call + decoding the reply into Python values"
RAW_DEFAULT_CLIENT = "bare call on a default redis.Redis.from_url client"
CORE_FILTER = "ours: core search + tag filter"
LANGCHAIN_FILTER = "ours: LangChain + tag filter"
LCR_RAW = "raw FT.SEARCH, langchain-redis index"
LCR = "langchain-redis"
#: Metadata the langchain-redis index declares, so that it returns the whole metadata as our stores do.
LCR_METADATA = [
    {"name": "section", "type": "tag"},
    {"name": "title", "type": "text"},
    {"name": "source", "type": "tag"},
    {"name": "chunk", "type": "numeric"},
]
#: What an application needs from a hit in our layout (redis-py's baseline asks for exactly that).
RAW_FIELDS = ("id", "text", "metadata")
#: What our core and the LlamaIndex store ask Redis for (``store.layout.QUERY_FIELDS``), and the LangChain store.
CORE_FIELDS = ("doc_id", "text", "metadata", "extra")
LC_FIELDS = ("text", "metadata")

QueryFn = Callable[[np.ndarray], object]


class VectorsOnly(Embeddings):
    """Stands in for a model where the benchmark passes vectors: any call to embed is a bug in the benchmark."""

    def __init__(self, dims: int, table: dict[str, np.ndarray] | None = None) -> None:
        self.dims = dims
        self.table = table or {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Precomputed vectors looked up by text (ingest benchmarks); unknown text is an error."""
        try:
            return [self.table[t].tolist() for t in texts]
        except KeyError as exc:
            raise RuntimeError(f"benchmark embedder asked for an unknown text: {str(exc)[:60]}") from None

    def embed_query(self, text: str) -> list[float]:
        if text == "The quick brown fox jumps over the lazy dog":  # langchain-redis' dimension probe
            return [0.0] * self.dims
        raise RuntimeError("the query benchmarks pass vectors: nothing may be embedded here")


def raw_knn(
    client: Any, index: str, vector_field: str, fields: tuple[str, ...], spec: dict[str, Any], where: str = "*"
):
    """redis-py's own FT.SEARCH: the query object built once, the vector sent as bytes, redis-py's parser."""
    query = (
        Query(f"{where}=>[KNN {spec['k']} @{vector_field} $v EF_RUNTIME {spec['ef_runtime']} AS d]")
        .sort_by("d")
        .return_fields(*fields, "d")
        .paging(0, spec["k"])
        .dialect(2)
    )
    ft = client.ft(index)
    return lambda q: ft.search(query, {"v": q.tobytes()})


def bare_knn(
    client: Any, index: str, vector_field: str, fields: tuple[str, ...], spec: dict[str, Any], where: str = "*"
):
    """The cheapest KNN call there is: one ``execute_command`` with the vector as bytes, the reply unparsed.

    The same command our core sends (query string, RETURN fields, SORTBY, LIMIT, DIALECT 2), built once: what is
    left of a call is the protocol and the network, so an engine's ratio to it is its whole client-side cost.
    """
    k, ef = spec["k"], spec["ef_runtime"]
    score = "vector_distance"
    head = (
        "FT.SEARCH", index, f"{where}=>[KNN {k} @{vector_field} $vector EF_RUNTIME {ef} AS {score}]",
        "RETURN", len(fields) + 1, *fields, score, "SORTBY", score, "ASC", "LIMIT", 0, k, "PARAMS", 2, "vector",
    )  # fmt: skip
    run = client.execute_command
    return lambda q: run(*head, q.tobytes(), "DIALECT", 2)


def decoded_knn(bare: QueryFn) -> QueryFn:
    """The floor under any client that returns Python values: the bare call, then each hit's key, text, doc id and
    distance decoded and its metadata JSON parsed into a dict, kept in plain tuples (no result objects at all).

    Why a row of its own: on a 0.3-0.5 ms search this decoding alone is about a tenth of the call, so a target
    below it cannot be met by an API that returns decoded results; the report shows where that floor lies.
    """
    loads = json.loads

    def run(q: np.ndarray) -> list[tuple[Any, ...]]:
        reply: Any = bare(q)
        out = []
        for i in range(1, len(reply) - 1, 2):
            f = dict(zip(reply[i + 1][::2], reply[i + 1][1::2], strict=True))
            meta = f.get(b"metadata")
            doc = f.get(b"doc_id")
            out.append((reply[i].decode(), f[b"text"].decode(), doc.decode() if doc else None,
                        loads(meta) if meta else {}, float(f[b"vector_distance"])))  # fmt: skip
        return out

    return run


def open_index(spec: dict[str, Any]) -> RedisVectorIndex:
    return RedisVectorIndex(spec["index"], settings=Settings(redis_url=spec["redis_url"]), create=False)


def ours(spec: dict[str, Any]) -> dict[str, QueryFn]:
    """Engines on our index: raw, redisvl, core, LangChain, LlamaIndex, and the filtered pair."""
    from redisvl.query import VectorQuery

    index = open_index(spec)
    k, ef, section = spec["k"], spec["ef_runtime"], spec["filter_section"]
    lc = LCStore(VectorsOnly(index.layout.dims), index=index)
    li = LIStore(index=index)
    svl = index._index  # redisvl's SearchIndex over the same index and client
    where = f"(@section:{{{section}}})"
    return {
        RAW: bare_knn(index.client, index.name, "vector", CORE_FIELDS, spec),
        RAW_LC: bare_knn(index.client, index.name, "vector", LC_FIELDS, spec),
        RAW_DECODED: decoded_knn(bare_knn(index.client, index.name, "vector", CORE_FIELDS, spec)),
        # informative: the baseline runs on our client (the cheaper of the two); a default redis-py client's pool
        # costs more per call, which this row shows
        RAW_DEFAULT_CLIENT: bare_knn(redis.Redis.from_url(spec["redis_url"]), index.name, "vector", CORE_FIELDS, spec),
        RAW_REDISPY: raw_knn(index.client, index.name, "vector", RAW_FIELDS, spec),
        REDISVL: lambda q: svl.query(
            VectorQuery(q.tolist(), "vector", return_fields=list(RAW_FIELDS), num_results=k, ef_runtime=ef)
        ),
        CORE: lambda q: index.search(q.tolist(), k),
        LANGCHAIN: lambda q: lc.similarity_search_by_vector(q.tolist(), k),
        LLAMAINDEX: lambda q: li.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=k)),
        CORE_NP: lambda q: index.search(q, k),
        LANGCHAIN_NP: lambda q: lc.similarity_search_by_vector(q, k),  # type: ignore[arg-type]
        LLAMAINDEX_NP: lambda q: li.query(VectorStoreQuery(query_embedding=q, similarity_top_k=k)),  # type: ignore[arg-type]
        RAW_FILTER: bare_knn(index.client, index.name, "vector", LC_FIELDS, spec, where),
        CORE_FILTER: lambda q: index.search(q, k, {"section": section}, LC_FIELDS),
        LANGCHAIN_FILTER: lambda q: lc.similarity_search_by_vector(q.tolist(), k, filter={"section": section}),
    }


def langchain_redis_config(spec: dict[str, Any]) -> Any:
    """langchain-redis' own default layout, with our HNSW parameters so both indexes search alike."""
    from langchain_redis import RedisConfig
    from redisvl.schema import IndexSchema

    base = RedisConfig(
        index_name=spec["lcr_index"],
        redis_url=spec["redis_url"],
        metadata_schema=LCR_METADATA,
        embedding_dimensions=spec["dims"],
        indexing_algorithm="HNSW",
    ).to_index_schema()
    schema = base.to_dict()
    for f in schema["fields"]:
        if f["type"] == "vector":
            f["attrs"].update(
                m=spec["hnsw_m"], ef_construction=spec["hnsw_ef_construction"], ef_runtime=spec["ef_runtime"]
            )
    return RedisConfig(
        index_name=spec["lcr_index"],
        redis_url=spec["redis_url"],
        embedding_dimensions=spec["dims"],
        schema=IndexSchema.from_dict(schema),
    )


def langchain_redis(spec: dict[str, Any], table: dict[str, np.ndarray] | None = None) -> Any:
    from langchain_redis import RedisVectorStore

    return RedisVectorStore(VectorsOnly(spec["dims"], table), config=langchain_redis_config(spec))


def theirs(spec: dict[str, Any]) -> dict[str, QueryFn]:
    """langchain-redis on its own index, and the bare FT.SEARCH on that index returning the same fields."""
    store = langchain_redis(spec)
    k = spec["k"]
    fields = ("text", *(m["name"] for m in LCR_METADATA))
    return {
        LCR_RAW: bare_knn(store.index.client, spec["lcr_index"], "embedding", fields, spec),
        LCR: lambda q: store.similarity_search_by_vector(q.tolist(), k),
    }


def build_all(spec: dict[str, Any]) -> dict[str, QueryFn]:
    """Every engine of this venv (the QPS workers' factory)."""
    return {**ours(spec), **theirs(spec)}
