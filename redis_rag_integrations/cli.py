"""``redis-rag``: run the embedded Redis and look inside a server.

Sub-commands: ``server`` (embedded Redis in the foreground), ``info`` (version, modules, indexes, memory),
``stats`` (index sizes, cache hit rates, per-operation latency percentiles: :mod:`.stats`). Later components add
their own (``ingest``, ``worker``) through :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from . import local_server
from .connection import get_client, server_modules
from .errors import RedisRagError
from .host import configure_entry_point
from .server import EmbeddedRedis
from .settings import get_settings

console = Console()


def cmd_server(args: argparse.Namespace) -> int:
    if args.action == "run":
        return _server_foreground(args)
    directory = Path(args.data_dir).resolve() if args.data_dir else local_server.data_dir()
    if args.action == "start":
        found = local_server.ensure(directory, idle_timeout=get_settings().local_server_idle_timeout)
        console.print(f"local Redis running at {found.masked_url} (pid {found.redis_pid}) for {directory}")
        console.print("used by every process with REDIS_URL unset; stops itself after "
                      f"{found.idle_timeout:g}s with no client")  # fmt: skip
        return 0
    if args.action == "stop":
        stopped = local_server.stop(directory)
        console.print(f"stopped the local Redis of {directory} (data kept)" if stopped else
                      f"no local server running for {directory}")  # fmt: skip
        return 0
    found = local_server.status(directory)
    if found is None:
        console.print(f"no local server running for {directory} (started on first use when REDIS_URL is unset)")
        return 0
    client = found.client()
    try:
        info = client.info()
    finally:
        client.close()
    console.print(f"local Redis {info.get('redis_version')} at {found.masked_url}  pid {found.redis_pid}")
    console.print(f"data dir: {directory}   (password in {directory / local_server.STATE_FILE})")
    console.print(
        f"clients {int(info.get('connected_clients', 1)) - 1}  keys {_keys(info)}"
        f"  memory {info.get('used_memory_human')}  up {int(info.get('uptime_in_seconds', 0))}s"
        f"  stops after {found.idle_timeout:g}s without a client"
    )
    return 0


def _keys(info: dict[str, Any]) -> int:
    return sum(int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))


def _server_foreground(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the URL is printed: whoever reads it may stop us at once
        signal.signal(sig, lambda *_: stop.set())
    server = EmbeddedRedis(port=args.port, data_dir=args.data_dir)
    server.start()
    try:
        console.print(f"[bold green]embedded Redis running[/] at [bold]{server.url}[/]  (pid {server.pid})")
        console.print(f"data dir: {server.data_dir}   modules: {', '.join(server_modules(get_client(server.url)))}")
        console.print(f"use it with:  export REDIS_URL={server.url}     stop with Ctrl-C")
        while not stop.wait(0.5):
            if not server.running:
                console.print("[red]redis-server exited[/]")
                return 1
    finally:
        server.stop()
        console.print("stopped")
    return 0


def _decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def cmd_info(args: argparse.Namespace) -> int:
    url = args.url or get_settings().redis_url
    if url is None:
        console.print("REDIS_URL is not set: nothing to inspect (start one with `redis-rag server`).")
        return 1
    client = get_client(url)
    info = client.info()
    console.print(f"Redis {info.get('redis_version')} at {url}  memory {info.get('used_memory_human')}")
    console.print("modules: " + ", ".join(f"{name} {ver}" for name, ver in server_modules(client).items()))
    table = Table("index", "documents", "memory (MB)", "indexing")
    for raw in client.execute_command("FT._LIST"):
        name = _decode(raw)
        flat = client.ft(name).info()
        mem = float(flat.get("vector_index_sz_mb", 0) or 0) + float(flat.get("inverted_sz_mb", 0) or 0)
        table.add_row(name, str(flat.get("num_docs")), f"{mem:.2f}", str(flat.get("indexing")))
    console.print(table)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from . import stats
    from .metrics import MetricKeys, reset

    url = args.url or get_settings().redis_url
    if url is None:
        console.print("REDIS_URL is not set: nothing to inspect (pass --url, or start one with `redis-rag server`).")
        return 1
    client = get_client(url)
    try:
        if args.reset:
            deleted = reset(client, MetricKeys(args.prefix))
            console.print(f"deleted {deleted} metrics keys under {args.prefix!r}")
            return 0
        report = stats.collect(client, url, hours=args.hours, prefix=args.prefix, history_prefix=args.history_prefix)
    finally:
        client.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        stats.render(report, console)
    return 0


def _add_stats_args(p: argparse.ArgumentParser) -> None:
    from .metrics.storage import DEFAULT_PREFIX, RETENTION_HOURS

    p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--hours", type=int, default=24, help=f"latency and counters of the last N hours (1-{RETENTION_HOURS}; 24)"
    )
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"metrics key prefix (default {DEFAULT_PREFIX})")
    p.add_argument("--history-prefix", default="chat", help="chat history key prefix (default chat)")
    p.add_argument("--reset", action="store_true", help="delete the recorded metrics (not the data) and exit")


Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Handler, Callable[[argparse.ArgumentParser], None]]] = {
    "server": (
        "the local Redis 8 (search + JSON modules): run one in the foreground, or start / status / stop the "
        "persistent one used when REDIS_URL is unset",
        cmd_server,
        lambda p: (
            p.add_argument(
                "action",
                nargs="?",
                default="run",
                choices=["run", "start", "status", "stop"],
                help="run (default): a server in the foreground until Ctrl-C; start / status / stop: the persistent "
                "local server of the data dir",
            ),
            p.add_argument("--port", type=int, default=None, help="run: TCP port (default: a free one)"),
            p.add_argument(
                "--data-dir",
                default=None,
                help="run: keep data here (default: a temporary dir); start/status/stop: the persistent server's "
                "data dir (default: REDIS_RAG_DATA_DIR or ~/.local/share/redis-rag)",
            ),
        ),
    ),
    "info": (
        "print server version, modules, indexes and memory",
        cmd_info,
        lambda p: p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL)"),
    ),
    "stats": (
        "index sizes and memory, cache hit rates, chat sessions, p50/p95/p99 per operation (REDIS_RAG_METRICS=1)",
        cmd_stats,
        _add_stats_args,
    ),
    "ingest": (
        "publish txt / md / html files (or folders) to the ingestion stream, with a progress bar",
        lambda a: _ingest_cli().cmd_ingest(a),
        lambda p: _ingest_cli().add_ingest_args(p),
    ),
    "worker": (
        "run an ingestion worker: chunk, embed and index published documents until Ctrl-C",
        lambda a: _ingest_cli().cmd_worker(a),
        lambda p: _ingest_cli().add_common(p),
    ),
}


def _ingest_cli() -> Any:
    from .ingest import cli as ingest_cli  # imported on use: it loads the store and the embedder

    return ingest_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redis-rag", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, handler, add_args) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_entry_point()
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (RedisRagError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
