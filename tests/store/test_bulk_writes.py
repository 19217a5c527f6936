"""Bulk writes: overlapped batches on one connection, and upserts that mix new, changed and unchanged records."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
import pytest
import redis
import redis.asyncio as aredis
from redis.exceptions import ResponseError

from redis_rag_integrations.freshness import record_dependencies
from redis_rag_integrations.store import Record, RedisVectorIndex
from redis_rag_integrations.store.bulk import asend_overlapped, send_overlapped
from redis_rag_integrations.store.writes import default_path

FIELDS = {"source": "tag", "year": "numeric"}


def commands_with_an_error(prefix: str) -> list[list[object]]:
    """Ten commands whose replies are easy to predict; the sixth fails (INCR on a non-number)."""
    out: list[list[object]] = [["SET", f"{prefix}:{i}", i] for i in range(5)]
    out.append(["INCR", f"{prefix}:text"])
    out += [["INCRBY", f"{prefix}:{i}", 10] for i in range(4)]
    return out


def check_replies(replies: list[object]) -> None:
    assert replies[:5] == [b"OK"] * 5  # raw replies: no redis-py response callbacks
    assert isinstance(replies[5], ResponseError) and "not an integer" in str(replies[5])
    assert replies[6:] == [10, 11, 12, 13]  # in order, across batches of three


def test_overlapped_batches_keep_order_and_return_errors_in_place(client: redis.Redis, unique_name: str) -> None:
    client.set(f"{unique_name}:text", "abc")
    try:
        check_replies(send_overlapped(client, commands_with_an_error(unique_name), batch_size=3))
        assert client.ping()  # every reply was read: the pooled connection is in sync
        assert client.get(f"{unique_name}:3") == b"13"
        assert send_overlapped(client, []) == []
        with pytest.raises(ValueError, match="batch_size"):
            send_overlapped(client, [["PING"]], batch_size=0)
    finally:
        client.delete(*[f"{unique_name}:{k}" for k in [*range(5), "text"]])


async def test_async_overlapped_batches_keep_order_and_return_errors_in_place(
    redis_url: str, client: redis.Redis, unique_name: str
) -> None:
    client.set(f"{unique_name}:text", "abc")
    aclient = aredis.Redis.from_url(redis_url)
    try:
        check_replies(await asend_overlapped(aclient, commands_with_an_error(unique_name), batch_size=3))
        assert await aclient.ping()
    finally:
        await aclient.aclose()
        client.delete(*[f"{unique_name}:{k}" for k in [*range(5), "text"]])


def rec(i: int, version: str = "v1", **meta: object) -> Record:
    vector = np.zeros(3, dtype=np.float32)
    vector[i % 3] = 1.0
    vector[(i + 1) % 3] = 0.1 * (i % 7)
    return Record(f"r{i}", f"text {i} {version}", vector, dict(meta), doc_id=f"doc{i % 4}")


@pytest.mark.parametrize("path", ["new-first", "script", "client-side"])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_bulk_upsert_mixing_new_changed_and_unchanged_records(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str, path: str, mode: str
) -> None:
    """30 records in one call, in batches of 7: 10 unchanged, 10 changed (one field fewer), 10 new."""
    index = make_index(metadata_fields=FIELDS)
    index._write_path = path  # type: ignore[assignment]

    async def upsert(records: list[Record]) -> None:
        if mode == "sync":
            index.upsert(records, batch_size=7)
        else:
            await index.aupsert(records, batch_size=7)

    await upsert([rec(i, source="old", year=2020) for i in range(20)])
    entries = {name: f"{unique_name}:answer:{name}" for name in ("unchanged", "changed", "new-doc", "elsewhere")}
    links = {"unchanged": ["r0", "r1"], "changed": ["r12"], "new-doc": ["doc3"], "elsewhere": ["unrelated"]}
    for name, key in entries.items():
        client.set(key, "answer")
        record_dependencies(client, key, links[name])

    unchanged = [rec(i, source="old", year=2020) for i in range(10)]
    changed = [rec(i, "v2", year=2021) for i in range(10, 20)]  # "source" dropped
    new = [rec(i, source="new", year=2022) for i in range(20, 30)]
    await upsert([*unchanged, *changed, *new])

    assert index.count() == 30
    assert sorted(r.id for r in index.find({"source": "old"})) == sorted(f"r{i}" for i in range(10))
    assert {r.id: r.metadata for r in index.find({"year": 2021})} == {f"r{i}": {"year": 2021} for i in range(10, 20)}
    assert sorted(r.id for r in index.find({"source": "new"})) == sorted(f"r{i}" for i in range(20, 30))
    assert index.get(["r15"])[0].text == "text 15 v2"
    alive = {name: bool(client.exists(key)) for name, key in entries.items()}
    # doc3 gained new chunks (r23, r27), so answers built from it are dropped; an unchanged source keeps its answer
    assert alive == {"unchanged": True, "changed": False, "new-doc": False, "elsewhere": True}
    client.delete(*entries.values())


def test_upsert_recovers_when_the_server_forgot_the_script(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    index = make_index(metadata_fields=FIELDS)
    index.upsert([rec(i) for i in range(12)])
    client.script_flush()  # as after a restart without persistence of scripts
    index.upsert([rec(i, "v2") for i in range(12)])
    assert [r.text for r in index.get(["r0", "r11"])] == ["text 0 v2", "text 11 v2"]


def test_a_key_of_another_type_fails_the_write_by_name(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis
) -> None:
    index = make_index()
    client.set(index.layout.key("r3"), "not a hash")
    with pytest.raises(ResponseError, match=r"r3.*WRONGTYPE"):
        index.upsert([rec(i) for i in range(12)])
    assert index.count() == 11  # the other records are written; a retry after fixing the key completes it
    client.delete(index.layout.key("r3"))
    index.upsert([rec(i) for i in range(12)])
    assert index.count() == 12


def test_the_write_path_follows_the_server(redis_url: str, client: redis.Redis) -> None:
    assert default_path(client) == "new-first"  # the embedded server is Redis 8 (HSETEX)
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["~*"], commands=["+@all", "-info"])
    try:
        limited = redis.Redis.from_url(redis_url, username=user, password=password)
        assert default_path(limited) == "new-first"  # INFO denied (as to the ACL roles): HELLO tells the version
        limited.close()
    finally:
        client.acl_deluser(user)


def test_a_single_connection_client_streams_on_a_connection_of_its_own(redis_url: str, unique_name: str) -> None:
    single = redis.Redis.from_url(redis_url, single_connection_client=True)
    try:
        single.set(f"{unique_name}:text", "abc")
        check_replies(send_overlapped(single, commands_with_an_error(unique_name), batch_size=3))
        assert single.get(f"{unique_name}:0") == b"10"  # its own connection is untouched and in sync
    finally:
        single.delete(*[f"{unique_name}:{k}" for k in [*range(5), "text"]])
        single.close()


def test_documents_that_gain_chunks_lose_their_answers_before_the_chunks_are_written(
    make_index: Callable[..., RedisVectorIndex], client: redis.Redis, unique_name: str
) -> None:
    """A bulk write that dies after the check (here: the server refuses writes) leaves no stale answer behind."""
    index = make_index()
    index.upsert([rec(i) for i in range(8)])  # documents doc0..doc3
    answer = f"{unique_name}:answer"
    client.set(answer, "built from doc1 as it was")
    record_dependencies(client, answer, ["doc1"])
    maxmemory = client.config_get("maxmemory")["maxmemory"]
    client.config_set("maxmemory", 1)  # from now on every command that may grow memory is refused
    try:
        with pytest.raises(ResponseError, match="maxmemory"):
            index.upsert([rec(i) for i in range(8, 16)])  # new chunks of doc0..doc3
    finally:
        client.config_set("maxmemory", maxmemory)
    assert index.count() == 8  # no chunk was written...
    assert client.exists(answer) == 0  # ...but the answer built from the document as it was is gone
