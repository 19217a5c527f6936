"""Fixtures of the vector store tests: a deterministic fake embedder for plumbing tests, index cleanup."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.store import RedisVectorIndex


class HashEmbedder:
    """Deterministic 16-dim unit vectors from a text's hash: for tests about plumbing, not meaning."""

    model_name = "hash-16"
    dims = 16

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dims).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dims)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


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
