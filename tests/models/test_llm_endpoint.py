"""Choosing the LLM endpoint, the bundled local server's life cycle, and clear errors for unreachable endpoints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_rag_integrations import Settings
from redis_rag_integrations.llm import (
    OPENAI_BASE_URL,
    LLMEndpoint,
    LLMUnavailableError,
    LocalLLMServer,
    check_endpoint,
    llm_endpoint,
)
from redis_rag_integrations.server import free_port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung LLM server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_api_key_selects_openai_with_the_configured_model() -> None:
    endpoint = llm_endpoint(Settings(openai_api_key="sk-test", llm_model="gpt-4o-mini"), check=False)
    assert (endpoint.kind, endpoint.base_url, endpoint.model) == ("openai", OPENAI_BASE_URL, "gpt-4o-mini")
    assert "sk-test" not in repr(endpoint)


def test_base_url_selects_a_compatible_server_even_with_a_key() -> None:
    settings = Settings(openai_base_url="http://127.0.0.1:11434/v1/", openai_api_key="k", llm_model="llama3.2")
    endpoint = llm_endpoint(settings, check=False)
    assert (endpoint.kind, endpoint.base_url, endpoint.model, endpoint.api_key) == (
        "compatible",
        "http://127.0.0.1:11434/v1",
        "llama3.2",
        "k",
    )
    assert llm_endpoint(Settings(openai_base_url="http://h/v1"), check=False).api_key  # clients need a non-empty key


def test_endpoint_nothing_listens_on_fails_naming_it_and_the_alternatives() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailableError, match="cannot connect") as info:
        llm_endpoint(Settings(openai_base_url=url))
    message = str(info.value)
    assert url in message and "OPENAI_BASE_URL" in message and "OPENAI_API_KEY" in message
    assert isinstance(info.value, ConnectionError)


def test_endpoint_that_never_answers_times_out_with_a_clear_error(silent_server: int) -> None:
    url = f"http://127.0.0.1:{silent_server}/v1"
    with pytest.raises(LLMUnavailableError, match=r"no answer within 1s") as info:
        llm_endpoint(Settings(openai_base_url=url, llm_timeout=1))
    assert url in str(info.value)


def test_no_key_and_no_base_url_selects_the_bundled_local_model(
    no_remote_llm: Settings, local_llm: LocalLLMServer
) -> None:
    endpoint = llm_endpoint(no_remote_llm)
    assert endpoint.kind == "local" and endpoint.model == "smollm2"
    assert endpoint.base_url == local_llm.base_url and endpoint.base_url.startswith("http://127.0.0.1:")
    assert endpoint.context_window == local_llm.n_ctx
    assert check_endpoint(endpoint) == ["smollm2"]
    assert llm_endpoint(no_remote_llm).base_url == endpoint.base_url  # one server per process


def test_local_server_refuses_clients_without_its_key(local_llm: LocalLLMServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{local_llm.base_url}/models", timeout=10)
    assert info.value.code == 401


@pytest.mark.usefixtures("requires_local_llm")
def test_a_random_key_starting_with_a_dash_still_starts_the_server() -> None:
    # token_urlsafe keys start with "-" now and then: passed as a separate argument, argparse took it for an option
    server = LocalLLMServer(n_ctx=512)
    server.api_key = "-" + server.api_key
    with server:
        assert "smollm2" in check_endpoint(LLMEndpoint(server.base_url, server.api_key, "smollm2", "local"))


@pytest.mark.usefixtures("requires_local_llm")
def test_local_server_stop_leaves_no_process(processes) -> None:
    server = LocalLLMServer(n_ctx=512).start()
    pid, base_url = server.pid, server.base_url
    assert pid is not None and processes.alive(pid)
    server.stop()
    assert processes.wait_dead(pid)
    assert not server.running
    with pytest.raises(LLMUnavailableError, match="cannot connect"):
        check_endpoint(LLMEndpoint(base_url, server.api_key, "smollm2", "local"))
    server.stop()  # idempotent


@pytest.mark.usefixtures("requires_local_llm")
def test_bad_model_file_fails_with_the_server_output(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(LLMUnavailableError, match="exited with code"):
        LocalLLMServer(model_path=bogus).start()


@pytest.mark.usefixtures("requires_local_llm")
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_no_orphan_when_python_is_killed(how: str, processes) -> None:
    """The server must die with its parent, even when the parent gets SIGKILL (no atexit then)."""
    script = textwrap.dedent(
        """
        import time
        from redis_rag_integrations.llm import shared_local_llm_server
        print(shared_local_llm_server().pid, flush=True)
        time.sleep(120)
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    assert child.stdout is not None
    server_pid = int(child.stdout.readline())
    assert processes.alive(server_pid)
    if how == "sigterm":
        child.terminate()
    else:
        child.kill()
    child.wait(timeout=30)
    assert processes.wait_dead(server_pid), f"the LLM server {server_pid} outlived its parent ({how})"
