"""The LLM endpoint down, slow, or failing mid-answer: a clear error within the timeout, and no cache entry written.

The LLM here is a small OpenAI-compatible server on loopback that this file runs (the real ``openai`` client,
``ChatOpenAI`` and ``OpenAILike`` talk to it over HTTP), switched between a healthy mode and the faults: HTTP 500,
a connection dropped after a few streamed tokens, a stall before or during the answer. Redis is the real embedded
server and the cache state is read from Redis itself after every failure.

Covered elsewhere and not repeated: the endpoint probe against a port that never answers and the bundled local
server dying after start-up (``tests/models``), Redis faults in the cache (``tests/cache/test_faults.py``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
import redis
from langchain_core.globals import set_llm_cache
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from llama_index.core import Document as LlamaDocument
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.llms import ChatMessage

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import SemanticCache
from redis_rag_integrations.langchain import CachedRAGChain, RagEmbeddings, RedisSemanticCache
from redis_rag_integrations.langchain.models import chat_model
from redis_rag_integrations.llama_index import CachedQueryEngine, RagEmbedding, SemanticCacheLLM
from redis_rag_integrations.llama_index import RedisVectorStore as LlamaIndexStore
from redis_rag_integrations.llama_index.models import llm as llama_index_llm
from redis_rag_integrations.llm import LLMEndpoint, LLMUnavailableError
from redis_rag_integrations.server import free_port

FULL_ANSWER = "Use a with statement: the file is closed when the block ends."
QUESTION = "How do I make sure a file gets closed?"
TIMEOUT = 1.0  # seconds: the configured LLM timeout in these tests
DEADLINE = 30.0  # a hang guard, far above any retry schedule below; not a speed figure
STALL = 8.0  # how long the slow server keeps a request waiting (bounded, so it always stops by itself)


# ------------------------------------------------------------------------------------------ the loopback LLM
class FakeLLMServer:
    """An OpenAI-compatible ``/v1`` on 127.0.0.1 with a switchable behaviour for ``POST /chat/completions``.

    Modes: ``ok`` answers :data:`FULL_ANSWER` (streamed word by word when asked); ``error`` returns HTTP 500;
    ``drop`` streams two words then cuts the connection (non-streamed requests: cut before any answer); ``cut``
    streams two words then ends the stream cleanly, without the chunk that names a ``finish_reason``;
    ``stall`` waits :data:`STALL` seconds before answering; ``stall_midstream`` streams two words, then waits.
    ``GET /models`` always answers at once, so the probe passes and the fault is in the generation.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.chat_requests = 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.chat_requests += 1
                try:
                    outer.answer(self, body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: that is the point
                    self.close_connection = True

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.handler = Handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def endpoint(self, timeout: float = TIMEOUT) -> LLMEndpoint:
        return LLMEndpoint(self.base_url, "test-key", "fake", "compatible", timeout)

    @staticmethod
    def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        payload = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake", "choices": [choice]}
        return f"data: {json.dumps(payload)}\n\n"

    def answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        mode = self.mode
        if mode == "error":
            handler._json(500, {"error": {"message": "model crashed", "type": "server_error"}})  # type: ignore[attr-defined]
            return
        if mode == "stall":
            self.stop.wait(STALL)
            handler.close_connection = True
            return
        if not body.get("stream"):
            if mode == "drop":
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            message = {"role": "assistant", "content": FULL_ANSWER}
            usage = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
            handler._json(200, {"id": "c1", "object": "chat.completion", "created": 0, "model": "fake",  # type: ignore[attr-defined]
                                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                "usage": usage})  # fmt: skip
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def send(text: str) -> None:
            data = text.encode()
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        words = FULL_ANSWER.split(" ")
        send(self._chunk({"role": "assistant", "content": ""}))
        for n, word in enumerate(words):
            if n == 2 and mode == "drop":
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if n == 2 and mode == "cut":  # a clean end of stream, mid-answer: no finish_reason was sent
                send("data: [DONE]\n\n")
                handler.wfile.write(b"0\r\n\r\n")
                return
            if n == 2 and mode == "stall_midstream":
                self.stop.wait(STALL)
                handler.close_connection = True
                return
            send(self._chunk({"content": word if n == 0 else " " + word}))
        send(self._chunk({}, "stop"))
        send("data: [DONE]\n\n")
        handler.wfile.write(b"0\r\n\r\n")

    def __enter__(self) -> FakeLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


# ------------------------------------------------------------------------------------------ helpers
def cache_entries(client: redis.Redis, name: str) -> tuple[int, int]:
    """(entry keys, documents in the cache's search index), both read from Redis: (0, 0) means nothing written."""
    keys = sum(1 for _ in client.scan_iter(match=f"{name}:entry:*", count=1000))
    docs = int(client.ft(name).info()["num_docs"]) if name.encode() in client.execute_command("FT._LIST") else 0
    return keys, docs


def stored_answers(client: redis.Redis, name: str) -> list[str]:
    return [client.hget(key, "response").decode() for key in client.scan_iter(match=f"{name}:entry:*")]


def assert_names_endpoint(error: BaseException, url: str) -> None:
    message = str(error)
    assert url in message, message
    assert "OPENAI_BASE_URL" in message and "OPENAI_API_KEY" in message, message


def timed(call: Callable[[], Any]) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        call()
    return info.value, time.monotonic() - start


@pytest.fixture
def semantic_cache(redis_url: str, unique_name: str, local_embedder) -> Iterator[SemanticCache]:
    """One real cache index; every wrapper under test writes to it, and the test reads it back from Redis."""
    cache = SemanticCache(local_embedder, name=unique_name, redis_url=redis_url, distance_threshold=0.1)
    yield cache
    cache.delete_index()
    cache.close()


# ------------------------------------------------------------------------------------------ (a) endpoint down
@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
def test_endpoint_down_from_the_environment_names_it_and_the_settings(
    framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a user gets who set OPENAI_BASE_URL to a server that is not running: the factory fails at once."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("REDIS_RAG_LLM_TIMEOUT", "2")
    factory = chat_model if framework == "langchain" else llama_index_llm
    error, elapsed = timed(lambda: factory(Settings()))
    assert isinstance(error, LLMUnavailableError) and "cannot connect" in str(error)
    assert_names_endpoint(error, url)
    assert elapsed < DEADLINE


def test_endpoint_down_after_the_model_was_made_fails_every_call_form(llm_server: FakeLLMServer) -> None:
    endpoint = llm_server.endpoint()
    lc = chat_model(endpoint=endpoint, max_retries=0)
    li = llama_index_llm(endpoint=endpoint, max_retries=0)
    llm_server.__exit__()  # the server goes away; the models still point at it
    for call in (lambda: lc.invoke("hi"), lambda: list(lc.stream("hi")), lambda: li.complete("hi"),
                 lambda: list(li.stream_chat([ChatMessage(role="user", content="hi")]))):  # fmt: skip
        error, _ = timed(call)
        assert isinstance(error, LLMUnavailableError), repr(error)
        assert_names_endpoint(error, endpoint.base_url)


# ------------------------------------------------------------------------------------------ (b) endpoint slow
def test_slow_generation_times_out_within_the_configured_timeout_and_retries(llm_server: FakeLLMServer) -> None:
    """The factory's own retry policy included: the call ends after (retries + 1) x timeout plus back-off."""
    llm_server.mode = "stall"
    settings = Settings(openai_base_url=llm_server.base_url, openai_api_key=None, llm_timeout=TIMEOUT)
    model = chat_model(settings)  # the probe (GET /models) answers at once: only the generation is slow
    error, elapsed = timed(lambda: model.invoke(QUESTION))
    assert isinstance(error, LLMUnavailableError) and f"no answer within {TIMEOUT:g}s" in str(error)
    assert_names_endpoint(error, llm_server.base_url)
    assert llm_server.chat_requests == model.max_retries + 1
    assert elapsed < DEADLINE


@pytest.mark.parametrize("mode", ["stall", "stall_midstream"])
async def test_slow_answer_is_a_timeout_naming_the_endpoint_in_every_call_form(
    llm_server: FakeLLMServer, mode: str
) -> None:
    llm_server.mode = mode
    endpoint = llm_server.endpoint()
    lc = chat_model(endpoint=endpoint, max_retries=0)
    li = llama_index_llm(endpoint=endpoint, max_retries=0)
    messages = [ChatMessage(role="user", content=QUESTION)]
    calls: list[Callable[[], Any]] = [lambda: list(lc.stream(QUESTION)), lambda: list(li.stream_complete(QUESTION))]
    if mode == "stall":
        calls += [lambda: lc.invoke(QUESTION), lambda: li.chat(messages)]
    for call in calls:
        error, elapsed = timed(call)
        assert isinstance(error, LLMUnavailableError) and "no answer within 1s" in str(error), repr(error)
        assert_names_endpoint(error, endpoint.base_url)
        assert elapsed < DEADLINE
    with pytest.raises(LLMUnavailableError, match="no answer within 1s"):
        [chunk async for chunk in lc.astream(QUESTION)]
    with pytest.raises(LLMUnavailableError, match="no answer within 1s"):
        [r async for r in await li.astream_chat(messages)]


# ------------------------------------------------------------------------------------------ (c) no partial writes
@pytest.fixture
def global_llm_cache(redis_url: str, unique_name: str, local_embedder) -> Iterator[RedisSemanticCache]:
    cache = RedisSemanticCache(
        embeddings=RagEmbeddings(local_embedder), redis_url=redis_url, name=unique_name, distance_threshold=0.1
    )
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)
    cache.core.delete_index()


async def test_langchain_llm_cache_keeps_nothing_from_a_failed_generation(
    llm_server: FakeLLMServer, global_llm_cache: RedisSemanticCache, client: redis.Redis, unique_name: str
) -> None:
    endpoint = llm_server.endpoint()
    streaming = chat_model(endpoint=endpoint, max_retries=0, streaming=True)  # invoke streams under the hood
    plain = chat_model(endpoint=endpoint, max_retries=0)
    llm_server.mode = "drop"
    with pytest.raises(LLMUnavailableError, match="broke during the answer"):
        streaming.invoke(QUESTION)
    with pytest.raises(LLMUnavailableError):
        await streaming.ainvoke(QUESTION)
    llm_server.mode = "error"
    with pytest.raises(openai.InternalServerError):
        plain.invoke(QUESTION)
    assert cache_entries(client, unique_name) == (0, 0)
    assert global_llm_cache.stats.stores == 0

    llm_server.mode = "ok"
    requests = llm_server.chat_requests
    assert streaming.invoke(QUESTION).content == FULL_ANSWER  # a miss: the model is called...
    assert llm_server.chat_requests == requests + 1
    assert cache_entries(client, unique_name) == (1, 1)  # ...and its full answer stored
    assert FULL_ANSWER in stored_answers(client, unique_name)[0]
    assert streaming.invoke(QUESTION).content == FULL_ANSWER and llm_server.chat_requests == requests + 1


async def test_cached_rag_chain_keeps_nothing_from_a_failed_generation(
    llm_server: FakeLLMServer, semantic_cache: SemanticCache, client: redis.Redis, unique_name: str
) -> None:
    model = chat_model(endpoint=llm_server.endpoint(), max_retries=0, streaming=True)
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    rag = CachedRAGChain(prompt | model | StrOutputParser(), cache=semantic_cache, chain_id="faults")
    llm_server.mode = "drop"
    with pytest.raises(LLMUnavailableError):
        rag.invoke({"question": QUESTION})
    llm_server.mode = "error"
    with pytest.raises(openai.InternalServerError):
        await rag.ainvoke({"question": QUESTION})
    llm_server.mode = "stall"
    with pytest.raises(LLMUnavailableError, match="no answer within"):
        rag.invoke(QUESTION)
    assert cache_entries(client, unique_name) == (0, 0)

    llm_server.mode = "ok"
    requests = llm_server.chat_requests
    assert rag.invoke({"question": QUESTION}) == FULL_ANSWER and llm_server.chat_requests == requests + 1  # a miss
    assert cache_entries(client, unique_name) == (1, 1) and stored_answers(client, unique_name) == [FULL_ANSWER]
    assert rag.invoke({"question": QUESTION}) == FULL_ANSWER and llm_server.chat_requests == requests + 1  # a hit


async def test_semantic_cache_llm_keeps_nothing_from_a_failed_generation(
    llm_server: FakeLLMServer, semantic_cache: SemanticCache, client: redis.Redis, unique_name: str
) -> None:
    llm = SemanticCacheLLM(llama_index_llm(endpoint=llm_server.endpoint(), max_retries=0), cache=semantic_cache)
    messages = [ChatMessage(role="user", content=QUESTION)]
    llm_server.mode = "error"
    with pytest.raises(openai.InternalServerError):
        llm.complete(QUESTION)
    with pytest.raises(openai.InternalServerError):
        llm.chat(messages)
    llm_server.mode = "drop"
    received: list[str] = []
    with pytest.raises(LLMUnavailableError, match="broke during the answer"):
        for response in llm.stream_complete(QUESTION):
            received.append(response.delta or "")
    assert "".join(received).strip() == " ".join(FULL_ANSWER.split(" ")[:2])  # it did fail mid-stream
    with pytest.raises(LLMUnavailableError):
        [r async for r in await llm.astream_chat(messages)]
    with pytest.raises(LLMUnavailableError):
        await llm.achat(messages)
    llm_server.mode = "stall"
    with pytest.raises(LLMUnavailableError, match="no answer within"):
        await llm.acomplete(QUESTION)
    assert cache_entries(client, unique_name) == (0, 0)

    llm_server.mode = "ok"
    requests = llm_server.chat_requests
    streamed = list(llm.stream_complete(QUESTION))
    assert streamed[-1].text == FULL_ANSWER and llm_server.chat_requests == requests + 1
    assert cache_entries(client, unique_name) == (1, 1) and stored_answers(client, unique_name) == [FULL_ANSWER]
    assert llm.complete(QUESTION).text == FULL_ANSWER and llm_server.chat_requests == requests + 1


@pytest.fixture
def tiny_index(redis_url: str, unique_name: str, local_embedder) -> Iterator[VectorStoreIndex]:
    store = LlamaIndexStore(f"{unique_name}-docs", redis_url=redis_url)
    docs = [LlamaDocument(text="Use a with statement to close files automatically.", id_="files")]
    storage = StorageContext.from_defaults(vector_store=store)
    yield VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=RagEmbedding(local_embedder))
    store.clear()


