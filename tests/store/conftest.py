"""Fixtures of the vector store tests: a deterministic fake embedder for plumbing tests, index cleanup."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
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


ROOT = Path(__file__).resolve().parents[2]
LEGACY_PYTHON = ROOT / ".venv-legacy" / "bin" / "python"
#: Written by scripts/setup-legacy-venv.sh only after a complete install (a half-built venv is "absent").
LEGACY_STAMP = ROOT / ".venv-legacy" / ".installed"
WRITER = ROOT / "scripts" / "legacy" / "write_llamaindex_legacy.py"


@pytest.fixture
def write_llamaindex_legacy(redis_url: str) -> Callable[[str, dict, Sequence[np.ndarray]], None]:
    """Write ``{key: (text, metadata)}`` as nodes ``node-{key}`` of document ``doc-{key}`` into index ``name``,
    with llama-index-vector-stores-redis 0.9 in its default layout (``scripts/legacy/write_llamaindex_legacy.py``).
    That package pins redisvl<0.5, so it lives in its own venv; the test is skipped when that venv is absent."""
    if not LEGACY_STAMP.exists():
        pytest.skip(".venv-legacy is absent or incomplete: run scripts/setup-legacy-venv.sh")

    def write(name: str, texts: dict, vectors: Sequence[np.ndarray]) -> None:
        rows = [
            {"id": f"node-{i}", "text": t, "metadata": m, "doc_id": f"doc-{i}", "embedding": v.tolist()}
            for (i, (t, m)), v in zip(texts.items(), vectors, strict=True)
        ]
        done = subprocess.run(
            [str(LEGACY_PYTHON), str(WRITER), redis_url, name],
            input=json.dumps(rows),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    return write
