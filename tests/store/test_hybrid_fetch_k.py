"""Hybrid search's default ``fetch_k`` is ``max(2k, 20)`` per side (chosen on the Python FAQ, reported on the
hand-written question sets: ``benchmarks/hybrid_fetch_k.py``), and an explicit ``fetch_k`` still wins."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from redis_rag_integrations.store import Record
from redis_rag_integrations.store.hybrid import default_fetch_k

WORDS = ["redis", "vector", "search", "cache", "index", "query", "data", "files", "close", "python"]


def _vector(i: int) -> np.ndarray:
    v = np.random.default_rng(i).normal(size=8).astype(np.float32)
    return v / np.linalg.norm(v)


def _limits(command: tuple[Any, ...]) -> tuple[int, int]:
    """The ``LIMIT offset count`` of a search command."""
    at = command.index("LIMIT")
    return command[at + 1], command[at + 2]


@pytest.mark.parametrize(("k", "n"), [(1, 20), (4, 20), (10, 20), (11, 22), (30, 60)])
def test_the_default_fetches_max_2k_20_per_side(make_index: Any, k: int, n: int) -> None:
    index = make_index(dims=8)
    assert default_fetch_k(k) == n
    knn, text = index.hybrid_plan("redis search", _vector(0), k).commands
    assert f"KNN {n} " in knn[2]
    assert _limits(knn) == (0, n) and _limits(text) == (0, n)
    knn, text = index.hybrid_plan("redis search", _vector(0), k, fetch_k=7).commands  # explicit: as asked
    assert "KNN 7 " in knn[2] and _limits(knn) == (0, 7) and _limits(text) == (0, 7)


def test_a_default_search_is_a_search_with_that_fetch_k(make_index: Any) -> None:
    """On 60 records, at k=8 the default fetches 20 per side (was 32): the same hits as asking for 20."""
    index = make_index(dims=8)
    rng = np.random.default_rng(3)
    index.upsert(
        [Record(f"r{i}", " ".join(rng.choice(WORDS, size=6)), _vector(i)) for i in range(60)]  # type: ignore[arg-type]
    )
    for seed in range(10):
        query, vector = " ".join(rng.choice(WORDS, size=2)), _vector(1000 + seed)
        want = [(h.record.id, h.score) for h in index.hybrid_search(query, vector, 8, fetch_k=20)]
        assert [(h.record.id, h.score) for h in index.hybrid_search(query, vector, 8)] == want
        got = asyncio.run(index.ahybrid_search(query, vector, 8))
        assert [(h.record.id, h.score) for h in got] == want