async def test_cached_query_engine_keeps_nothing_from_a_failed_generation(
    llm_server: FakeLLMServer,
    semantic_cache: SemanticCache,
    tiny_index: VectorStoreIndex,
    client: redis.Redis,
    unique_name: str,
) -> None:
    model = llama_index_llm(endpoint=llm_server.endpoint(), max_retries=0)
    engine = CachedQueryEngine(tiny_index.as_query_engine(llm=model, similarity_top_k=1), cache=semantic_cache)
    llm_server.mode = "drop"
    with pytest.raises(LLMUnavailableError):
        engine.query(QUESTION)
    llm_server.mode = "error"
    with pytest.raises(openai.InternalServerError):
        await engine.aquery(QUESTION)
    assert cache_entries(client, unique_name) == (0, 0)

    llm_server.mode = "ok"
    requests = llm_server.chat_requests
    response = engine.query(QUESTION)
    assert str(response) == FULL_ANSWER and llm_server.chat_requests == requests + 1
    assert cache_entries(client, unique_name) == (1, 1) and stored_answers(client, unique_name) == [FULL_ANSWER]
    again = engine.query(QUESTION)
    assert again.metadata["cache_hit"] is True and str(again) == FULL_ANSWER
    assert llm_server.chat_requests == requests + 1


