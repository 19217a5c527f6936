"""OpenAIEmbedder against a real HTTP server speaking the OpenAI embeddings API on loopback.

No key and no network here, so the server is a small local stand-in: what is under test is our client plumbing
(batching, order, dims, async), which is the same whatever model answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from redis_rag_integrations import Settings, default_embedder
from redis_rag_integrations.embeddings import OpenAIEmbedder

DIMS = 8


def vector(text: str) -> list[float]:
    return [float((len(text) * (i + 1)) % 7) for i in range(DIMS)]


class Handler(BaseHTTPRequestHandler):
    batches: list[int] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["input"]
        Handler.batches.append(len(texts))
        reply = {
            "object": "list",
            "model": body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.batches = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


async def test_openai_embedder_batches_and_keeps_order(base_url: str) -> None:
    embedder = OpenAIEmbedder("text-embedding-3-small", api_key="test", base_url=base_url, batch_size=2, dims=None)
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    out = embedder.embed(texts)
    assert out.shape == (5, DIMS) and out.dtype == np.float32
    assert np.allclose(out, np.array([vector(t) for t in texts]))
    assert Handler.batches == [2, 2, 1]
    assert np.allclose(await embedder.aembed(texts), out)
    assert embedder.dims == 1536  # known model: no probe request


def test_settings_choose_openai_embeddings(base_url: str) -> None:
    settings = Settings(embedding_provider="openai", openai_api_key="test", openai_base_url=base_url,
                        openai_embedding_model="custom-embedder")  # fmt: skip
    embedder = default_embedder(settings)
    assert isinstance(embedder.documents, OpenAIEmbedder) and embedder.model_name == "custom-embedder"
    assert embedder.dims == DIMS  # unknown model: one probe request tells
