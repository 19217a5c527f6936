from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from redis_rag_integrations import EmbeddedRedis, Settings, redis_url
from redis_rag_integrations.errors import MissingModuleError, RedisConnectionFailed
from redis_rag_integrations.server import free_port


def test_redis_url_prefers_environment(redis_url: str) -> None:
    from redis_rag_integrations import redis_url as resolve

    assert resolve(Settings(redis_url=redis_url)) == redis_url


def test_unset_url_starts_one_shared_embedded_server() -> None:
    first = redis_url(Settings(redis_url=None))
    second = redis_url(Settings(redis_url=None))
    # the shared local server: loopback only, behind a generated password (see local_server.py)
    parts = urlsplit(first)
    assert first == second and parts.scheme == "redis" and parts.hostname == "127.0.0.1" and parts.password


def test_unreachable_url_fails_fast_and_clearly() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    start = time.monotonic()
    with pytest.raises(RedisConnectionFailed, match="cannot reach Redis"):
        redis_url(Settings(redis_url=url))
    assert time.monotonic() - start < 5


def test_blackholed_host_fails_within_connect_timeout() -> None:
    # 10.255.255.1 is unroutable from a sandbox: nothing answers, so only the timeout can end the attempt.
    # (No traffic leaves the machine: the SYN has nowhere to go.)
    start = time.monotonic()
    with pytest.raises(RedisConnectionFailed):
        redis_url(Settings(redis_url="redis://127.0.0.2:1/0", connect_timeout=1.0))
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("url", ["redis://localhost:notaport/0", "redis://:6379/0", "redis://[::1/0"])
def test_malformed_url_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="malformed Redis URL"):
        redis_url(Settings(redis_url=url))


def test_server_without_search_module_names_what_is_missing(tmp_path) -> None:
    with EmbeddedRedis(data_dir=tmp_path) as plain:
        # a second server with no modules loaded: a stand-in for a plain Redis OSS
        plain.stop()
    from redis_rag_integrations.server import find_binaries

    server_bin, _ = find_binaries()
    import subprocess

    port = free_port()
    proc = subprocess.Popen(
        [str(server_bin), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(MissingModuleError, match="no search module") as excinfo:
            redis_url(Settings(redis_url=f"redis://127.0.0.1:{port}/0"))
        assert "Redis Stack" in str(excinfo.value) and "unset REDIS_URL" in str(excinfo.value)
        assert time.monotonic() - start < 5
    finally:
        proc.terminate()
        proc.wait()


def test_password_is_masked_in_errors() -> None:
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(RedisConnectionFailed) as excinfo:
        redis_url(Settings(redis_url=url))
    assert "s3cret" not in str(excinfo.value)
