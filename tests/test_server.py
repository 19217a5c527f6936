from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis
from redis_rag_integrations.connection import get_client, server_modules


def test_embedded_server_has_search_json_and_vectorset(embedded_redis: EmbeddedRedis) -> None:
    client = get_client(embedded_redis.url)
    assert {"search", "ReJSON", "vectorset"} <= set(server_modules(client))
    assert client.info("server")["redis_version"].startswith("8.")
    assert client.config_get("appendonly")["appendonly"] == "yes"


def test_stop_leaves_no_process_and_removes_temp_dir(processes) -> None:
    server = EmbeddedRedis().start()
    pid, data_dir = server.pid, server.data_dir
    assert pid is not None and data_dir is not None and data_dir.exists()
    server.stop()
    assert processes.wait_dead(pid, timeout=10)
    assert not data_dir.exists()
    assert not server.running
    server.stop()  # idempotent


def test_data_persists_in_a_given_data_dir(tmp_path) -> None:
    with EmbeddedRedis(data_dir=tmp_path) as server:
        redis.Redis.from_url(server.url).set("k", "v")
    assert (tmp_path / "appendonlydir").exists()
    with EmbeddedRedis(data_dir=tmp_path) as server:
        assert redis.Redis.from_url(server.url).get("k") == b"v"


def test_taken_port_gives_a_clear_error(embedded_redis: EmbeddedRedis) -> None:
    from redis_rag_integrations.errors import EmbeddedRedisError

    with pytest.raises(EmbeddedRedisError, match=r"exited|did not answer"):
        EmbeddedRedis(port=embedded_redis.port, startup_timeout=5).start()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_no_orphan_when_python_is_killed(how: str, processes) -> None:
    """The server must die with its parent, even when the parent gets SIGKILL (no atexit then)."""
    script = textwrap.dedent(
        """
        import sys, time
        from redis_rag_integrations import redis_url
        from redis_rag_integrations.server import shared_embedded_server
        redis_url()
        print(shared_embedded_server().pid, flush=True)
        time.sleep(60)
        """
    )
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "REDIS_RAG_LOCAL_SERVER": "private"}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    assert child.stdout is not None
    server_pid = int(child.stdout.readline())
    assert processes.alive(server_pid)
    if how == "sigterm":
        child.terminate()
    else:
        child.kill()
    child.wait(timeout=10)
    assert processes.wait_dead(server_pid, timeout=10), f"redis-server {server_pid} outlived its parent ({how})"


def test_starting_the_embedded_server_leaves_the_hosts_signal_handlers_alone() -> None:
    """A library installs no signal handler unasked; the server still stops with its parent (PR_SET_PDEATHSIG)."""
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "REDIS_RAG_LOCAL_SERVER": "private"}
    code = (
        "import signal; from redis_rag_integrations import redis_url; redis_url(); "
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "True"


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_relative_data_dir_works_and_is_kept_absolute(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with EmbeddedRedis(data_dir="./redis-data") as server:
        redis.Redis.from_url(server.url).set("k", "v")
        assert server.data_dir == tmp_path / "redis-data"
    assert (tmp_path / "redis-data" / "appendonlydir").is_dir()
    with EmbeddedRedis(data_dir="redis-data") as server:
        assert redis.Redis.from_url(server.url).get("k") == b"v"


def test_cli_server_with_a_relative_data_dir(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COLUMNS"] = "300"
    cmd = [sys.executable, "-m", "redis_rag_integrations", "server", "--data-dir", "./rd"]
    child = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    try:
        first = child.stdout.readline()
        assert "running at redis://127.0.0.1:" in first, first + child.stdout.read()
    finally:
        child.terminate()
        rest = child.communicate(timeout=30)[0]
    assert child.returncode == 0, rest
    assert (tmp_path / "rd" / "appendonlydir").is_dir()


def test_a_failed_start_closes_what_it_opened(tmp_path) -> None:
    from redis_rag_integrations.errors import EmbeddedRedisError

    before = _open_fds()
    server = EmbeddedRedis(data_dir=tmp_path, extra_args=["--no-such-option", "1"])
    with pytest.raises(EmbeddedRedisError, match="no-such-option"):
        server.start()
    assert _open_fds() - before == set()
    assert not server.running
