"""One settings object for the whole package.

Every default the package uses lives here, so that the LangChain and LlamaIndex adapters, the CLI, the
benchmarks and the notebooks can never disagree about what "the default" is. Values come from the environment
(``REDIS_RAG_*``; ``REDIS_URL`` and ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` under their usual names) and can be
overridden in code: ``Settings(index_name="faq")`` or ``get_settings().model_copy(update=...)``.
Invalid values fail at construction with a :class:`pydantic.ValidationError` that names the setting.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VectorAlgorithm = Literal["hnsw", "flat"]
DistanceMetric = Literal["cosine", "ip", "l2"]
VectorDatatype = Literal["float32", "float16"]
EmbeddingProvider = Literal["local", "local-int8", "openai"]
HybridFusion = Literal["relative_score", "rrf"]
Backend = Literal["query_engine", "vectorset"]
VectorSetQuantization = Literal["q8", "noquant", "bin"]
LocalServerMode = Literal["persistent", "private"]
CertReqs = Literal["required", "optional", "none"]


class Settings(BaseSettings):
    """Configuration shared by every component.

    Only ``redis_url`` may be left unset: ``None`` means "the embedded Redis" (see
    :func:`redis_rag_integrations.redis_url`).
    """

    model_config = SettingsConfigDict(
        env_prefix="REDIS_RAG_",
        env_file=None,
        extra="forbid",
        validate_assignment=True,
        populate_by_name=True,
        # A rejected value is named, never echoed: a malformed REDIS_URL may carry a password.
        hide_input_in_errors=True,
    )

    # --- connection -------------------------------------------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "REDIS_RAG_REDIS_URL", "redis_url"),
        description="redis:// / rediss:// / redis+sentinel:// URL. Unset: start the embedded Redis.",
    )
    socket_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a Redis command may take before it fails (no hung apps)."
    )
    connect_timeout: float = Field(default=3.0, gt=0, description="Seconds to open a connection to Redis.")
    max_connections: int = Field(
        default=100,
        gt=0,
        description="Connections per client pool (one sync pool per process, one async pool per event loop). "
        "More concurrent commands than this wait for a free connection instead of failing.",
    )
    pool_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a command waits for a free pooled connection before it fails."
    )
    redis_username: str | None = Field(
        default=None, description="ACL user name when the URL carries none (e.g. a role of README 'ACL roles')."
    )
    redis_password: SecretStr | None = Field(
        default=None,
        description="Password, when the URL carries none: kept out of the URL, reprs, logs and error messages.",
    )
    ssl_ca_certs: FilePath | None = Field(
        default=None, description="rediss://: CA bundle (PEM) the server's certificate must chain to (unset: system)."
    )
    ssl_certfile: FilePath | None = Field(
        default=None, description="rediss://: client certificate (PEM) for mutual TLS (key inside, or ssl_keyfile)."
    )
    ssl_keyfile: FilePath | None = Field(default=None, description="rediss://: the client certificate's key (PEM).")
    ssl_cert_reqs: CertReqs = Field(
        default="required",
        description="rediss://: required (verify the server's certificate: the only safe choice), optional or none.",
    )
    ssl_check_hostname: bool = Field(
        default=True, description="rediss://: the server's certificate must name the URL's host (with 'required')."
    )
    local_server: LocalServerMode = Field(
        default="persistent",
        description="With REDIS_URL unset: persistent (one local server per data dir, shared by every process, data "
        "kept on disk, stopped when idle) or private (a server of this process only, its data gone at exit).",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Data directory of the persistent local server; unset: $XDG_DATA_HOME/redis-rag or "
        "~/.local/share/redis-rag (~/Library/Application Support/redis-rag on macOS).",
    )
    local_server_idle_timeout: float = Field(
        default=900.0,
        gt=0,
        description="Seconds the persistent local server runs with no client connected before it stops itself "
        "(its data stays on disk; the next use starts it again).",
    )

    # --- vector index -----------------------------------------------------------------------------------------
    index_name: str = Field(default="docs", min_length=1, description="Search index name.")
    key_prefix: str | None = Field(
        default=None, description="Key prefix of the index's records; defaults to the index name."
    )
    vector_algorithm: VectorAlgorithm = Field(default="hnsw", description="hnsw (default) or flat.")
    distance_metric: DistanceMetric = Field(default="cosine", description="cosine, ip or l2.")
    vector_datatype: VectorDatatype = Field(default="float32", description="float32 or float16.")
    hnsw_m: int = Field(default=16, ge=2, le=512, description="HNSW M (graph degree).")
    hnsw_ef_construction: int = Field(default=200, ge=1, le=4096, description="HNSW EF_CONSTRUCTION.")
    hnsw_ef_runtime: int = Field(
        default=100,  # benchmarks/store_recall.py: recall@10 0.968 at EF_RUNTIME 20, 0.999 at 100 (Python-docs chunks)
        ge=1,
        le=4096,
        description="HNSW EF_RUNTIME (query beam): higher = better recall, slower queries.",
    )
    hybrid_fusion: HybridFusion = Field(
        default="relative_score",
        description="How hybrid search merges BM25 and vector results: relative_score (min-max normalised scores, "
        "convex sum) or rrf (reciprocal rank fusion).",
    )
    hybrid_alpha: float = Field(
        default=0.7,  # Python FAQ set, cross-validated: R@1 0.81 vs vector 0.79 (benchmarks/retrieval_quality.py)
        ge=0.0,
        le=1.0,
        description="Weight of the vector side in hybrid search (1 = vectors only, 0 = BM25 only).",
    )
    backend: Backend = Field(
        default="query_engine",
        description="Where vector stores keep their records: query_engine (FT.* search index over hashes: BM25, "
        "hybrid, text and geo filters) or vectorset (a Redis 8 vector set, no module: about a quarter of the "
        "memory with q8; vector search, tag and numeric filters, MMR). See README 'Vector sets'.",
    )
    vectorset_quantization: VectorSetQuantization = Field(
        default="q8", description="vectorset backend: q8 (int8, default), noquant (float32) or bin (1 bit)."
    )
    vectorset_reduce: int | None = Field(
        default=None, ge=1, description="vectorset backend: REDUCE (random projection) to this many dims; unset: none."
    )
    vectorset_filter_ef: int | None = Field(
        default=None,
        ge=1,
        description="vectorset backend: FILTER-EF, candidates a filtered VSIM examines (unset: COUNT*100).",
    )
    vectorset_threaded: bool = Field(
        default=False,
        description="vectorset backend: let VSIM run on the server's worker threads (the server's default). Off: "
        "NOTHREAD, the query runs on the main thread: lower latency on a small machine (benchmarks/backends.py).",
    )

    # --- embeddings -------------------------------------------------------------------------------------------
    embedding_provider: EmbeddingProvider = Field(
        default="local",
        description="local (all-MiniLM-L6-v2, offline), local-int8 (the same model as int8 ONNX, no torch: "
        "faster on short texts such as queries, not on long chunks) or openai (needs OPENAI_API_KEY).",
    )
    openai_embedding_model: str = Field(default="text-embedding-3-small", description="OpenAI embedding model.")
    embedding_batch_size: int = Field(default=32, ge=1, le=4096, description="Texts per embedding batch.")
    query_embedding_model: Literal["auto", "same", "int8"] = Field(
        default="auto",
        description="What embeds a question (one short text): 'int8' = the int8 ONNX MiniLM (local provider only; "
        "documents keep the float32 model; same R@1 and recall@10 on both evaluation sets, ~2.8x faster: "
        "benchmarks/query_int8.py), 'same' = the embedding_provider's model, 'auto' = int8 when the provider is "
        "local and the int8 extra is installed, else same.",
    )
    query_vector_cache: bool = Field(
        default=True,
        description="Keep question vectors in Redis (exact text + model -> vector), so a repeated question costs no "
        "model call in any process. Uses REDIS_URL, or the local server if one runs; never starts one.",
    )
    query_vector_cache_ttl: int | None = Field(
        default=7 * 24 * 3600, gt=0, description="Seconds a cached question vector lives; unset = forever."
    )
    query_vector_cache_max_entries: int | None = Field(
        default=100_000, gt=0, description="Bound on cached question vectors (oldest evicted); unset = unbounded."
    )
    embedding_batch_window_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=1000.0,
        description="Concurrent async embeddings in one process share model calls: those arriving while a call runs "
        "(and within this window of an idle model's first caller) go in the next one. 0: an idle model starts at once "
        "(measured: 2 ms cost a lone question 2.5 ms and gained no throughput).",
    )
    embedding_max_batch: int = Field(default=32, ge=1, le=4096, description="Texts per coalesced async model call.")

    # --- semantic cache ---------------------------------------------------------------------------------------
    cache_distance_threshold: float = Field(
        # the learned verifier's candidate radius (cache/gate.py), chosen on sets B, D, E and F by
        # benchmarks/verifier_train.py; reported on held-out sets A, C and G in benchmarks/results/cache_gate.md
        default=0.25,
        ge=0.0,
        le=2.0,
        description="Cosine DISTANCE (0 = identical, 2 = opposite) at or below which a cached answer is reused.",
    )
    cache_ttl: int | None = Field(default=None, gt=0, description="Seconds a cache entry lives; unset = forever.")
    cache_max_entries: int | None = Field(
        default=None, gt=0, description="Upper bound on semantic cache entries; unset = unbounded."
    )

    # --- chat history -----------------------------------------------------------------------------------------
    history_ttl: int | None = Field(
        default=None, gt=0, description="Seconds a chat session lives after its last write; unset = forever."
    )

    # --- replication ------------------------------------------------------------------------------------------
    write_replicas: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Replicas every index write must reach before it is acknowledged (WAIT after the write; "
        "0 = do not wait). A write the replicas do not confirm in time raises ReplicationError (it is on the "
        "primary, not rolled back). See redis_rag_integrations/replication.py.",
    )
    write_wait_timeout_ms: int = Field(
        default=1000,
        gt=0,
        description="Milliseconds a write waits for its write_replicas (never 0: WAIT 0 blocks forever); must be "
        "below socket_timeout.",
    )

    # --- observability ----------------------------------------------------------------------------------------
    metrics: bool = Field(
        default=False,
        description="Record latency histograms and counters per operation (read by `redis-rag stats`). Read once, "
        "from the environment, when redis_rag_integrations.metrics is imported; metrics.enable() switches at run time.",
    )
    metrics_flush_interval: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Seconds between two flushes of the in-process metrics to Redis (also flushed at exit).",
    )

    # --- LLM ----------------------------------------------------------------------------------------------------
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"), repr=False
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name for OpenAI(-compatible) servers.")
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds an LLM call may take.")

    @field_validator("redis_url")
    @classmethod
    def _check_url_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        schemes = ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://")
        if not value.startswith(schemes):
            raise ValueError(
                f"redis_url must start with one of {', '.join(schemes)}; got {value.split('://')[0]!r}. "
                "Example: redis://localhost:6379/0. Unset it to use the embedded Redis."
            )
        return value

    @field_validator("index_name", "key_prefix")
    @classmethod
    def _no_spaces(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c.isspace() for c in value)):
            raise ValueError(f"must be non-empty and contain no whitespace; got {value!r}")
        return value

    @model_validator(mode="after")
    def _wait_within_socket_timeout(self) -> Settings:
        if self.write_replicas and self.write_wait_timeout_ms >= self.socket_timeout * 1000:
            raise ValueError(
                f"write_wait_timeout_ms ({self.write_wait_timeout_ms}) must be below socket_timeout "
                f"({self.socket_timeout} s): the client would give up on WAIT before Redis answers it"
            )
        return self

    @model_validator(mode="after")
    def _key_needs_cert(self) -> Settings:
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("ssl_keyfile is set without ssl_certfile: a client key needs its certificate")
        return self

    def __repr_args__(self) -> Any:
        """The fields, with the password of ``redis_url`` masked (the secret fields are ``SecretStr`` already)."""
        from .connection import mask_url  # imported here: connection imports this module

        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "redis_url" and isinstance(value, str) else value)

    @model_validator(mode="after")
    def _openai_needs_key(self) -> Settings:
        if self.embedding_provider == "openai" and not (self.openai_api_key or self.openai_base_url):
            raise ValueError("embedding_provider='openai' needs OPENAI_API_KEY (or OPENAI_BASE_URL) to be set")
        return self

    @property
    def prefix(self) -> str:
        """The key prefix actually used: ``key_prefix`` or, when unset, the index name."""
        return self.key_prefix or self.index_name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings read from the environment (cached; call ``get_settings.cache_clear()``
    after changing the environment)."""
    return Settings()
