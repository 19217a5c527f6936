"""How big each benchmark runs: ``smoke`` (the test suite, seconds), ``quick`` (minutes), ``full`` (the big figures).

Sections take ``run(quick, redis_url, *, profile=None)``: the harness passes the profile of the chosen mode, and a
caller that only knows the common interface gets :func:`for_quick`. Sizes live here, in one place, so that a mode
means the same thing in every section.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: Embeddings of the benchmark corpora, keyed by content hash (gitignored): reruns skip the model.
DEFAULT_CACHE = RESULTS / "cache"


@dataclass(frozen=True)
class Profile:
    name: str
    #: Python-docs chunks embedded with the default model: the index for latency, QPS and recall.
    doc_chunks: int
    #: Passes over the FAQ questions (the queries), engines interleaved query by query.
    query_rounds: int
    #: Seconds each engine runs its query loop per QPS measurement, and how many interleaved rounds of those.
    qps_seconds: float
    qps_rounds: int
    #: Whether the legacy-venv subprocess measures QPS too (its two client processes cost ~10 s of start-up).
    legacy_qps: bool
    #: Records per engine for the precomputed-vector ingest, written in this many interleaved parts.
    ingest_records: int
    ingest_parts: int
    #: FAQ answers ingested end to end with the default embedder (None: all), and interleaved rounds.
    e2e_docs: int | None
    e2e_rounds: int
    #: FAQ (question -> answer) pairs for retrieval quality (None: all).
    faq_pairs: int | None
    #: Cache evaluation pairs for precision / recall (None: all).
    cache_pairs: int | None
    #: Chat history: messages in the session before measuring, and timed calls per operation.
    history_messages: int
    history_rounds: int
    #: Streaming freshness: documents per second and seconds of publishing.
    fresh_rate: float
    fresh_seconds: float
    #: Whether freshness is measured again with the int8 ONNX embedder (informative: the target is on the default).
    fresh_int8: bool
    #: EF_RUNTIME values of the recall sweep (the settings' default is always added).
    ef_sweep: tuple[int, ...]
    cache_dir: Path = DEFAULT_CACHE

    @property
    def quick(self) -> bool:
        return self.name != "full"


SMOKE = Profile(
    name="smoke",
    doc_chunks=60,
    query_rounds=1,
    qps_seconds=0.3,
    qps_rounds=1,
    legacy_qps=False,
    ingest_records=60,  # the same chunks as doc_chunks: embedded once
    ingest_parts=2,
    e2e_docs=6,
    e2e_rounds=1,
    faq_pairs=30,
    cache_pairs=40,
    history_messages=40,
    history_rounds=30,
    fresh_rate=20.0,
    fresh_seconds=1.0,
    fresh_int8=False,
    ef_sweep=(10,),
)
QUICK = Profile(
    name="quick",
    doc_chunks=2000,
    query_rounds=3,
    qps_seconds=2.0,
    qps_rounds=3,
    legacy_qps=True,
    ingest_records=2000,
    ingest_parts=10,
    e2e_docs=60,
    e2e_rounds=3,
    faq_pairs=None,
    cache_pairs=None,
    history_messages=200,
    history_rounds=300,
    fresh_rate=20.0,
    fresh_seconds=10.0,
    fresh_int8=True,
    ef_sweep=(10, 20, 50, 200),
)
FULL = Profile(
    name="full",
    doc_chunks=10_000,
    query_rounds=10,
    qps_seconds=10.0,
    qps_rounds=3,
    legacy_qps=True,
    ingest_records=10_000,
    ingest_parts=20,
    e2e_docs=None,
    e2e_rounds=3,
    faq_pairs=None,
    cache_pairs=None,
    history_messages=1000,
    history_rounds=2000,
    fresh_rate=20.0,
    fresh_seconds=30.0,
    fresh_int8=True,
    ef_sweep=(10, 20, 50, 200, 400),
)
PROFILES = {p.name: p for p in (SMOKE, QUICK, FULL)}


def for_quick(quick: bool) -> Profile:
    return QUICK if quick else FULL


def resolve(quick: bool, profile: Profile | None) -> Profile:
    """The profile a section runs with: the one given, else the one ``quick`` names."""
    return profile if profile is not None else for_quick(quick)


def with_cache_dir(profile: Profile, cache_dir: Path) -> Profile:
    return replace(profile, cache_dir=cache_dir)
