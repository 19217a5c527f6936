"""The administration sub-commands of ``redis-rag``: ``acl`` (the least-privilege roles' ACL lines), ``tenants``
(list, drop) and ``index`` (list, info, drop).

Why a module of its own: they change or describe what is on a server rather than run or report on it, and each
wraps one admin module (:mod:`.acl`, :mod:`.tenant_admin`, :mod:`.index_admin`); :mod:`.cli` lists them in its
command table. Target resolution and error reporting are :mod:`.cli_target`'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import redis
from rich.table import Table
from rich.text import Text

from .cli_target import console, failed, resolve_target, say
from .connection import get_client
from .errors import RedisRagError


def cmd_acl(args: argparse.Namespace) -> int:
    """Print the ACL SETUSER lines of the package's roles (redis-cli syntax; the password stays a placeholder)."""
    from .acl import ROLES, setuser_line

    for name in [args.role] if args.role else list(ROLES):
        print(f"# {name}: {ROLES[name].job}")
        print(setuser_line(name, args.user if args.role else None, vector_sets=args.vector_sets, search=args.search))
    return 0


def add_acl_args(p: argparse.ArgumentParser) -> None:
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

    target = resolve_target(args)
    if target is None:
        return 1
    if args.action == "drop" and not args.name:
        say("error: tenants drop needs the tenant's name: redis-rag tenants drop NAME")
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
        return failed(target, exc)
    say(f"tenant {dropped.name!r}: dropped {len(dropped.indexes)} index(es), deleted {dropped.keys} key(s)")
    return 0


def add_tenants_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "drop"], help="list: every tenant; drop NAME: everything of one")
    p.add_argument("name", nargs="?", default=None, help="drop: the tenant's name as given to tenant=")
    p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL, else the running local server)")


def cmd_index(args: argparse.Namespace) -> int:
    """``index list`` (every index: kind, documents, dims), ``index info NAME``, ``index drop NAME``."""
    from . import index_admin

    target = resolve_target(args)
    if target is None:
        return 1
    if args.action != "list" and args.name is None:
        say(f"error: index {args.action} needs the index's name: redis-rag index {args.action} NAME")
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
        return failed(target, exc)
    except RedisRagError as exc:  # printed without markup: an index name may hold brackets
        say(f"error: {exc}")
        return 2
    if args.json and args.action != "drop":
        print(json.dumps([dataclasses.asdict(d) for d in found], indent=2, ensure_ascii=False))
        return 0
    if args.action == "drop":
        kept = "its records kept (--delete-documents removes them)"
        what = "its records deleted" if dropped.documents_deleted else kept
        say(f"dropped index {dropped.name!r} ({dropped.kind}, {dropped.docs} document(s)): {what}")
        return 0
    if args.action == "list":
        if not found:
            say("no search indexes")
            return 0
        table = Table("index", "kind", "documents", "dims")
        for d in found:
            table.add_row(Text(d.name), d.kind, str(d.docs), str(d.dims or "-"))
        console.print(table)
        return 0
    d = found[0]
    say(f"index {d.name!r}: {d.kind}, {d.docs} document(s){', indexing' if d.indexing else ''}")
    say(f"keys: {', '.join(repr(p) for p in d.prefixes) or '-'}   memory {d.memory_mb:.2f} MB")
    if d.dims:
        say(f"vectors: {d.dims} dims, {d.metric}, {d.algorithm}")
    for name, kind in d.fields.items():
        say(f"  {name}: {kind}")
    return 0


def add_index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "info", "drop"], help="list: every index; info / drop NAME: one")
    p.add_argument("name", nargs="?", default=None, help="info / drop: the index's name as FT._LIST shows it")
    p.add_argument("--delete-documents", action="store_true", help="drop: delete the records too (default: keep)")
    p.add_argument("--force", action="store_true", help="drop: an index not written by redis-rag as well")
    p.add_argument("--json", action="store_true", help="list / info: print JSON")
    p.add_argument("--url", default=None, help="Redis URL (default: REDIS_URL, else the running local server)")
