"""Shared fixtures: one real embedded Redis per test session, unique names per test, the real embedder.

The Redis side is never mocked. Tests isolate themselves with unique index names / key prefixes and clean up.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.embeddings import LocalEmbedder

# tests is no package: shared helpers (fakes.py, cluster.py) are imported by module name from this directory.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fakes import HashEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The test process is ours: the OpenMP policy our programs use (redis_rag_integrations/host.py), before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Never the user's persistent local server (~/.local/share/redis-rag): a process of the suite that runs with no
# REDIS_URL (subprocesses included, they inherit this) gets a data directory of this session, whose server is
# stopped and removed at the end (see local_server_cleanup).
SESSION_DATA_DIR = tempfile.mkdtemp(prefix="redis-rag-tests-data-")
os.environ["REDIS_RAG_DATA_DIR"] = SESSION_DATA_DIR


@pytest.fixture(scope="session", autouse=True)
def local_server_cleanup() -> Iterator[None]:
    yield
    from redis_rag_integrations import local_server

    local_server.stop(Path(SESSION_DATA_DIR))
    shutil.rmtree(SESSION_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(embedded_redis: EmbeddedRedis, monkeypatch_session: pytest.MonkeyPatch) -> str:
    """The embedded server's URL, also exported as REDIS_URL so defaults resolve to it."""
    monkeypatch_session.setenv("REDIS_URL", embedded_redis.url)
    from redis_rag_integrations.settings import get_settings

    get_settings.cache_clear()
    return embedded_redis.url


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def unique_name() -> str:
    """A fresh name for an index / key prefix, so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    """The deterministic fake embedding (fakes.py), for tests about plumbing rather than meaning."""
    return HashEmbedder()


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The real all-MiniLM-L6-v2, loaded once per session (for tests where meaning matters)."""
    return LocalEmbedder()


class Processes:
    """Process checks for the no-orphan tests of the embedded Redis and the local LLM server."""

    @staticmethod
    def alive(pid: int) -> bool:
        """True while ``pid`` runs (a zombie counts as dead: it only waits to be reaped)."""
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().split()[2] != "Z"
        except FileNotFoundError:
            return False

    def wait_dead(self, pid: int, timeout: float = 30.0) -> bool:
        """True once ``pid`` is gone, False if it outlives ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive(pid):
                return True
            time.sleep(0.05)
        return False


@pytest.fixture
def processes() -> Processes:
    return Processes()
