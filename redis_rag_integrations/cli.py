"""``redis-rag``: run the embedded Redis and look inside a server.

Sub-commands: ``server`` (embedded Redis in the foreground), ``info`` (version, modules, indexes, memory),
``stats`` (index sizes, cache hit rates, per-operation latency percentiles: :mod:`.usage_report`), and the admin
commands of :mod:`.cli_admin` (``acl``, ``tenants``, ``index``). Later components add their own (``ingest``,
``worker``) through :data:`COMMANDS`. Which server a report reads, and how its failure is told: :mod:`.cli_target`.
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

import redis
from rich.table import Table

from . import local_server
from .cli_admin import add_acl_args, add_index_args, add_tenants_args, cmd_acl, cmd_index, cmd_tenants
from .cli_target import console, decode, failed, if_allowed, resolve_target, say, server_modules_or_hello
from .connection import get_client, server_modules
from .errors import RedisRagError
from .host import configure_entry_point
from .server import EmbeddedRedis
from .settings import get_settings


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


def cmd_info(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    if target is None:
        return 1
    try:
        client = get_client(target.url)
        try:
            info, info_allowed = if_allowed(client.info)
            modules = server_modules_or_hello(client)
            names = [decode(raw) for raw in client.execute_command("FT._LIST")] if "search" in (modules or {}) else None
            flats = {name: client.ft(name).info() for name in names or []}
        finally:
            client.close()
    except (redis.RedisError, RedisRagError, OSError) as exc:
        return failed(target, exc)
    if info_allowed:
        say(f"Redis {info.get('redis_version')} at {target.shown}  memory {info.get('used_memory_human')}")
    else:
        say(f"Redis at {target.shown}  (this ACL user may not run INFO: version and memory need rag-admin)")
    if modules is None:
        console.print("modules: unknown (this ACL user may run neither MODULE LIST nor FT._LIST)")
        return 0
    shown = ", ".join(f"{name} {ver}" if ver else name for name, ver in modules.items())
    console.print("modules: " + (shown or "none"))
    if names is None:
        console.print("no search module: no vector indexes (Redis 8 or Redis Stack has it)")
    elif not names:
        console.print("no search indexes yet")
    else:
        table = Table("index", "documents", "memory (MB)", "indexing")
        for name, flat in flats.items():
            mem = float(flat.get("vector_index_sz_mb", 0) or 0) + float(flat.get("inverted_sz_mb", 0) or 0)
            table.add_row(name, str(flat.get("num_docs")), f"{mem:.2f}", str(flat.get("indexing")))
        console.print(table)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from . import usage_report
    from .metrics import MetricKeys, reset

    target = resolve_target(args)
    if target is None:
        return 1
    try:
        client = get_client(target.url)
        try:
            if args.reset:
                deleted = reset(client, MetricKeys(args.prefix))
                console.print(f"deleted {deleted} metrics keys under {args.prefix!r}")
                return 0
            report = usage_report.collect(
                client, target.url, hours=args.hours, prefix=args.prefix, history_prefix=args.history_prefix
            )
        finally:
            client.close()
    except (redis.RedisError, RedisRagError, OSError) as exc:
        return failed(target, exc)
    report.redis["url"] = target.shown
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        usage_report.render(report, console)
    return 0


def _add_stats_args(p: argparse.ArgumentParser) -> None:
    from .metrics.storage import DEFAULT_PREFIX, RETENTION_HOURS

    p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL, else the running local server)")
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
        lambda p: p.add_argument(
            "--url", default=None, help="Redis URL (default: REDIS_URL, else the running local server)"
        ),
    ),
    "stats": (
        "index sizes and memory, cache hit rates, chat sessions, p50/p95/p99 per operation (REDIS_RAG_METRICS=1)",
        cmd_stats,
        _add_stats_args,
    ),
    "acl": (
        "print the ACL SETUSER lines of the least-privilege roles (reader, writer, cache, admin)",
        cmd_acl,
        add_acl_args,
    ),
    "tenants": (
        "list the tenants (tenant=...) on this Redis, or drop one: its indexes, records, caches, histories, streams",
        cmd_tenants,
        add_tenants_args,
    ),
    "index": (
        "list the search indexes (kind, documents, dims), describe one, or drop one (records kept by default)",
        cmd_index,
        add_index_args,
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
