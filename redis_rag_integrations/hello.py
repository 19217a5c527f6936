"""What ``HELLO`` tells about a server: product, version, standalone or cluster, modules.

Why: ``INFO`` and ``MODULE LIST`` are in ``@dangerous`` and so denied to every ACL role of :mod:`.acl` but the
admin, while ``HELLO`` (``@connection``) is allowed to any user that may connect. So cluster detection, the module
check and the write-path choice ask ``HELLO`` when ``INFO`` / ``MODULE LIST`` are refused. Without a protocol
version ``HELLO`` switches nothing: it only answers (a flat list on RESP2, a map on RESP3; both are read here).
"""

from __future__ import annotations

from typing import Any


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(reply: Any) -> dict[str, Any]:
    if isinstance(reply, dict):
        return {str(_text(k)): v for k, v in reply.items()}
    items = list(reply or [])
    return {str(_text(k)): v for k, v in zip(items[::2], items[1::2], strict=False)}


def parse_hello(reply: Any) -> dict[str, Any]:
    """``{"server": "redis", "version": "8.2.3", "mode": "standalone", "modules": {"search": 21005, ...}, ...}``."""
    found = {k: _text(v) for k, v in _pairs(reply).items()}
    found["modules"] = {
        str(_text(m.get("name"))): int(m.get("ver", 0) or 0)
        for m in (_pairs(entry) for entry in found.get("modules") or [])
    }
    return found


def hello(client: Any) -> dict[str, Any]:
    """:func:`parse_hello` of a synchronous client's ``HELLO``."""
    return parse_hello(client.execute_command("HELLO"))


async def ahello(client: Any) -> dict[str, Any]:
    return parse_hello(await client.execute_command("HELLO"))


def redis_major(info: dict[str, Any]) -> int | None:
    """The major version of a Redis server (``None`` for another product, e.g. Valkey, whatever its number says)."""
    version = str(info.get("version", ""))
    major = version.split(".", 1)[0]
    return int(major) if info.get("server") == "redis" and major.isdigit() else None
