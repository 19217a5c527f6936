"""Fixtures for the cache tests: a deterministic plumbing embedder and cache factories that clean up after."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from redis_rag_integrations.cache import SemanticCache

DIMS = 16


class HashEmbedder:
    """Deterministic plumbing embedder: equal texts -> equal unit vectors, different texts -> ~orthogonal ones.

    Only for tests about plumbing (keys, TTLs, bounds, faults); tests about meaning use the real model.
    """

    model_name = "hash-embedder"
    dims = DIMS

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
            rows.append(vec / np.linalg.norm(vec))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), DIMS)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def unit(*values: float) -> np.ndarray:
    """A unit vector in DIMS dims from its first few components (for hand-placed entries)."""
    vec = np.zeros(DIMS, dtype=np.float32)
    vec[: len(values)] = values
    return vec / np.linalg.norm(vec)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def make_cache(redis_url: str, unique_name: str) -> Iterator[Callable[..., SemanticCache]]:
    """Build SemanticCache objects on the embedded Redis under unique names; drop their indexes afterwards."""
    made: list[SemanticCache] = []

    def factory(embedder: Any = None, **kwargs: Any) -> SemanticCache:
        kwargs.setdefault("name", f"{unique_name}{len(made)}")
        cache = SemanticCache(embedder or HashEmbedder(), redis_url=redis_url, **kwargs)
        made.append(cache)
        return cache

    yield factory
    for cache in made:
        with contextlib.suppress(Exception):
            cache.delete_index()
        cache.close()