UNFINISHED = "ended before the answer was finished"


async def test_a_stream_that_ends_cleanly_mid_answer_is_an_error_and_not_in_the_llm_cache(
    llm_server: FakeLLMServer, global_llm_cache: RedisSemanticCache, client: redis.Redis, unique_name: str
) -> None:
    """No finish_reason means the answer may be cut short: the model raises and LangChain's cache keeps nothing."""
    streaming = chat_model(endpoint=llm_server.endpoint(), max_retries=0, streaming=True)
    llm_server.mode = "cut"
    with pytest.raises(LLMUnavailableError, match=UNFINISHED):
        streaming.invoke(QUESTION)
    with pytest.raises(LLMUnavailableError, match=UNFINISHED):
        [c async for c in streaming.astream(QUESTION)]
    assert cache_entries(client, unique_name) == (0, 0)
    assert global_llm_cache.stats.stores == 0
    llm_server.mode = "ok"
    assert streaming.invoke(QUESTION).content == FULL_ANSWER  # a complete stream is still fine, and stored
    assert cache_entries(client, unique_name) == (1, 1)


async def test_a_stream_that_ends_cleanly_mid_answer_is_not_cached_by_our_wrappers(
    llm_server: FakeLLMServer, semantic_cache: SemanticCache, client: redis.Redis, unique_name: str
) -> None:
    endpoint = llm_server.endpoint()
    streaming = chat_model(endpoint=endpoint, max_retries=0, streaming=True)
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    rag = CachedRAGChain(prompt | streaming | StrOutputParser(), cache=semantic_cache, chain_id="cut")
    li = SemanticCacheLLM(llama_index_llm(endpoint=endpoint, max_retries=0), cache=semantic_cache)
    llm_server.mode = "cut"
    with pytest.raises(LLMUnavailableError, match=UNFINISHED):
        list(rag.stream({"question": QUESTION}))
    received: list[str] = []
    with pytest.raises(LLMUnavailableError, match=UNFINISHED):
        for response in li.stream_complete(QUESTION):
            received.append(response.delta or "")
    assert "".join(received).strip() == " ".join(FULL_ANSWER.split(" ")[:2])  # the words before the end arrived
    with pytest.raises(LLMUnavailableError, match=UNFINISHED):
        [r async for r in await li.astream_chat([ChatMessage(role="user", content=QUESTION)])]
    assert cache_entries(client, unique_name) == (0, 0)
