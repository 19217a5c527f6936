"""Which Redis a ``redis-rag`` report reads, and how a failure to read it is told.

Why a module of its own: every command that looks inside a server (``info``, ``stats``, ``tenants``, ``index``)
resolves its target the same way (``--url``, ``REDIS_URL``, the running local server, never a fresh one), prints
paths and URLs without markup, and reports a failure in one line without the password. Kept here so the commands
(:mod:`.cli`, :mod:`.cli_admin`) cannot drift apart on any of it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
from rich.console import Console

from . import local_server
from .connection import mask_url, server_modules
from .errors import RedisConnectionFailed
from .hello import hello
from .settings import get_settings

console = Console()


def decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Target:
    """The Redis ``info`` / ``stats`` report on: its URL, how to show it (no password) and what to do if it fails."""

    url: str
    shown: str
    hint: str


def resolve_target(args: argparse.Namespace) -> Target | None:
    """``--url``, else ``REDIS_URL``, else the persistent local server if it runs (None, said why, if not).

    The same resolution as the library's, except that no server is started just to report on it: a fresh one
    would hold nothing, and the report would hide that the application's server is not running.
    """
    if args.url:
        hint = "check the URL given with --url (leave --url out to use REDIS_URL, else the local server)"
        return Target(args.url, mask_url(args.url), hint)
    settings = get_settings()
    if settings.redis_url:
        hint = "check REDIS_URL, or unset REDIS_URL to use the local server"
        return Target(settings.redis_url, mask_url(settings.redis_url), hint)
    if settings.local_server == "private":
        say(
            "REDIS_URL is not set and REDIS_RAG_LOCAL_SERVER=private: every process has a server of its own, none "
            "to report on (pass --url)"
        )
        return None
    directory = local_server.data_dir(settings)
    found = local_server.status(directory)
    if found is None:
        say(
            f"REDIS_URL is not set and no local server running for {directory}: nothing to report on (it starts on "
            "first use; `redis-rag server start` starts it now)"
        )
        return None
    hint = f"is the local server of {directory} still running? (`redis-rag server status`)"
    return Target(found.url, found.masked_url, hint)


def say(text: str) -> None:
    """Print ``text`` as it is: no rich markup (paths and URLs may hold brackets), no line breaks inside a path."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def failed(target: Target, exc: BaseException) -> int:
    """One line saying what failed, where (no password) and what to do; the cause's text scrubbed of the password."""
    cause = exc.__cause__ if isinstance(exc, RedisConnectionFailed) and exc.__cause__ else exc
    detail = str(cause).rstrip(". ")
    secrets = [urlsplit(target.url).password or "", _settings_password()]
    for password in filter(None, secrets):
        for secret in {password, unquote(password), quote(unquote(password), safe="")}:
            detail = detail.replace(secret, "***")
    say(f"error: cannot read Redis at {target.shown}: {detail}. {target.hint}")
    return 2


def _settings_password() -> str:
    secret = get_settings().redis_password
    return secret.get_secret_value() if secret is not None else ""


def if_allowed(call: Callable[[], Any]) -> tuple[Any, bool]:
    """``call()``, or ``(None, False)`` when the ACL user may not run it (the report shows what it can)."""
    try:
        return call(), True
    except redis.exceptions.NoPermissionError:
        return None, False


def server_modules_or_hello(client: Any) -> dict[str, int] | None:
    """MODULE LIST, else (denied, as for the package's roles) HELLO's list, else whether FT._LIST answers; None if
    all are refused."""
    modules, ok = if_allowed(lambda: server_modules(client))
    if ok:
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
