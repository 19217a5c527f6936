from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from redis_rag_integrations.embeddings import LocalEmbedder
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.llama_index import RagEmbedding


def test_local_embedder_is_offline_minilm(local_embedder: LocalEmbedder) -> None:
    vectors = local_embedder.embed(["How do I sort a list?", "Sorting a list in Python", "The cat sat."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert related > 0.6 > unrelated


def test_local_embedder_rejects_a_bare_string(local_embedder: LocalEmbedder) -> None:
    with pytest.raises(TypeError, match="single string"):
        local_embedder.embed("oops")
    with pytest.raises(TypeError, match="text #1"):
        local_embedder.embed(["ok", 3])  # type: ignore[list-item]


def test_empty_batch(local_embedder: LocalEmbedder) -> None:
    assert local_embedder.embed([]).shape == (0, 384)


def test_dims_is_the_models_output_size_asked_once() -> None:
    """``dims`` runs on every cache lookup: the model is asked once, and the answer is what ``embed`` produces."""
    embedder = LocalEmbedder()
    model = embedder.model
    newer = hasattr(model, "get_embedding_dimension")
    name = "get_embedding_dimension" if newer else "get_sentence_embedding_dimension"
    asked: list[int] = []
    original = getattr(model, name)

    def counting() -> int:
        asked.append(1)
        return original()

    setattr(model, name, counting)
    try:
        assert [embedder.dims for _ in range(3)] == [384] * 3
        assert embedder.embed(["x"]).shape == (1, embedder.dims)
    finally:
        delattr(model, name)  # the model is shared by every LocalEmbedder of this process
    assert len(asked) == 1


async def test_langchain_and_llamaindex_wrappers_agree(local_embedder: LocalEmbedder) -> None:
    lc = RagEmbeddings(local_embedder)
    li = RagEmbedding(local_embedder)
    text = "What is a Python decorator?"
    a, b = np.array(lc.embed_query(text)), np.array(li.get_query_embedding(text))
    assert np.allclose(a, b, atol=1e-6)
    docs = lc.embed_documents(["one", "two"])
    assert len(docs) == 2 and len(docs[0]) == 384
    assert np.allclose(await lc.aembed_query(text), a, atol=1e-6)
    assert np.allclose(await li.aget_query_embedding(text), a, atol=1e-6)
    batch = li.get_text_embedding_batch(["one", "two"])
    assert np.allclose(np.array(batch), np.array(docs), atol=1e-6)


@pytest.mark.parametrize(
    ("entry_point", "given", "expected"),
    [(False, None, "unset"), (True, None, "PASSIVE"), (True, "ACTIVE", "ACTIVE")],
)
def test_only_our_programs_stop_openmp_busy_waiting_and_the_users_choice_wins(
    entry_point: bool, given: str | None, expected: str
) -> None:
    """A library leaves its host's environment alone; ``redis-rag`` and the demo opt in (see ``host.py``)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    call = "import redis_rag_integrations.host as h; h.configure_entry_point(); " if entry_point else ""
    code = f"import os, redis_rag_integrations, torch; {call}print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
