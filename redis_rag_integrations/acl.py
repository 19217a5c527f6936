"""Least-privilege ACL roles for the package, and the error a denied command becomes.

Four roles, one per job, each granting only the commands that job sends (audited with ``INFO commandstats`` over a
store / cache / history / ingestion round trip):

* ``rag-reader``: searches and reads documents and chat history (a retriever). No writes, no ``FLUSH*`` /
  ``CONFIG`` / ``KEYS``.
* ``rag-writer``: the ingestion side: document writes (hashes, the upsert scripts, transactions) and the ingestion
  streams (``XADD``, ``XREADGROUP``, ``XACK``...), plus everything the reader has.
* ``rag-cache``: semantic and exact LLM caches: reads and writes of entries (hashes, strings, the eviction sorted
  sets, scripts, transactions), no streams.
* ``rag-admin``: creates and drops indexes (``FT.CREATE`` / ``FT.DROPINDEX`` / ``FT.ALTER``) and runs
  ``redis-rag info`` / ``stats`` (``INFO``); still no ``FLUSH*`` / ``CONFIG`` / ``KEYS`` / ``MODULE LOAD``.

Why every role has ``~*`` (all keys): with search 2.10 a user limited by key patterns (``~tenant:*``) gets "No
permissions to access a key" for ``FT.INFO`` / ``FT.SEARCH`` even on an index over its own prefix (measured, see
``tests/test_acl.py``), so key patterns cannot isolate tenants' vector indexes: tenant isolation is enforced by the
package (one index and one hash tag per tenant), not by the ACL.

Why the search commands are named one by one: the search module (2.10) registers its commands with no ACL category,
so ``+@read`` does not grant ``FT.SEARCH``. Naming them works on Redis Stack and on Redis 8, where they also sit in
``@search``.

The package needs neither ``INFO`` nor ``MODULE LIST`` at run time: when they are denied, cluster detection, the
module check and the write-path choice ask ``HELLO`` (:mod:`.hello`), which Redis answers to every user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redis.exceptions import NoPermissionError

from .errors import RedisRagError

#: Every role: its own connection commands (AUTH, HELLO, PING, SELECT, CLIENT SETINFO...), the cluster routing
#: commands a cluster client sends, and TIME.
_BASE = (
    "+@connection",
    "+cluster|slots", "+cluster|shards", "+cluster|nodes", "+cluster|info", "+cluster|myid",
    "+time",
)  # fmt: skip
_SEARCH_READ = (
    "+ft.search", "+ft.aggregate", "+ft.cursor", "+ft.info", "+ft._list", "+ft.explain", "+ft.tagvals",
    "+ft.profile",
)  # fmt: skip
_SEARCH_ADMIN = ("+ft.create", "+ft.dropindex", "+ft.alter", "+ft.aliasadd", "+ft.aliasupdate", "+ft.aliasdel")
_WRITE = ("+@write", "+@scripting", "-script|flush", "-script|kill", "+@transaction")
#: The vector-set backend's commands (Redis 8). Opt-in (``vector_sets=True``): servers without vector sets (Redis
#: Stack 7.x) refuse an ACL rule naming an unknown command.
_VSET_READ = ("+vsim", "+vcard", "+vdim", "+vemb", "+vgetattr", "+vinfo", "+vlinks", "+vrandmember")
_VSET_WRITE = ("+vadd", "+vrem", "+vsetattr")
#: Last in every role: FLUSHALL / FLUSHDB / CONFIG / KEYS / INFO / MODULE / DEBUG / SHUTDOWN / ACL ... stay denied.
_DENY = ("-@dangerous",)


@dataclass(frozen=True)
class Role:
    """One job's ACL rules (without the user name, ``on`` and the password)."""

    name: str
    job: str
    rules: tuple[str, ...]


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "rag-reader",
            "search and read documents and chat history (a retriever)",
            # MULTI / EXEC: history reads a session in one transaction; every command inside is checked anyway.
            (*_BASE, "+@read", *_SEARCH_READ, "+@transaction", *_DENY),
        ),
        Role(
            "rag-writer",
            "ingestion: write documents and consume the ingestion streams",
            (*_BASE, "+@read", *_SEARCH_READ, *_WRITE, "+@stream", "+@blocking", *_DENY),
        ),
        Role(
            "rag-cache",
            "semantic and exact LLM caches: read and write entries",
            (*_BASE, "+@read", *_SEARCH_READ, *_WRITE, "-@stream", *_DENY),
        ),
        Role(
            "rag-admin",
            "create and drop indexes; redis-rag info / stats",
            (*_BASE, "+@read", *_SEARCH_READ, *_WRITE, "+@stream", *_SEARCH_ADMIN, *_DENY, "+info"),
        ),
    )
}


def acl_rules(role: str, *, vector_sets: bool = False, search: bool = True) -> list[str]:
    """The ``ACL SETUSER`` rules of ``role`` after the user name: ``on``, all keys, no channels, then the role's
    (with ``vector_sets``, the vector-set backend's commands too: reads for every role, writes for all but the
    reader). ``search=False`` leaves the ``FT.*`` commands out, for a server without the search module (chat
    history, exact caches, streams only), which refuses a rule naming a command it does not know."""
    found = ROLES.get(role)
    if found is None:
        raise ValueError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    rules = [r for r in found.rules if search or not r.startswith("+ft.")]
    extra: tuple[str, ...] = ()
    if vector_sets:
        extra = _VSET_READ if role == "rag-reader" else (*_VSET_READ, *_VSET_WRITE)
    return ["reset", "on", "~*", "resetchannels", "-@all", *rules, *extra]


