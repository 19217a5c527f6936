"""Fake embedders for plumbing tests (keys, TTLs, filters, faults, ingestion), where meaning is not under test.

Tests about meaning use the real model (the ``embedder`` fixture). ``tests`` is not a package: the root conftest
puts this directory on ``sys.path``, so any test (or a subprocess script that does the same) imports ``fakes``.

- :class:`HashEmbedder`: each text to a unit vector seeded by its SHA-256. Equal texts give equal vectors, different
  texts nearly orthogonal ones: a lookup finds exactly what was stored.
- :class:`WordsEmbedder`: a bag of hashed words. Texts that share words are near: recall and ranking tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence

import numpy as np


class HashEmbedder:
    """Deterministic unit vectors from a text's hash; ``calls`` counts ``embed`` calls."""

    model_name = "hash-embedder"

    def __init__(self, dims: int = 16) -> None:
        self.dims = dims
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(self.dims).astype(np.float32)
            rows.append(vec / np.linalg.norm(vec))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dims)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


class WordsEmbedder:
    """A hashed bag of words (MD5, so the same in every process). ``delay`` slows each call (backpressure tests),
    ``poison`` makes texts containing it fail (dead-letter tests); ``calls`` counts ``embed`` calls."""

    model_name = "hash-bag-of-words"

    def __init__(self, dims: int = 32, delay: float = 0.0, poison: str | None = None) -> None:
        self.dims = dims
        self.delay = delay
        self.poison = poison
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            if self.poison and self.poison in text:
                raise RuntimeError(f"cannot embed text containing {self.poison!r}")
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dims] += 1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
            out[i, 0] += 1e-3  # never an all-zero vector (cosine is undefined there)
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
