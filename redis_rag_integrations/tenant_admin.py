"""Listing and dropping tenants: what ``redis-rag tenants list`` / ``redis-rag tenants drop NAME`` run.

A tenant exists while anything of it exists: an index in ``FT._LIST`` or a key under ``rag:{tag}:``
(:mod:`.tenancy`). Both are read without ``KEYS``: ``FT._LIST`` on every primary (without a coordinator each node
lists only its own indexes) and ``SCAN MATCH rag:{*`` on every primary (redis-py's cluster ``scan_iter`` walks each
primary's cursor). Names are read back from the tags, so the list holds exactly the names components were given.

Dropping removes the tenant's indexes (``FT.DROPINDEX`` on the node that lists them) and then every key under its
root: records, version records, cache entries and their eviction sets, document links and change stamps, chat
sessions and recall entries, ingestion streams with their dead letters. Other tenants and untenanted data are never
touched: no other name's keys start with that root (``tests/tenancy`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from .connection import SyncClient, get_client, is_cluster
from .decoding import as_str
from .settings import Settings
from .tenancy import NAMESPACE, Tenant, TenantLike, resolve, tenant_of

#: Keys deleted per UNLINK.
BATCH = 500


@dataclass
class DroppedTenant:
    """What :func:`drop_tenant` removed."""

    name: str
    indexes: list[str] = field(default_factory=list)
    keys: int = 0


def _client(client_or_url: SyncClient | str | None, settings: Settings | None) -> SyncClient:
    if client_or_url is None or isinstance(client_or_url, str):
        from .urls import redis_url

        return get_client(client_or_url or redis_url(settings, require=()), settings=settings)
    return client_or_url


def index_lists(client: SyncClient) -> Iterator[tuple[Any, str]]:
    """``(node or None, index name)`` for every index of every primary (none if the server has no search)."""
    nodes = client.get_primaries() if is_cluster(client) else [None]  # type: ignore[union-attr]
    for node in nodes:
        options = {} if node is None else {"target_nodes": node}
        try:
            names = client.execute_command("FT._LIST", **options)
        except ResponseError:  # no search module (plain history / caches only), or FT._LIST denied
            continue
        for name in names or []:
            yield node, as_str(name, "surrogateescape")


def list_tenants(client_or_url: SyncClient | str | None = None, *, settings: Settings | None = None) -> list[str]:
    """Every tenant with an index or a key on this Redis (or cluster), sorted. ``client_or_url``: a client, a URL,
    or ``None`` for the configured Redis."""
    client = _client(client_or_url, settings)
    found = {name for _, index in index_lists(client) if (name := tenant_of(index)) is not None}
    for key in client.scan_iter(match=NAMESPACE + "{*", count=1000):
        name = tenant_of(as_str(key, "surrogateescape"))
        if name is not None:
            found.add(name)
    return sorted(found)


def drop_tenant(
    tenant: TenantLike, client_or_url: SyncClient | str | None = None, *, settings: Settings | None = None
) -> DroppedTenant:
    """Remove everything of ``tenant``: its indexes, then every key under its root (on a cluster, on every primary).

    Components still holding the tenant's objects in this or another process will find nothing (and create
    their index again on their next write through a new object); drop a tenant once its users are gone.
    """
    t = resolve(tenant)
    if t is None:
        raise ValueError("drop_tenant needs a tenant name")
    client = _client(client_or_url, settings)
    report = DroppedTenant(t.name)
    for node, index in index_lists(client):
        if index.startswith(t.root):
            options = {} if node is None else {"target_nodes": node}
            client.execute_command("FT.DROPINDEX", index, **options)
            report.indexes.append(index)
    report.keys = _unlink_all(client, t)
    return report


def _unlink_all(client: SyncClient, tenant: Tenant) -> int:
    removed = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=tenant.scan_pattern, count=1000):
        batch.append(key)
        if len(batch) >= BATCH:
            removed += int(client.unlink(*batch))
            batch = []
    if batch:
        removed += int(client.unlink(*batch))
    return removed
