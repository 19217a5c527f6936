"""The persistent zero-setup default: one local server per data directory, shared, found again, gone when idle.

Every test uses a data directory of its own under tmp_path, never the user's (conftest also points
REDIS_RAG_DATA_DIR at a session directory so that nothing in the suite can reach ~/.local/share/redis-rag).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_rag_integrations import local_server
from redis_rag_integrations.settings import Settings

PROBE = textwrap.dedent(
    """
    import json, sys
    import redis
    from redis_rag_integrations import redis_url
    client = redis.Redis.from_url(redis_url())
    if len(sys.argv) > 1:
        client.set("written-by", sys.argv[1])
    info = client.info("server")
    print(json.dumps({"pid": info["process_id"], "dir": client.config_get("dir")["dir"],
                      "value": (client.get("written-by") or b"").decode()}))
    """
)


def _env(data_dir: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return {**env, "REDIS_RAG_DATA_DIR": data_dir, "COLUMNS": "200", **extra}


def _probe(env: dict[str, str], *args: str, cwd: Path | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_rag_integrations", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    local_server.stop(path)


def test_concurrent_first_uses_share_one_server_and_data_outlives_them(data_dir: Path, processes) -> None:
    env = _env(str(data_dir))
    children = [
        subprocess.Popen([sys.executable, "-c", PROBE, f"p{i}"], env=env, stdout=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    results = [json.loads(child.communicate(timeout=120)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    assert len({r["pid"] for r in results}) == 1, results
    assert {r["dir"] for r in results} == {str(data_dir / "redis")}
    redis_pid = int(results[0]["pid"])
    later = _probe(env)
    assert later["pid"] == redis_pid and later["value"] in {"p0", "p1", "p2", "p3"}

    state = json.loads((data_dir / "server.json").read_text())
    assert state["redis_pid"] == redis_pid
    assert oct((data_dir / "server.json").stat().st_mode & 0o777) == "0o600"

    status = _cli(env, "server", "status")
    assert status.returncode == 0, status.stderr
    assert str(redis_pid) in status.stdout and str(state["port"]) in status.stdout
    assert state["password"] not in status.stdout + status.stderr

    stopped = _cli(env, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert processes.wait_dead(redis_pid, timeout=30)
    assert not (data_dir / "server.json").exists()
    assert "no local server" in _cli(env, "server", "status").stdout
    assert _probe(env)["value"] == later["value"]  # restarted on use, the data back from the AOF


def test_idle_server_stops_itself_and_keeps_the_data(data_dir: Path, processes) -> None:
    env = _env(str(data_dir), REDIS_RAG_LOCAL_SERVER_IDLE_TIMEOUT="1")
    first = _probe(env, "before-idle")
    assert processes.wait_dead(int(first["pid"]), timeout=60), "the idle server did not stop itself"
    assert not (data_dir / "server.json").exists()
    again = _probe(env)
    assert again["pid"] != first["pid"] and again["value"] == "before-idle"


def test_a_relative_data_dir(tmp_path: Path) -> None:
    env = _env("./rel-data")
    try:
        found = _probe(env, "x", cwd=tmp_path)
        assert found["dir"] == str(tmp_path / "rel-data" / "redis")
        assert (tmp_path / "rel-data" / "server.json").exists()
    finally:
        local_server.stop(tmp_path / "rel-data")


def test_private_mode_is_a_server_of_the_process(tmp_path: Path, processes) -> None:
    found = _probe(_env(str(tmp_path / "unused"), REDIS_RAG_LOCAL_SERVER="private"))
    assert processes.wait_dead(int(found["pid"]), timeout=30)
    assert not (tmp_path / "unused").exists()


def test_default_data_dir_follows_the_platform_convention(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REDIS_RAG_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert local_server.data_dir(Settings()) == tmp_path / "xdg" / "redis-rag"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert local_server.data_dir(Settings()) == tmp_path / "home" / ".local" / "share" / "redis-rag"
    monkeypatch.chdir(tmp_path)
    assert local_server.data_dir(Settings(data_dir="rel")) == tmp_path / "rel"
