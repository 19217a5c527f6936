"""The int8 ONNX embedder gives the default model's vectors (so thresholds and indexes carry over), in input order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_rag_integrations import Settings
from redis_rag_integrations.datasets import python_faq_pairs
from redis_rag_integrations.embeddings import LocalEmbedder, default_embedder
from redis_rag_integrations.onnx_embedder import OnnxEmbedder, length_groups


@pytest.fixture(scope="module")
def int8() -> OnnxEmbedder:
    return OnnxEmbedder(batch_size=8)


def test_vectors_match_the_float32_model(int8: OnnxEmbedder, local_embedder: LocalEmbedder) -> None:
    pairs = python_faq_pairs()[:20]
    # Mixed lengths (one far beyond the 256-token limit) in one call: sorting by length must not reorder the output.
    texts = [p.answer for p in pairs] + [p.question for p in pairs] + ["word " * 600, "x"]
    got, want = int8.embed(texts), local_embedder.embed(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * want).sum(axis=1)
    assert cosine.min() > 0.995, f"row {int(cosine.argmin())}: cosine {cosine.min():.4f} to the float32 vector"
    # Each question's nearest answer is the same under both models.
    q, a = slice(20, 40), slice(0, 20)
    assert ((got[q] @ got[a].T).argmax(axis=1) == (want[q] @ want[a].T).argmax(axis=1)).mean() >= 0.95


async def test_async_and_bad_input(int8: OnnxEmbedder) -> None:
    assert int8.embed([]).shape == (0, 384)
    assert np.allclose(await int8.aembed(["sorting a list"]), int8.embed(["sorting a list"]), atol=1e-6)
    with pytest.raises(TypeError, match="single string"):
        int8.embed("oops")
    with pytest.raises(TypeError, match="text #1"):
        int8.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        OnnxEmbedder(batch_size=0)


def test_settings_select_it() -> None:
    embedder = default_embedder(Settings(embedding_provider="local-int8"))
    assert isinstance(embedder.documents, OnnxEmbedder) and embedder.dims == 384
    assert default_embedder(Settings(embedding_provider="local-int8")) is embedder


def test_a_batch_gives_each_text_its_single_call_vector(int8: OnnxEmbedder) -> None:
    """Grouped by length and padded per group: a text's vector does not depend on the batch it came in."""
    texts = [p.question for p in python_faq_pairs()[:40]] + ["x", "word " * 300]
    together = OnnxEmbedder(batch_size=32).embed(texts)
    alone = np.stack([int8.embed([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


@given(st.lists(st.integers(min_value=1, max_value=256), max_size=80), st.integers(min_value=1, max_value=40))
def test_length_groups_cover_every_text_once_within_bounds(lengths: list[int], batch_size: int) -> None:
    groups = length_groups(lengths, batch_size)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:
        assert 1 <= len(g) <= batch_size
        assert max(lengths[i] for i in g) <= 1.25 * min(lengths[i] for i in g) + 4
