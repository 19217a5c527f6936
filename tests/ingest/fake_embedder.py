"""A deterministic embedder for plumbing tests (meaning is not under test here): a hashed bag of words."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence

import numpy as np


class HashEmbedder:
    model_name = "hash-bag-of-words"

    def __init__(self, dims: int = 32, delay: float = 0.0, poison: str | None = None) -> None:
        self._dims = dims
        self.delay = delay
        self.poison = poison
        self.calls = 0

    @property
    def dims(self) -> int:
        return self._dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        out = np.zeros((len(texts), self._dims), dtype=np.float32)
        for i, text in enumerate(texts):
            if self.poison and self.poison in text:
                raise RuntimeError(f"cannot embed text containing {self.poison!r}")
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self._dims] += 1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
            out[i, 0] += 1e-3  # never an all-zero vector (cosine is undefined there)
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
