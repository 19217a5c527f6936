"""The benchmark data: chunks of the Python documentation and the Python FAQ, embedded with the default model.

Random vectors say nothing about HNSW recall or realistic result sizes (ENVIRONMENT.md), so the query benchmarks
run on real text: doc chunks as the index, FAQ questions as the queries. Embedding is the slow part (tens of chunks
per second on a busy CPU), so embeddings are cached on disk in blocks keyed by a hash of the model and the texts:
quick mode's 2,000 chunks are the first blocks of full mode's 10,000, and reruns skip the model entirely.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from redis_rag_integrations.datasets import FaqPair, iter_python_docs, python_faq_pairs
from redis_rag_integrations.embeddings import Embedder, LocalEmbedder

CHUNK_CHARS = 800
BLOCK = 500


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]


def doc_chunks(limit: int) -> list[Chunk]:
    """Paragraph-packed chunks of about ``CHUNK_CHARS`` characters, in page order, at most ``limit``.

    Metadata carries the page's ``section`` (``faq``, ``library``...), ``title`` and ``source``: the latency
    benchmark filters on ``section`` as a TAG, as a real app filters on a category.
    """
    out: list[Chunk] = []
    for doc in iter_python_docs():
        current = ""
        texts: list[str] = []
        for para in (p.strip() for p in doc["text"].split("\n\n")):
            if not para:
                continue
            if current and len(current) + len(para) > CHUNK_CHARS:
                texts.append(current)
                current = ""
            current = f"{current}\n\n{para}" if current else para[: CHUNK_CHARS * 2]
        if current:
            texts.append(current)
        meta = {k: doc["metadata"].get(k, "") for k in ("section", "title", "source")}
        out += [Chunk(f"{doc['id']}#{i}", t, {**meta, "chunk": i}) for i, t in enumerate(texts)]
        if len(out) >= limit:
            break
    return out[:limit]


def faq_pairs(limit: int | None = None) -> list[FaqPair]:
    pairs = python_faq_pairs("snapshot")  # byte-identical evaluation on every machine
    return pairs if limit is None else pairs[:limit]


@lru_cache(maxsize=1)
def embedder() -> LocalEmbedder:
    """The default local model (all-MiniLM-L6-v2), one instance for every section of a run."""
    return LocalEmbedder()


def embed_cached(texts: list[str], cache_dir: Path, model: Embedder | None = None) -> np.ndarray:
    """``texts`` embedded with ``model`` (default: :func:`embedder`), each block of ``BLOCK`` texts cached on disk."""
    model = model or embedder()
    if not texts:
        return np.zeros((0, model.dims), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    blocks = []
    for start in range(0, len(texts), BLOCK):
        block = texts[start : start + BLOCK]
        digest = hashlib.sha256("\x00".join([model.model_name, *block]).encode()).hexdigest()[:16]
        path = cache_dir / f"emb_{len(block)}_{digest}.npy"
        if path.exists():
            blocks.append(np.load(path))
            continue
        began = time.perf_counter()
        vectors = np.asarray(model.embed(block), dtype=np.float32)
        print(f"  embedded {len(block)} texts in {time.perf_counter() - began:.0f} s -> {path.name}", flush=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)  # never a half-written cache file
        blocks.append(vectors)
    return np.concatenate(blocks)
