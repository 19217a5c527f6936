"""Cluster placement rules and coordinator detection. The detection is tested against fake server replies (the
only fake allowed here: what COMMAND INFO / MODULE LIST answer); it cannot run live: no coordinator build installs
on these machines."""

from __future__ import annotations

import pytest

from redis_rag_integrations.placement import (
    SpansShardsError,
    check_single_slot,
    coordinator_in_command_info,
    coordinator_in_modules,
    has_coordinator,
    hash_tag,
    prefix_tag,
)


@pytest.mark.parametrize(
    ("key", "tag"),
    [("docs:1", None), ("{a}:1", "a"), ("x{a}y{b}", "a"), ("{}a{b}", None), ("a{b", None), ("a}{b}", "b")],
)
def test_hash_tag_follows_the_cluster_spec(key: str, tag: str | None) -> None:
    assert hash_tag(key) == tag


@pytest.mark.parametrize(
    ("prefix", "tag"),
    [("docs:", None), ("rag:{acme}:docs:", "acme"), ("docs{a", None), ("{}docs:", None), ("d{a}:", "a")],
)
def test_a_prefix_pins_a_slot_only_with_a_closed_tag(prefix: str, tag: str | None) -> None:
    assert prefix_tag(prefix) == tag


def test_an_index_whose_keys_span_shards_is_refused_naming_tenants() -> None:
    with pytest.raises(SpansShardsError, match="tenant="):
        check_single_slot("docs", ["docs:"])
    with pytest.raises(SpansShardsError):  # tag in the prefix, another (or none) in the name: other shard
        check_single_slot("docs", ["{a}:docs:"])
    with pytest.raises(SpansShardsError):
        check_single_slot("{b}docs", ["{a}:docs:"])
    check_single_slot("rag:{acme}:docs", ["rag:{acme}:docs:"])


# Replies as a server sends them (RESP2, unparsed): search 2.10.5 here answers nil for both commands.
SEARCH_2_10_COMMAND_INFO = [None, None]
COORDINATOR_COMMAND_INFO = [
    [b"_ft.search", -1, [b"readonly", b"module"], 0, 0, 0, [], [], [], []],
    [b"search.clusterinfo", -1, [b"readonly", b"module"], 0, 0, 0, [], [], [], []],
]
SEARCH_2_10_MODULES = [
    [b"name", b"ReJSON", b"ver", 20803, b"path", b"/x/rejson.so", b"args", []],
    [b"name", b"search", b"ver", 21005, b"path", b"/x/redisearch.so", b"args", []],
    [b"name", b"vectorset", b"ver", 1, b"path", b"", b"args", []],
]
REDIS_8_MODULES_RESP3 = [{b"name": b"search", b"ver": 80205, b"path": b"", b"args": []}]
OLD_COORDINATOR_MODULES = [[b"name", b"rscoordinator", b"ver", 20400, b"path", b"/x/module-oss.so", b"args", []]]


def test_detection_from_command_info() -> None:
    assert not coordinator_in_command_info(SEARCH_2_10_COMMAND_INFO)
    assert coordinator_in_command_info(COORDINATOR_COMMAND_INFO)
    assert coordinator_in_command_info([None, COORDINATOR_COMMAND_INFO[1]])
    assert not coordinator_in_command_info({})
    assert coordinator_in_command_info({"_FT.SEARCH": {"name": "_ft.search"}})


def test_detection_from_module_list() -> None:
    assert not coordinator_in_modules(SEARCH_2_10_MODULES)
    assert coordinator_in_modules(REDIS_8_MODULES_RESP3)
    assert coordinator_in_modules(OLD_COORDINATOR_MODULES)
    assert not coordinator_in_modules([])


def test_a_single_server_never_needs_a_coordinator(client) -> None:
    assert has_coordinator(client) is False


def test_the_live_server_reports_no_coordinator_commands(client) -> None:
    """The fake reply above is what this search build really says (checked, not assumed)."""
    conn = client.connection_pool.get_connection()
    try:
        conn.send_command("COMMAND", "INFO", "_FT.SEARCH", "SEARCH.CLUSTERINFO")
        assert conn.read_response() == SEARCH_2_10_COMMAND_INFO
        conn.send_command("MODULE", "LIST")
        assert not coordinator_in_modules(conn.read_response())
    finally:
        client.connection_pool.release(conn)
