"""Fixtures of the vector store tests: a deterministic fake embedder for plumbing tests, index cleanup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.store import RedisVectorIndex


@pytest.fixture
def make_index(settings: Settings, unique_name: str) -> Iterator:
    """Build :class:`RedisVectorIndex` objects on the embedded Redis; every index made is dropped afterwards."""
    made: list[RedisVectorIndex] = []

    def make(dims: int = 3, name: str | None = None, **kwargs: object) -> RedisVectorIndex:
        index = RedisVectorIndex(name or unique_name, dims=dims, settings=settings, **kwargs)  # type: ignore[arg-type]
        made.append(index)
        return index

    yield make
    for index in made:
        if index._index.exists():
            index.drop()
        index.close()
