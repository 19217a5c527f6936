"""Every component of the package behind one small interface, so each fault is written once and run on all of them.

A component writes and reads numbered items (``write(n)`` / ``read(n)``, with async twins where the component has
an async API) through its own public API, and counts the copies of an item (``count(n)``) through a twin built on
the server's direct address, so a check never goes through the fault under test. Caches ``degrade``: a fault is a
miss or a skipped store, never an exception.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from redis_rag_integrations import Settings
from redis_rag_integrations.cache import ExactCache, SemanticCache
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.ingest import Producer, Worker, chunk_id
from redis_rag_integrations.langchain import RagEmbeddings
from redis_rag_integrations.langchain import RedisVectorStore as LangChainStore
from redis_rag_integrations.llama_index import RedisVectorStore as LlamaIndexStore
from redis_rag_integrations.store.index import RedisVectorIndex

sys.path.insert(0, str(Path(__file__).parent.parent / "ingest"))
from fakes import WordsEmbedder as HashEmbedder

EMBEDDER = HashEmbedder(dims=32)


def text(n: int) -> str:
    """Item ``n``'s text: words of its own, so its (bag-of-words) vector is nearest to itself."""
    return f"fact{n} about topic{n} number{n}"


class Component:
    """Base: what every fault test needs from a component. Subclasses fill in the calls."""

    kind = ""
    degrades = False  # a cache: faults become misses / skipped stores
    has_async = True
    index_name: str | None = None  # the search index the component uses, if any

    def __init__(self, url: str, direct_url: str, name: str, settings: Settings) -> None:
        self.url, self.direct_url, self.name, self.settings = url, direct_url, name, settings

    def stage(self, n: int) -> None:
        """Work that happens outside the component before item ``n`` is written (the worker's published event)."""

    def write(self, n: int) -> Any:
        raise NotImplementedError

    def read(self, n: int) -> bool:
        raise NotImplementedError

    async def awrite(self, n: int) -> Any:
        raise NotImplementedError

    async def aread(self, n: int) -> bool:
        raise NotImplementedError

    def count(self, n: int) -> int:
        """Copies of item ``n`` in Redis, read over the direct address (0: absent, >1: written twice)."""
        return int(self.twin().read(n))

    def twin(self) -> Component:
        twin = getattr(self, "_twin", None)
        if twin is None:
            twin = self._twin = type(self)(self.direct_url, self.direct_url, self.name, Settings())
        return twin


class LangChainComponent(Component):
    kind = "langchain_store"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.store = LangChainStore(RagEmbeddings(EMBEDDER), self.name, redis_url=self.url, settings=self.settings)
        self.index_name = self.name

    def write(self, n: int) -> Any:
        return self.store.add_texts([text(n)], ids=[f"d{n}"])

    def read(self, n: int) -> bool:
        return any(d.id == f"d{n}" for d in self.store.similarity_search(text(n), k=3))

    async def awrite(self, n: int) -> Any:
        return await self.store.aadd_texts([text(n)], ids=[f"d{n}"])

    async def aread(self, n: int) -> bool:
        return any(d.id == f"d{n}" for d in await self.store.asimilarity_search(text(n), k=3))


class LlamaIndexComponent(Component):
    kind = "llama_index_store"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.store = LlamaIndexStore(self.name, dims=32, redis_url=self.url, settings=self.settings)
        self.index_name = self.name

    @staticmethod
    def _node(n: int) -> TextNode:
        return TextNode(id_=f"d{n}", text=text(n), embedding=EMBEDDER.embed([text(n)])[0].tolist())

    @staticmethod
    def _query(n: int) -> VectorStoreQuery:
        return VectorStoreQuery(query_embedding=EMBEDDER.embed([text(n)])[0].tolist(), similarity_top_k=3)

    def write(self, n: int) -> Any:
        return self.store.add([self._node(n)])

    def read(self, n: int) -> bool:
        return f"d{n}" in (self.store.query(self._query(n)).ids or [])

    async def awrite(self, n: int) -> Any:
        return await self.store.async_add([self._node(n)])

    async def aread(self, n: int) -> bool:
        return f"d{n}" in ((await self.store.aquery(self._query(n))).ids or [])


