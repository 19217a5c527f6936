"""TLS end to end: ``rediss://`` through stunnel in front of the embedded Redis (see tests/tls_proxy.py).

A good CA works for the store, the caches and chat history (sync and async); mutual TLS works with a client
certificate and is refused without one; a wrong CA or a host name the certificate does not name fails with
:class:`TLSVerificationFailed`, whose message names TLS verification. TLS settings with a plain URL are refused.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from tls_proxy import Certificates, Stunnel, make_certificates, stunnel_binary

from redis_rag_integrations import EmbeddedRedis, Settings
from redis_rag_integrations.cache.exact import ExactCache
from redis_rag_integrations.cache.semantic import SemanticCache
from redis_rag_integrations.connection import async_twin, get_client
from redis_rag_integrations.errors import RedisConnectionFailed, TLSVerificationFailed
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.store import ChatHistoryStore
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.store.layout import Record
from redis_rag_integrations.urls import redis_url as resolve_url


@pytest.fixture(scope="module")
def certs() -> Iterator[Certificates]:
    with tempfile.TemporaryDirectory(prefix="redis-rag-tls-") as directory:
        yield make_certificates(Path(directory))


@pytest.fixture(scope="module")
def tls_port(certs: Certificates, embedded_redis: EmbeddedRedis) -> Iterator[int]:
    """TLS (server certificate only) in front of the session's embedded Redis."""
    stunnel_binary()
    assert embedded_redis.port is not None
    tunnel = Stunnel(certs, embedded_redis.port, certs.ca.parent).start()
    yield tunnel.port
    tunnel.stop()


@pytest.fixture(scope="module")
def mtls_port(certs: Certificates, embedded_redis: EmbeddedRedis) -> Iterator[int]:
    """Mutual TLS: the proxy requires a client certificate signed by the test CA."""
    stunnel_binary()
    assert embedded_redis.port is not None
    tunnel = Stunnel(certs, embedded_redis.port, certs.ca.parent, mutual=True).start()
    yield tunnel.port
    tunnel.stop()


def _settings(url: str, certs: Certificates, **extra: object) -> Settings:
    return Settings(redis_url=url, ssl_ca_certs=certs.ca, **extra)  # type: ignore[arg-type]


def test_rediss_round_trip_store_cache_history(tls_port: int, certs: Certificates, hash_embedder) -> None:
    url = f"rediss://localhost:{tls_port}/0"
    settings = _settings(url, certs)
    assert resolve_url(settings) == url  # the checked default path: PING + module check over TLS
    name = f"tls{uuid.uuid4().hex[:8]}"
    vector = np.asarray(hash_embedder.embed(["over tls"])[0], dtype=np.float32)
    index = RedisVectorIndex(name, dims=len(vector), url=url, settings=settings)
    try:
        index.upsert([Record(id="a", text="over tls", vector=vector)])
        assert [hit.record.id for hit in index.search(vector, k=1)] == ["a"]
        assert [hit.record.id for hit in asyncio.run(index.asearch(vector, k=1))] == ["a"]
    finally:
        index.drop()
    cache = SemanticCache(hash_embedder, name=f"{name}c", redis_url=url, settings=settings)
    try:
        assert cache.store("what is tls?", "transport layer security") is not None
        hit = cache.check("what is tls?")
        assert hit is not None and hit.response == "transport layer security"
    finally:
        cache.delete_index()
    exact = ExactCache(name=f"{name}x", redis_url=url, settings=settings)
    assert exact.set("p", "v") and exact.get("p") == "v"
    exact.clear()
    history = ChatHistoryStore(url, settings=settings, prefix=name)
    history.append("s", [StoredMessage(role="user", content="hello over tls")])
    assert [m.content for m in history.read("s")] == ["hello over tls"]

    async def async_history() -> list[str]:
        await history.aappend("s", [StoredMessage(role="ai", content="hi")])
        return [str(m.content) for m in await history.aread("s")]

    assert asyncio.run(async_history()) == ["hello over tls", "hi"]
    history.delete("s")


def test_rediss_client_is_tls(tls_port: int, certs: Certificates) -> None:
    client = get_client(f"rediss://localhost:{tls_port}/0", settings=_settings(f"rediss://localhost:{tls_port}", certs))

    async def twin_ping() -> bool:
        twin = async_twin(client)  # the asyncio twin of a TLS client speaks TLS with the same files
        try:
            return bool(await twin.ping())
        finally:
            await twin.aclose()

    try:
        assert client.ping()
        assert issubclass(client.connection_pool.connection_class, redis.SSLConnection)
        assert asyncio.run(twin_ping())
    finally:
        client.close()


def test_mutual_tls_with_and_without_client_certificate(mtls_port: int, certs: Certificates) -> None:
    url = f"rediss://localhost:{mtls_port}/0"
    with_cert = _settings(url, certs, ssl_certfile=certs.client_cert, ssl_keyfile=certs.client_key)
    assert resolve_url(with_cert) == url
    client = get_client(url, settings=with_cert)
    try:
        assert client.set(f"mtls:{uuid.uuid4().hex}", "1", ex=5)
    finally:
        client.close()
    with pytest.raises(RedisConnectionFailed) as refused:  # the proxy drops the handshake without a certificate
        resolve_url(_settings(url, certs))
    assert "localhost" in str(refused.value)


def test_wrong_ca_fails_clearly(tls_port: int, certs: Certificates) -> None:
    url = f"rediss://localhost:{tls_port}/0"
    with pytest.raises(TLSVerificationFailed) as failed:
        resolve_url(Settings(redis_url=url, ssl_ca_certs=certs.other_ca))
    message = str(failed.value)
    assert "TLS verification failed" in message and "certificate verify failed" in message
    assert "REDIS_RAG_SSL_CA_CERTS" in message


def test_wrong_host_name_fails_clearly(tls_port: int, certs: Certificates) -> None:
    url = f"rediss://127.0.0.1:{tls_port}/0"  # the certificate names localhost only
    with pytest.raises(TLSVerificationFailed) as failed:
        resolve_url(_settings(url, certs))
    assert "TLS verification failed" in str(failed.value)
    # Not verifying the host name is a choice the user makes, named in the settings.
    assert resolve_url(_settings(url, certs, ssl_check_hostname=False)) == url


def test_cert_reqs_none_skips_verification(tls_port: int, certs: Certificates) -> None:
    url = f"rediss://127.0.0.1:{tls_port}/0"
    assert resolve_url(Settings(redis_url=url, ssl_cert_reqs="none", ssl_ca_certs=certs.other_ca)) == url


def test_tls_settings_with_a_plain_url_are_refused(certs: Certificates, redis_url: str) -> None:
    with pytest.raises(ValueError, match="REDIS_RAG_SSL_CA_CERTS set but the Redis URL is redis://"):
        get_client(redis_url, settings=Settings(redis_url=redis_url, ssl_ca_certs=certs.ca))


def test_key_without_certificate_is_refused(certs: Certificates) -> None:
    with pytest.raises(ValueError, match="ssl_keyfile is set without ssl_certfile"):
        Settings(ssl_keyfile=certs.client_key)


def test_missing_ca_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ssl_ca_certs"):
        Settings(ssl_ca_certs=tmp_path / "nope.pem")


def test_missing_stunnel_fails_under_ci_and_skips_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no stunnel to find
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install stunnel4"):
        stunnel_binary()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install stunnel4"):
        stunnel_binary()
