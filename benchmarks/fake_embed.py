"""A deterministic stand-in embedder for load and soak runs: numpy only, no model.

Why: a load test of Redis and of our code must not measure a neural network. Each text maps to a fixed unit vector
(seeded by a hash of the text), so equal texts embed equally -- a cache lookup of a stored prompt is an exact hit --
and different texts land far apart, as random vectors in 32 dimensions do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class FakeEmbedder:
    """``embed(texts)``: one seeded random unit vector per text, float32, ``dims`` wide (default 32)."""

    model_name = "fake-hash-embedder"

    def __init__(self, dims: int = 32) -> None:
        self._dims = dims

    @property
    def dims(self) -> int:
        return self._dims

    def _one(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self._dims).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self._dims), np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)
