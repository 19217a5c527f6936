"""``redis-rag ingest``: never publishes where the work would be lost, and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis


def _docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"d{i}.md").write_text(f"# Doc {i}\n\nPython closes files with a with statement, topic {i}.\n")
    return folder


def _ingest(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_rag_integrations", "ingest", *args],
        env={**env, "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_inline_progress_counts_what_was_indexed_and_the_summary_says_it(
    redis_url: str, client: redis.Redis, unique_name: str, tmp_path: Path
) -> None:
    _docs(tmp_path)
    done = _ingest({**os.environ, "REDIS_URL": redis_url}, "docs", "--inline", "--index", unique_name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3/3" in done.stdout.split("indexing", 1)[1].splitlines()[0], done.stdout
    chunks = len(list(client.scan_iter(match=f"{unique_name}:*")))
    assert chunks >= 3
    assert f"indexed 3 documents ({chunks} chunks)" in done.stdout, done.stdout
    assert "0 unchanged" in done.stdout and "0 dead-lettered" in done.stdout
    again = _ingest({**os.environ, "REDIS_URL": redis_url}, "docs", "--inline", "--index", unique_name, cwd=tmp_path)
    assert "indexed 0 documents (0 chunks)" in again.stdout and "3 unchanged" in again.stdout, again.stdout
    client.execute_command("FT.DROPINDEX", unique_name, "DD")


def test_publishing_to_a_server_that_dies_with_the_command_is_refused(tmp_path: Path) -> None:
    _docs(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = _ingest({**env, "REDIS_RAG_LOCAL_SERVER": "private"}, "docs", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert "--inline" in done.stdout and "REDIS_URL" in done.stdout and "published 3" not in done.stdout
