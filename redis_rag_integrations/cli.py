"""``redis-rag``: run the embedded Redis and look inside a server.

Sub-commands: ``server`` (embedded Redis in the foreground), ``info`` (version, modules, indexes, memory),
``stats`` (index sizes, cache hit rates, per-operation latency percentiles: :mod:`.stats`). Later components add
their own (``ingest``, ``worker``) through :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import local_server
from .connection import get_client, mask_url, server_modules
from .errors import RedisConnectionFailed, RedisRagError
from .hello import hello
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


@dataclass(frozen=True)
class _Target:
    """The Redis ``info`` / ``stats`` report on: its URL, how to show it (no password) and what to do if it fails."""

    url: str
    shown: str
    hint: str


def _target(args: argparse.Namespace) -> _Target | None:
    """``--url``, else ``REDIS_URL``, else the persistent local server if it runs (None, said why, if not).

    The same resolution as the library's, except that no server is started just to report on it: a fresh one
    would hold nothing, and the report would hide that the application's server is not running.
    """
    if args.url:
        hint = "check the URL given with --url (leave --url out to use REDIS_URL, else the local server)"
        return _Target(args.url, mask_url(args.url), hint)
    settings = get_settings()
    if settings.redis_url:
        hint = "check REDIS_URL, or unset REDIS_URL to use the local server"
        return _Target(settings.redis_url, mask_url(settings.redis_url), hint)
    if settings.local_server == "private":
        _say(
            "REDIS_URL is not set and REDIS_RAG_LOCAL_SERVER=private: every process has a server of its own, none "
            "to report on (pass --url)"
        )
        return None
    directory = local_server.data_dir(settings)
    found = local_server.status(directory)
    if found is None:
        _say(
            f"REDIS_URL is not set and no local server running for {directory}: nothing to report on (it starts on "
            "first use; `redis-rag server start` starts it now)"
        )
        return None
    hint = f"is the local server of {directory} still running? (`redis-rag server status`)"
    return _Target(found.url, found.masked_url, hint)


def _say(text: str) -> None:
    """Print ``text`` as it is: no rich markup (paths and URLs may hold brackets), no line breaks inside a path."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _failed(target: _Target, exc: BaseException) -> int:
    """One line saying what failed, where (no password) and what to do; the cause's text scrubbed of the password."""
    cause = exc.__cause__ if isinstance(exc, RedisConnectionFailed) and exc.__cause__ else exc
    detail = str(cause).rstrip(". ")
    secrets = [urlsplit(target.url).password or "", _settings_password()]
    for password in filter(None, secrets):
        for secret in {password, unquote(password), quote(unquote(password), safe="")}:
            detail = detail.replace(secret, "***")
    _say(f"error: cannot read Redis at {target.shown}: {detail}. {target.hint}")
    return 2


def _settings_password() -> str:
    secret = get_settings().redis_password
    return secret.get_secret_value() if secret is not None else ""


def _allowed(call: Callable[[], Any]) -> tuple[Any, bool]:
    """``call()``, or ``(None, False)`` when the ACL user may not run it (the report shows what it can)."""
    try:
        return call(), True
    except redis.exceptions.NoPermissionError:
        return None, False


def _modules(client: Any) -> dict[str, int] | None:
    """MODULE LIST, else (denied, as for the package's roles) HELLO's list, else whether FT._LIST answers; None if
    all are refused."""
    modules, allowed = _allowed(lambda: server_modules(client))
    if allowed:
        return modules
    with contextlib.suppress(redis.ResponseError):
        return dict(hello(client)["modules"])
    try:
        client.execute_command("FT._LIST")
        return {"search": 0}
    except redis.exceptions.NoPermissionError:
        return None
    except redis.ResponseError:
        return {}


def cmd_info(args: argparse.Namespace) -> int:
    target = _target(args)
    if target is None:
        return 1
    try:
        client = get_client(target.url)
        try:
            info, info_allowed = _allowed(client.info)
            modules = _modules(client)
            names = (
                [_decode(raw) for raw in client.execute_command("FT._LIST")] if "search" in (modules or {}) else None
            )
            flats = {name: client.ft(name).info() for name in names or []}
        finally:
            client.close()
    except (redis.RedisError, RedisRagError, OSError) as exc:
        return _failed(target, exc)
    if info_allowed:
        _say(f"Redis {info.get('redis_version')} at {target.shown}  memory {info.get('used_memory_human')}")
    else:
        _say(f"Redis at {target.shown}  (this ACL user may not run INFO: version and memory need rag-admin)")
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
    from . import stats
    from .metrics import MetricKeys, reset

    target = _target(args)
    if target is None:
        return 1
    try:
        client = get_client(target.url)
        try:
            if args.reset:
                deleted = reset(client, MetricKeys(args.prefix))
                console.print(f"deleted {deleted} metrics keys under {args.prefix!r}")
                return 0
            report = stats.collect(
                client, target.url, hours=args.hours, prefix=args.prefix, history_prefix=args.history_prefix
            )
        finally:
            client.close()
    except (redis.RedisError, RedisRagError, OSError) as exc:
        return _failed(target, exc)
    report.redis["url"] = target.shown
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        stats.render(report, console)
    return 0


