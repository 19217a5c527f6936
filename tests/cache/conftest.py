"""Fixtures for the cache tests: a deterministic plumbing embedder and cache factories that clean up after."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fakes import HashEmbedder

from redis_rag_integrations.cache import SemanticCache

DIMS = 16


def unit(*values: float) -> np.ndarray:
    """A unit vector in DIMS dims from its first few components (for hand-placed entries)."""
    vec = np.zeros(DIMS, dtype=np.float32)
    vec[: len(values)] = values
    return vec / np.linalg.norm(vec)


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
