"""Faults on the server side, for every component: out of memory, a read-only replica, scripts flushed and the
search index dropped behind the client's back. Writes fail with an error naming the cause (a cache skips the store
instead), nothing is half-written, and the next call after the fault works without re-creating anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis

from .components import Component
from .test_connection_faults import expect_fault


def direct(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url)


def test_out_of_memory_refuses_writes_whole_and_reads_go_on(
    make: Callable[..., Component], server: EmbeddedRedis
) -> None:
    component = make(server.url)
    component.stage(1)
    component.write(1)
    component.stage(2)  # the worker's event is published before memory runs out; its processing is under test
    admin = direct(server)
    admin.config_set("maxmemory", "1")
    try:
        if component.kind == "worker":
            # Its versioned write is one script that deletes the old chunks first; Redis lets a script that has
            # begun writing finish even past maxmemory (so that it is never cut in half): written whole.
            component.write(2)
        else:
            expect_fault(component, lambda: component.write(2), "OOM", "maxmemory")
        assert component.read(1), f"{component.kind}: reads must go on when memory is full"
    finally:
        admin.config_set("maxmemory", "0")
    assert component.count(2) == (component.kind == "worker"), f"{component.kind}: a refused write is half in Redis"
    component.stage(3)
    component.write(3)
    assert component.read(3)


def test_a_read_only_replica_refuses_writes_naming_it(
    make: Callable[..., Component], servers: Callable[..., EmbeddedRedis]
) -> None:
    primary = servers("primary")
    replica = servers("replica")
    component = make(primary.url)
    component.stage(1)
    component.write(1)
    direct(primary).config_set("repl-diskless-sync-delay", "0")  # Redis waits 5 s for more replicas by default
    direct(replica).replicaof("127.0.0.1", primary.port)
    deadline = time.monotonic() + 20
    while direct(primary).wait(1, 100) < 1 or direct(replica).info("replication")["master_link_status"] != "up":
        assert time.monotonic() < deadline, "the replica never synchronised"
    if component.kind in ("producer", "worker"):  # they create their consumer group when made: refused at once
        with pytest.raises(redis.ReadOnlyError, match="read only replica"):
            make(replica.url, replica.url)
        return
    on_replica = make(replica.url, replica.url)
    assert on_replica.read(1), f"{component.kind}: reads from a replica must work"
    expect_fault(on_replica, lambda: on_replica.write(2), "read only", "read-only", "readonly")
    assert component.count(2) == 0


def test_script_flush_behind_the_clients_back(make: Callable[..., Component], server: EmbeddedRedis) -> None:
    component = make(server.url)
    component.stage(1)
    component.write(1)
    direct(server).script_flush()
    component.stage(2)
    component.write(2)
    assert component.read(1) and component.read(2)
    if not component.has_async:
        return

    async def scenario() -> None:
        await component.awrite(3)  # loads the loop's scripts
        direct(server).script_flush()
        await component.awrite(4)
        assert await component.aread(4)

    asyncio.run(scenario())


def test_dropped_index_is_a_clear_error_or_recreated_never_silently_empty(
    make: Callable[..., Component], server: EmbeddedRedis
) -> None:
    component = make(server.url)
    if component.index_name is None:
        pytest.skip(f"{component.kind} uses no search index")
    component.stage(1)
    component.write(1)
    direct(server).execute_command("FT.DROPINDEX", component.index_name)  # the records stay
    if component.degrades:  # the cache re-creates its index: one miss at most, then hits again
        component.read(1)
        component.write(2)
        assert component.read(2), f"{component.kind}: the cache did not come back after its index was dropped"
        return
    component.stage(2)
    with pytest.raises(Exception) as info:
        component.write(2)
        found = component.read(1)
        pytest.fail(f"{component.kind}: no error after the index was dropped (search found item 1: {found})")
    assert component.index_name in str(info.value), f"{component.kind}: error does not name the index: {info.value!r}"