def cmd_acl(args: argparse.Namespace) -> int:
    """Print the ACL SETUSER lines of the package's roles (redis-cli syntax; the password stays a placeholder)."""
    from .acl import ROLES, setuser_line

    for name in [args.role] if args.role else list(ROLES):
        print(f"# {name}: {ROLES[name].job}")
        print(setuser_line(name, args.user if args.role else None, vector_sets=args.vector_sets, search=args.search))
    return 0


def _add_acl_args(p: argparse.ArgumentParser) -> None:
    from .acl import ROLES

    p.add_argument("role", nargs="?", choices=list(ROLES), help="one role (default: all four)")
    p.add_argument("--user", default=None, help="the user name to create (default: the role's name)")
    p.add_argument(
        "--vector-sets", action="store_true", help="add the vector-set backend's commands (VSIM, VADD...; Redis 8)"
    )
    p.add_argument(
        "--no-search",
        dest="search",
        action="store_false",
        help="leave the FT.* commands out (a server without the search module refuses rules naming them)",
    )


def cmd_tenants(args: argparse.Namespace) -> int:
    """``tenants list``: one tenant name per line; ``tenants drop NAME``: its indexes and keys, then what went."""
    from .tenant_admin import drop_tenant, list_tenants

    target = _target(args)
    if target is None:
        return 1
    if args.action == "drop" and not args.name:
        _say("error: tenants drop needs the tenant's name: redis-rag tenants drop NAME")
        return 2
    try:
        client = get_client(target.url)
        try:
            if args.action == "list":
                for name in list_tenants(client):
                    print(name)
                return 0
            dropped = drop_tenant(args.name, client)
        finally:
            client.close()
    except (redis.RedisError, RedisRagError, OSError) as exc:
        return _failed(target, exc)
    _say(f"tenant {dropped.name!r}: dropped {len(dropped.indexes)} index(es), deleted {dropped.keys} key(s)")
    return 0


def _add_tenants_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "drop"], help="list: every tenant; drop NAME: everything of one")
    p.add_argument("name", nargs="?", default=None, help="drop: the tenant's name as given to tenant=")
    p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL, else the running local server)")


def cmd_index(args: argparse.Namespace) -> int:
    """``index list`` (every index: kind, documents, dims), ``index info NAME``, ``index drop NAME``."""
    from . import index_admin

    target = _target(args)
    if target is None:
        return 1
    if args.action != "list" and args.name is None:
        _say(f"error: index {args.action} needs the index's name: redis-rag index {args.action} NAME")
        return 2
    try:
        client = get_client(target.url)
        try:
            if args.action == "list":
                found = index_admin.list_indexes(client)
            elif args.action == "info":
                found = [index_admin.describe(client, args.name)]
            else:
                dropped = index_admin.drop(client, args.name, delete_documents=args.delete_documents, force=args.force)
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return _failed(target, exc)
    except RedisRagError as exc:  # printed without markup: an index name may hold brackets
        _say(f"error: {exc}")
        return 2
    if args.json and args.action != "drop":
        print(json.dumps([dataclasses.asdict(d) for d in found], indent=2, ensure_ascii=False))
        return 0
    if args.action == "drop":
        kept = "its records kept (--delete-documents removes them)"
        what = "its records deleted" if dropped.documents_deleted else kept
        _say(f"dropped index {dropped.name!r} ({dropped.kind}, {dropped.docs} document(s)): {what}")
        return 0
    if args.action == "list":
        if not found:
            _say("no search indexes")
            return 0
        table = Table("index", "kind", "documents", "dims")
        for d in found:
            table.add_row(Text(d.name), d.kind, str(d.docs), str(d.dims or "-"))
        console.print(table)
        return 0
    d = found[0]
    _say(f"index {d.name!r}: {d.kind}, {d.docs} document(s){', indexing' if d.indexing else ''}")
    _say(f"keys: {', '.join(repr(p) for p in d.prefixes) or '-'}   memory {d.memory_mb:.2f} MB")
    if d.dims:
        _say(f"vectors: {d.dims} dims, {d.metric}, {d.algorithm}")
    for name, kind in d.fields.items():
        _say(f"  {name}: {kind}")
    return 0


def _add_index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "info", "drop"], help="list: every index; info / drop NAME: one")
    p.add_argument("name", nargs="?", default=None, help="info / drop: the index's name as FT._LIST shows it")
    p.add_argument("--delete-documents", action="store_true", help="drop: delete the records too (default: keep)")
    p.add_argument("--force", action="store_true", help="drop: an index not written by redis-rag as well")
    p.add_argument("--json", action="store_true", help="list / info: print JSON")
    p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL, else the running local server)")


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
        _add_acl_args,
    ),
    "tenants": (
        "list the tenants (tenant=...) on this Redis, or drop one: its indexes, records, caches, histories, streams",
        cmd_tenants,
        _add_tenants_args,
    ),
    "index": (
        "list the search indexes (kind, documents, dims), describe one, or drop one (records kept by default)",
        cmd_index,
        _add_index_args,
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
