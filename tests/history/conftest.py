"""Fixtures for the chat history tests: a store under a fresh prefix on the embedded Redis."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.history import ChatHistoryStore


@pytest.fixture
def store(redis_url: str, unique_name: str) -> Iterator[ChatHistoryStore]:
    s = ChatHistoryStore(redis_url, prefix=unique_name, settings=Settings(redis_url=redis_url))
    yield s
    for sid in s.sessions():
        s.delete(sid)
    s.close()


class HashEmbedder:
    """A deterministic fake embedding for plumbing tests (meaning does not matter there)."""

    model_name = "hash-fake"
    dims = 16

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, hash(word) % self.dims] += 1.0
            out[i] /= max(1e-6, float(np.linalg.norm(out[i])))
        return out

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()
