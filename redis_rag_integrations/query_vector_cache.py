"""An exact cache of question vectors in Redis: a question asked before costs no model call, in any process.

Why: on a CPU the query embedding is most of the time from a question to its documents (about 10 ms with the torch
MiniLM against 0.3 ms for the Redis search), and applications see the same questions again and again (FAQ
traffic, retries, the same question from several users). The semantic answer cache cannot skip that model call:
it needs the question's vector to look the answer up. This cache can: the key is a hash of the exact text and the
model, the value the vector's float32 bytes.

Keys (``namespace`` defaults to ``rag:qvec``):

* ``{namespace}:{sha256}`` (STRING): the vector as little-endian float32 bytes, with the TTL; the digest is of the
  JSON array ``[model_name, dims, text]``, so no two (model, text) pairs share a key (redisvl's ``EmbeddingsCache``
  hashes ``f"{text}:{model}"``, where ``("a:b", "c")`` and ``("a", "b:c")`` collide, and has no size bound);
* ``{namespace}:order`` (ZSET): those keys by insertion time; past ``max_entries`` the oldest are evicted.

Exact or nothing: a value whose length is not ``dims`` float32s is ignored (and recomputed), and a Redis fault is a
miss (logged once per outage, then Redis is left alone for ``retry_interval`` seconds): the model answers instead.
The cache never starts a server: with no ``redis_url`` it uses ``REDIS_URL`` or the local server if one is
already running, and is off otherwise.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np

from .cache.guard import REDIS_FAULTS, FaultGuard
from .clients import RedisClients
from .settings import Settings, get_settings

__all__ = ["QueryVectorCache"]

DEFAULT_NAMESPACE = "rag:qvec"
#: Seconds between looks for a running local server while none was found.
_RECHECK = 5.0


class QueryVectorCache:
    """``(model, dims, text) -> vector``, exact, in Redis, with a TTL and a bound on entries.

    Args:
        redis_url: the Redis to use; default ``REDIS_URL`` or an already running local server (never started here).
        namespace: key prefix (see the module docstring).
        ttl: seconds a vector lives; default ``Settings.query_vector_cache_ttl`` (``None`` = forever).
        max_entries: bound on vectors; default ``Settings.query_vector_cache_max_entries``.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        settings: Settings | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        ttl: int | None = -1,
        max_entries: int | None = -1,
        retry_interval: float = 5.0,
    ) -> None:
        self.settings = settings or get_settings()
        if not isinstance(namespace, str) or not namespace or any(c.isspace() for c in namespace):
            raise ValueError(f"namespace must be a non-empty string without whitespace, got {namespace!r}")
        self.namespace = namespace
        self.ttl = self.settings.query_vector_cache_ttl if ttl == -1 else ttl
        self.max_entries = self.settings.query_vector_cache_max_entries if max_entries == -1 else max_entries
        if self.ttl is not None and (isinstance(self.ttl, bool) or not isinstance(self.ttl, int) or self.ttl < 1):
            raise ValueError(f"ttl must be a positive int (seconds) or None, got {self.ttl!r}")
        if self.max_entries is not None and (
            isinstance(self.max_entries, bool) or not isinstance(self.max_entries, int) or self.max_entries < 1
        ):
            raise ValueError(f"max_entries must be a positive int or None, got {self.max_entries!r}")
        self._url = redis_url
        self._clients: RedisClients | None = None
        self._next_check = 0.0  # when to look for a running local server again (no URL configured)
        # An optimisation on the query path: a read-only retriever (ACL role rag-reader) may not write it, and must
        # still retrieve; the refusal is warned about, not raised.
        self.guard = FaultGuard(f"query vectors {namespace}", retry_interval, raise_denied=False)

    # --- keys -----------------------------------------------------------------------------------------------------
    def key(self, model_name: str, dims: int, text: str) -> str:
        payload = json.dumps([model_name, dims, text], ensure_ascii=False, separators=(",", ":"))
        return f"{self.namespace}:{hashlib.sha256(payload.encode('utf-8', 'surrogatepass')).hexdigest()}"

    @property
    def order_key(self) -> str:
        return f"{self.namespace}:order"

    # --- connection -----------------------------------------------------------------------------------------------
    def _holder(self) -> RedisClients | None:
        """The clients, or ``None`` while no Redis is known (the cache is then off: never start a server here).

        With no URL configured, the local server is looked for again every ``_RECHECK`` seconds: an application's
        first embedding (a vector store's dimension probe) often comes before its store starts that server.
        """
        if self._clients is None and time.monotonic() >= self._next_check:
            url = self._url or self.settings.redis_url or _running_local_server(self.settings)
            if url:
                self._clients = RedisClients(url, settings=self.settings, require=())
            else:
                self._next_check = time.monotonic() + _RECHECK
        return self._clients

    # --- sync -----------------------------------------------------------------------------------------------------
    def get(self, model_name: str, dims: int, text: str) -> np.ndarray | None:
        """The cached vector of ``text`` by ``model_name`` (a float32 array of ``dims``), or ``None``."""
        holder = self._holder()
        if holder is None or not self.guard.available():
            return None
        try:
            blob = holder.client.get(self.key(model_name, dims, text))
        except REDIS_FAULTS as exc:
            self.guard.failed("lookup", exc)
            return None
        self.guard.succeeded()
        return _vector(blob, dims)

    def put(self, model_name: str, dims: int, text: str, vector: np.ndarray) -> None:
        """Keep ``vector`` for ``text``; a Redis fault drops it (logged)."""
        holder = self._holder()
        blob = _blob(vector, dims)
        if holder is None or blob is None or not self.guard.available():
            return
        key = self.key(model_name, dims, text)
        try:
            pipe = holder.client.pipeline(transaction=False)
            self._queue_put(pipe, key, blob)
            excess = self._excess(pipe.execute())
            if excess:
                evicted = [k for k, _ in holder.client.zpopmin(self.order_key, excess)]
                if evicted:
                    holder.client.delete(*evicted)
        except REDIS_FAULTS as exc:
            self.guard.failed("store", exc)
            return
        self.guard.succeeded()

    def clear(self) -> int:
        """Delete every vector of this namespace (tests, model upgrades); returns how many were deleted."""
        holder = self._holder()
        if holder is None:
            return 0
        client = holder.client
        keys = [k for k in client.scan_iter(match=f"{_glob_escape(self.namespace)}:*", count=1000)]
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return max(len(keys) - (1 if any(_text(k) == self.order_key for k in keys) else 0), 0)

    # --- async ----------------------------------------------------------------------------------------------------
    async def aget(self, model_name: str, dims: int, text: str) -> np.ndarray | None:
        holder = self._holder()
        if holder is None or not self.guard.available():
            return None
        try:
            client = await holder.aclient()
            blob = await client.get(self.key(model_name, dims, text))
        except REDIS_FAULTS as exc:
            self.guard.failed("lookup", exc)
            return None
        self.guard.succeeded()
        return _vector(blob, dims)

    async def aput(self, model_name: str, dims: int, text: str, vector: np.ndarray) -> None:
        holder = self._holder()
        blob = _blob(vector, dims)
        if holder is None or blob is None or not self.guard.available():
            return
        key = self.key(model_name, dims, text)
        try:
            client = await holder.aclient()
            pipe = client.pipeline(transaction=False)
            self._queue_put(pipe, key, blob)
            excess = self._excess(await pipe.execute())
            if excess:
                evicted = [k for k, _ in await client.zpopmin(self.order_key, excess)]
                if evicted:
                    await client.delete(*evicted)
        except REDIS_FAULTS as exc:
            self.guard.failed("store", exc)
            return
        self.guard.succeeded()

    # --- shared -----------------------------------------------------------------------------------------------------
    def _queue_put(self, pipe: Any, key: str, blob: bytes) -> None:
        pipe.set(key, blob, ex=self.ttl)
        pipe.zadd(self.order_key, {key: time.time()})
        if self.ttl is not None:  # entries expire; so does the order once nothing was added for a TTL
            pipe.expire(self.order_key, self.ttl)
        pipe.zcard(self.order_key)

    def _excess(self, results: list[Any]) -> int:
        if self.max_entries is None:
            return 0
        return max(int(results[-1]) - self.max_entries, 0)

    def __repr__(self) -> str:
        return f"QueryVectorCache(namespace={self.namespace!r}, ttl={self.ttl}, max_entries={self.max_entries})"


def _vector(blob: bytes | None, dims: int) -> np.ndarray | None:
    if blob is None or len(blob) != 4 * dims:
        return None  # absent, or not a vector of this model's size: recomputed, never served
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _blob(vector: np.ndarray, dims: int) -> bytes | None:
    arr = np.asarray(vector, dtype="<f4").reshape(-1)
    if arr.shape[0] != dims or not np.all(np.isfinite(arr)):
        return None  # never cache what could not be served back exactly
    return arr.tobytes()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _running_local_server(settings: Settings) -> str | None:
    """The URL of the local server when one is already running; never starts one."""
    if settings.local_server == "private":
        return None
    from . import local_server

    found = local_server.status(local_server.data_dir(settings))
    return found.url if found is not None else None