def setuser_line(
    role: str,
    username: str | None = None,
    password_placeholder: str = "<password>",
    *,
    vector_sets: bool = False,
    search: bool = True,
) -> str:
    """The copy-paste ``ACL SETUSER`` line of ``role`` (for ``redis-cli``); the password stays a placeholder."""
    rules = acl_rules(role, vector_sets=vector_sets, search=search)
    return " ".join(["ACL", "SETUSER", username or role, *rules[:2], f">{password_placeholder}", *rules[2:]])


def create_user(
    client: object, username: str, password: str, role: str, *, vector_sets: bool = False, search: bool = True
) -> None:
    """Create (or reset) ``username`` with ``role``'s rules on the server behind ``client`` (needs ``ACL``)."""
    rules = acl_rules(role, vector_sets=vector_sets, search=search)
    client.execute_command("ACL", "SETUSER", username, *rules[:2], f">{password}", *rules[2:])  # type: ignore[attr-defined]


# --- the error a denied command becomes --------------------------------------------------------------------------

_COMMAND = re.compile(r"permissions to run the '([^']+)' command")
_ADMIN_ONLY = {"ft.create", "ft.dropindex", "ft.alter", "ft.aliasadd", "ft.aliasupdate", "ft.aliasdel", "info"}
_NOT_AT_RUN_TIME = {"config", "keys", "flushall", "flushdb", "module", "module|list", "debug", "acl"}


def role_for(command: str) -> str:
    """Which role grants ``command`` (lower case, ``container|sub`` for subcommands), said in words."""
    command = command.lower()
    if command in _ADMIN_ONLY:
        return "rag-admin (index creation and server reports are the admin's job)"
    if command in _NOT_AT_RUN_TIME or command.split("|")[0] in {"config", "module", "acl", "debug"}:
        return "none of the roles: the package does not need it at run time (please report where it was sent)"
    if command.startswith("x"):
        return "rag-writer (ingestion streams)"
    if command in {s[1:] for s in _VSET_READ + _VSET_WRITE}:
        return "the role's vector-set variant (`redis-rag acl --vector-sets`; writes: not rag-reader)"
    if command in {"ft.search", "ft.aggregate", "ft.info", "ft._list", "ft.cursor", "hget", "hmget", "get", "lrange"}:
        return "rag-reader, or any role above it"
    return "rag-writer (documents, ingestion) or rag-cache (LLM caches); rag-reader is read-only"


def explain_denial(server_message: str) -> str:
    """The server's NOPERM text, plus what is missing and which role grants it."""
    text = server_message.strip()
    found = _COMMAND.search(text)
    if found:
        command = found.group(1)
        return (
            f"Redis refused the {command.upper()!r} command for this user (NOPERM {text}). Use a user with the role "
            f"that grants it: {role_for(command)}. The roles' ACL SETUSER lines: README 'ACL roles', or "
            "`redis-rag acl`."
        )
    if "access a key" in text:
        return (
            f"Redis refused a key this command touches for this user (NOPERM {text}). The user's key patterns (~...) "
            "do not cover it. With search 2.10, FT.SEARCH / FT.INFO are refused to any user without ~* even on an "
            "index over its own prefix: give the roles ~* and isolate tenants with the package's tenant= option, "
            "not key patterns (README 'ACL roles')."
        )
    if "channel" in text:
        return f"Redis refused a pub/sub channel for this user (NOPERM {text}); the package's roles need no channel."
    return f"Redis refused this command for this user (NOPERM {text}); see README 'ACL roles' for each job's role."


class PermissionDenied(RedisRagError, NoPermissionError):
    """The connected ACL user lacks a permission: the message names the command (or key) and the role to use.

    A :class:`redis.exceptions.NoPermissionError` too (and so a ``ResponseError``), so code written against redis-py
    keeps working. Raised by the clients :mod:`.connection` makes (their reply parser builds it from the server's
    ``-NOPERM`` reply), never by a client the caller made.
    """

    def __init__(self, server_message: str = "", *, status_code: str | None = "NOPERM") -> None:
        self.server_message = str(server_message)
        try:
            super().__init__(explain_denial(self.server_message), status_code=status_code)
        except TypeError:  # redis-py before 6 (the floor is 5.3): its errors take no status_code
            super().__init__(explain_denial(self.server_message))


def denial_aware(parser: type) -> type:
    """A subclass of redis-py reply ``parser`` whose ``-NOPERM`` replies raise :class:`PermissionDenied`.

    Why the parser: every command a client sends (pipelines, scripts, redisvl's calls included) reads its reply
    there, so this is the one place that sees every denial, whichever module sent the command.
    """
    table = dict(getattr(parser, "EXCEPTION_CLASSES", {}))
    table["NOPERM"] = PermissionDenied
    return type(f"DenialAware{parser.__name__}", (parser,), {"EXCEPTION_CLASSES": table})