class SemanticCacheComponent(Component):
    kind = "semantic_cache"
    degrades = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.cache = SemanticCache(
            EMBEDDER, name=self.name, redis_url=self.url, settings=self.settings, retry_interval=0.0, verify=False
        )
        self.index_name = self.name

    def write(self, n: int) -> Any:
        return self.cache.store(text(n), f"answer {n}")

    def read(self, n: int) -> bool:
        hit = self.cache.check(text(n))
        return hit is not None and hit.response == f"answer {n}"

    async def awrite(self, n: int) -> Any:
        return await self.cache.astore(text(n), f"answer {n}")

    async def aread(self, n: int) -> bool:
        hit = await self.cache.acheck(text(n))
        return hit is not None and hit.response == f"answer {n}"


class ExactCacheComponent(Component):
    kind = "exact_cache"
    degrades = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.cache = ExactCache(name=self.name, redis_url=self.url, settings=self.settings, retry_interval=0.0)

    def write(self, n: int) -> Any:
        return self.cache.set(text(n), f"answer {n}")

    def read(self, n: int) -> bool:
        return self.cache.get(text(n)) == f"answer {n}"

    async def awrite(self, n: int) -> Any:
        return await self.cache.aset(text(n), f"answer {n}")

    async def aread(self, n: int) -> bool:
        return await self.cache.aget(text(n)) == f"answer {n}"


class HistoryComponent(Component):
    kind = "history"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.history = ChatHistoryStore(self.url, prefix=self.name, settings=self.settings)

    def write(self, n: int) -> Any:
        return self.history.append("session", [StoredMessage(role="user", content=text(n))])

    def read(self, n: int) -> bool:
        return self._copies(self.history.read("session"), n) > 0

    async def awrite(self, n: int) -> Any:
        return await self.history.aappend("session", [StoredMessage(role="user", content=text(n))])

    async def aread(self, n: int) -> bool:
        return self._copies(await self.history.aread("session"), n) > 0

    @staticmethod
    def _copies(messages: list[StoredMessage], n: int) -> int:
        return sum(m.content == text(n) for m in messages)

    def count(self, n: int) -> int:
        return self._copies(self.twin().history.read("session"), n)  # type: ignore[attr-defined]


class ProducerComponent(Component):
    kind = "producer"
    has_async = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.producer = Producer(self.name, redis_url=self.url, settings=self.settings)

    def write(self, n: int) -> Any:
        return self.producer.upsert(f"d{n}", text(n))

    def read(self, n: int) -> bool:
        return self._copies(n) > 0

    def _copies(self, n: int) -> int:
        entries = self.producer.client.xrange(self.producer.keys.events)
        return sum(json.loads(fields[b"body"])["doc_id"] == f"d{n}" for _, fields in entries)

    def count(self, n: int) -> int:
        return self.twin()._copies(n)  # type: ignore[attr-defined]


class WorkerComponent(Component):
    """The ingestion worker: an event is published over the direct address (``stage``), the worker under the
    fault processes it (``write``: one batch), and ``read`` looks the chunk up through the worker's index."""

    kind = "worker"
    has_async = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.index = RedisVectorIndex(self.name, dims=32, url=self.url, settings=self.settings)
        self.index_name = self.name
        self.worker = Worker(self.index, EMBEDDER, splitter=lambda t: [t], claim_idle_ms=1, block_ms=10)
        self._producer: Producer | None = None

    def stage(self, n: int) -> None:
        self._producer = self._producer or Producer(self.name, redis_url=self.direct_url)
        self._producer.upsert(f"d{n}", text(n))

    def write(self, n: int) -> Any:
        handled = 0
        for _ in range(5):  # pending entries (a failed earlier batch) first, then new events
            if not (done := self.worker.process_once()):
                break
            handled += done
        return handled

    def read(self, n: int) -> bool:
        hits = self.index.search(EMBEDDER.embed([text(n)])[0], k=3)
        return any(hit.record.id == chunk_id(f"d{n}", 0) for hit in hits)


COMPONENTS: list[type[Component]] = [
    LangChainComponent,
    LlamaIndexComponent,
    SemanticCacheComponent,
    ExactCacheComponent,
    HistoryComponent,
    ProducerComponent,
    WorkerComponent,
]
