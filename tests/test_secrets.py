"""Passwords never leak: not into log records (DEBUG included), exception messages or tracebacks, reprs, nor the
output of ``redis-rag info`` / ``stats``, whichever way a connection fails (unreachable, wrong password, TLS, an ACL
refusal). The passwords hold URL-special characters, percent-encoded in the URL as they must be.
"""

from __future__ import annotations

import logging
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from tls_proxy import Stunnel, make_certificates, stunnel_binary

from redis_rag_integrations import EmbeddedRedis, Settings, cli
from redis_rag_integrations._children import free_port
from redis_rag_integrations.acl import PermissionDenied, create_user
from redis_rag_integrations.clients import RedisClients
from redis_rag_integrations.connection import get_client, mask_url
from redis_rag_integrations.errors import AuthenticationFailed, RedisConnectionFailed, TLSVerificationFailed
from redis_rag_integrations.settings import get_settings
from redis_rag_integrations.urls import redis_url as resolve_url

SECRET = "Pw:s3cr@t/#?%&=+ x"  # every character that needs quoting in a URL's userinfo
QUOTED = quote(SECRET, safe="")
FORMS = (SECRET, QUOTED, quote(SECRET))


def assert_hidden(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, f"password leaked: {text!r}"


def exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedRedis]:
    """A server whose default user has SECRET, plus a read-only role user with the same password."""
    with EmbeddedRedis(appendonly=False, password=SECRET) as srv:
        admin = redis.Redis(host="127.0.0.1", port=srv.port, password=SECRET)
        create_user(admin, "rag-reader", SECRET, "rag-reader")
        admin.close()
        yield srv


def _url(port: int, user: str = "", password: str = SECRET, scheme: str = "redis") -> str:
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@localhost:{port}/0"


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog
    assert_hidden(caplog.text, *(str(r.args) for r in caplog.records))


def test_unreachable_server(debug_logs: pytest.LogCaptureFixture) -> None:
    url = _url(free_port())
    with pytest.raises(RedisConnectionFailed) as failed:
        resolve_url(Settings(redis_url=url, connect_timeout=0.5))
    assert_hidden(exception_text(failed.value))
    assert "localhost" in str(failed.value)


def test_wrong_password(server: EmbeddedRedis) -> None:
    url = _url(server.port or 0, password=SECRET + "-wrong")
    with pytest.raises(AuthenticationFailed) as failed:
        resolve_url(Settings(redis_url=url))
    assert "refused the user name / password" in str(failed.value)
    assert_hidden(exception_text(failed.value))
    wrong = SECRET + "-wrong"
    assert wrong not in exception_text(failed.value) and quote(wrong, safe="") not in exception_text(failed.value)


def test_password_from_settings_is_used_and_hidden(server: EmbeddedRedis) -> None:
    url = f"redis://localhost:{server.port}/0"
    settings = Settings(redis_url=url, redis_password=SECRET)
    assert resolve_url(settings) == url
    client = get_client(url, settings=settings)
    try:
        assert client.ping()
    finally:
        client.close()
    assert_hidden(repr(settings), str(settings), repr(settings.model_dump()))
    with pytest.raises(ValueError, match="credentials given twice"):
        get_client(_url(server.port or 0), settings=settings)


def test_permission_denied(server: EmbeddedRedis) -> None:
    client = get_client(_url(server.port or 0, user="rag-reader"), settings=Settings())
    try:
        with pytest.raises(PermissionDenied) as denied:
            client.set("k", "v")
    finally:
        client.close()
    assert "rag-reader" in str(denied.value)
    assert_hidden(exception_text(denied.value))


def test_tls_failure() -> None:
    stunnel_binary()
    with tempfile.TemporaryDirectory(prefix="redis-rag-tls-") as directory:
        certs = make_certificates(Path(directory))
        tunnel = Stunnel(certs, free_port(), Path(directory)).start()
        try:
            url = _url(tunnel.port, scheme="rediss")
            with pytest.raises(TLSVerificationFailed) as failed:
                resolve_url(Settings(redis_url=url, ssl_ca_certs=certs.other_ca))
        finally:
            tunnel.stop()
    assert_hidden(exception_text(failed.value))


def test_reprs(server: EmbeddedRedis) -> None:
    url = _url(server.port or 0)
    settings = Settings(redis_url=url)
    holder = RedisClients(url, settings=settings)
    assert holder.client.ping()
    client = get_client(url, settings=settings)
    try:
        assert_hidden(repr(settings), str(settings), repr(holder), repr(client), repr(client.connection_pool))
    finally:
        client.close()
    assert mask_url(url) in repr(settings)


@pytest.mark.parametrize("user", ["", "rag-reader"])
def test_cli_info_and_stats(
    server: EmbeddedRedis, user: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(server.port or 0, user=user)
    assert cli.main(["info", "--url", url]) == 0
    out = capsys.readouterr()
    assert f"localhost:{server.port}" in out.out
    cli.main(["stats", "--url", url])  # rag-reader may not run INFO: an error, without the password
    cli.main(["info", "--url", _url(server.port or 0, user=user, password=SECRET + "x")])  # refused password
    monkeypatch.setenv("REDIS_URL", url)
    get_settings.cache_clear()
    try:
        cli.main(["info"])
        cli.main(["stats", "--json"])
    finally:
        monkeypatch.delenv("REDIS_URL")
        get_settings.cache_clear()
    out2 = capsys.readouterr()
    assert_hidden(out.out, out.err, out2.out, out2.err)


@given(
    password=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    user=st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
)
def test_mask_url_hides_any_password(password: str, user: str) -> None:
    quoted_user = quote(user, safe="")
    for scheme, hosts in (("redis", "127.0.0.1:6379"), ("rediss", "h:1"), ("redis+sentinel", "h1:1,h2:2")):
        url = f"{scheme}://{quoted_user}:{quote(password, safe='')}@{hosts}/0"
        assert mask_url(url) == f"{scheme}://{quoted_user}:***@{hosts}/0"
        assert repr(Settings(redis_url=url)).count("***") == 1
