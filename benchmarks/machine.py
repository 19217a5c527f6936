"""What a run ran on: CPU, cores, load, memory, Redis and module versions, package versions, git commit.

Benchmarks on a shared machine mean little without the load they ran under, so every run records it before and
after (and each section records its own): a figure taken at load 3 on 2 cores is read differently.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "redis-rag-integrations",
    "redis",
    "redisvl",
    "langchain-core",
    "langchain-redis",
    "llama-index-core",
    "sentence-transformers",
    "torch",
    "numpy",
)


def load() -> list[float]:
    """1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def git_commit() -> str:
    """Short commit hash, ``+dirty`` when the tree has uncommitted changes (a shared tree usually does)."""
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}+dirty" if dirty and dirty != "?" else commit


def packages(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def redis_info(url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    try:
        server = client.info("server")
        modules = {}
        for m in client.module_list():
            name = m[b"name"].decode() if isinstance(m[b"name"], bytes) else str(m[b"name"])
            ver = int(m[b"ver"])
            modules[name] = f"{ver // 10000}.{ver // 100 % 100}.{ver % 100}"
        return {"version": server.get("redis_version", "?"), "modules": modules}
    finally:
        client.close()


def describe(redis_url: str) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": _ram_gib(),
        "load_before": load(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis": redis_info(redis_url),
        "packages": packages(),
        "git_commit": git_commit(),
    }
