"""The ACL roles (redis_rag_integrations.acl) on a private embedded Redis: each role does its job through the
package, is refused what it must not do, and a refusal names the command and the role to use.

The admin (the default user here) creates the indexes; the other roles connect with ``redis://user:pass@...``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redisvl.exceptions import RedisSearchError

from redis_rag_integrations import EmbeddedRedis, MissingModuleError, Settings
from redis_rag_integrations.acl import ROLES, PermissionDenied, acl_rules, create_user, setuser_line
from redis_rag_integrations.cache.exact import ExactCache
from redis_rag_integrations.cache.semantic import SemanticCache
from redis_rag_integrations.connection import get_client
from redis_rag_integrations.history.message import StoredMessage
from redis_rag_integrations.history.store import ChatHistoryStore
from redis_rag_integrations.ingest.producer import Producer
from redis_rag_integrations.ingest.worker import Worker
from redis_rag_integrations.store.index import RedisVectorIndex
from redis_rag_integrations.store.layout import Record
from redis_rag_integrations.urls import redis_url as resolve_url

PASSWORD = "s3cret-acl-Pw"


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedRedis]:
    """A server of this module only: users created here never reach the session's server."""
    with EmbeddedRedis(appendonly=False) as srv:
        admin = redis.Redis.from_url(srv.url)
        for role in ROLES:
            create_user(admin, role, PASSWORD, role)
        admin.close()
        yield srv


def url_for(server: EmbeddedRedis, user: str, password: str = PASSWORD) -> str:
    return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{server.port}/0"


@pytest.fixture(scope="module")
def index_name(server: EmbeddedRedis, hash_embedder_module) -> str:
    """An index the admin role creates (rag-admin), with one record in it."""
    name = f"acl{uuid.uuid4().hex[:8]}"
    url = url_for(server, "rag-admin")
    index = RedisVectorIndex(name, dims=hash_embedder_module.dims, url=url, settings=Settings(redis_url=url))
    index.upsert([Record(id="seed", text="seed text", vector=_vec(hash_embedder_module, "seed text"), doc_id="d0")])
    return name


@pytest.fixture(scope="module")
def hash_embedder_module():
    from fakes import HashEmbedder

    return HashEmbedder()


def _vec(embedder, text: str) -> np.ndarray:
    return np.asarray(embedder.embed([text])[0], dtype=np.float32)


def test_every_role_line_is_accepted_by_the_server(server: EmbeddedRedis) -> None:
    """The README's copy-paste lines run as written; ACL DRYRUN shows each role's search / write / admin reach."""
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    expected = {  # role -> (may search, may write a hash, may read a stream group, may create an index)
        "rag-reader": (True, False, False, False),
        "rag-writer": (True, True, True, False),
        "rag-cache": (True, True, False, False),
        "rag-admin": (True, True, True, True),
    }
    probes = (
        ("FT.SEARCH", "idx", "*"),
        ("HSET", "k", "f", "v"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
        ("FT.CREATE", "idx", "SCHEMA", "t", "TEXT"),
    )
    try:
        for role, allowed in expected.items():
            user = f"check-{role}"
            admin.execute_command(*setuser_line(role, user, "pw").split())
            got = tuple(admin.execute_command("ACL", "DRYRUN", user, *probe) == "OK" for probe in probes)
            assert got == allowed, role
            admin.execute_command("ACL", "DELUSER", user)
    finally:
        admin.close()


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize(
    "command", [("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "maxmemory"), ("KEYS", "*"), ("SHUTDOWN",)]
)
def test_no_role_may_flush_configure_or_list_keys(server: EmbeddedRedis, role: str, command: tuple[str, ...]) -> None:
    client = get_client(url_for(server, role), settings=Settings())
    try:
        with pytest.raises(PermissionDenied) as denied:
            client.execute_command(*command)
        assert command[0] in str(denied.value).upper()
    finally:
        client.close()


def test_reader_searches_and_reads_but_cannot_write(
    server: EmbeddedRedis, index_name: str, hash_embedder_module
) -> None:
    url = url_for(server, "rag-reader")
    settings = Settings(redis_url=url)
    assert resolve_url(settings) == url  # PING + the module check without MODULE LIST (FT._LIST instead)
    index = RedisVectorIndex(index_name, url=url, settings=settings)  # exists: no FT.CREATE needed
    vec = _vec(hash_embedder_module, "seed text")
    assert [h.record.id for h in index.search(vec, k=1)] == ["seed"]
    assert [r.id for r in index.get(["seed"])] == ["seed"]
    assert [h.record.id for h in index.hybrid_search("seed", vec, k=1)] == ["seed"]
    with pytest.raises(PermissionDenied) as denied:
        index.upsert([Record(id="x", text="x", vector=vec)])
    message = str(denied.value)
    assert "rag-writer" in message and "NOPERM" in message
    assert [r.id for r in index.get(["seed", "x"])] == ["seed"]  # nothing half-written


def test_reader_cannot_create_an_index(server: EmbeddedRedis, hash_embedder_module) -> None:
    url = url_for(server, "rag-reader")
    name = f"new{uuid.uuid4().hex[:6]}"
    with pytest.raises(RedisSearchError) as denied:  # redisvl wraps the refusal, keeping its text and cause
        RedisVectorIndex(name, dims=hash_embedder_module.dims, url=url, settings=Settings(redis_url=url))
    assert isinstance(denied.value.__cause__, PermissionDenied)
    assert "FT.CREATE" in str(denied.value) and "rag-admin" in str(denied.value)


def test_writer_ingests_through_the_stream(server: EmbeddedRedis, index_name: str, hash_embedder_module) -> None:
    url = url_for(server, "rag-writer")
    settings = Settings(redis_url=url)
    index = RedisVectorIndex(index_name, url=url, settings=settings, create=False)
    vec = _vec(hash_embedder_module, "direct write")
    index.upsert([Record(id="w1", text="direct write", vector=vec, doc_id="dw")])
    assert [h.record.id for h in index.search(vec, k=1)] == ["w1"]
    producer = Producer(index_name, redis_url=url, settings=settings)
    producer.upsert("doc-ingested", "a document that came through the ingestion stream")
    stats = Worker(index, hash_embedder_module).run(until_idle=True)
    assert stats.indexed == 1 and stats.dead_lettered == 0
    assert any(h.record.doc_id == "doc-ingested" for h in index.text_search("ingestion stream", k=5))
    assert index.delete(["w1"]) == 1


def test_writer_cannot_drop_an_index(server: EmbeddedRedis, index_name: str) -> None:
    client = get_client(url_for(server, "rag-writer"), settings=Settings())
    try:
        with pytest.raises(PermissionDenied, match="rag-admin"):
            client.execute_command("FT.DROPINDEX", index_name)
    finally:
        client.close()


def test_cache_role_reads_and_writes_both_caches(server: EmbeddedRedis, hash_embedder_module) -> None:
    name = f"aclcache{uuid.uuid4().hex[:6]}"
    admin_url, url = url_for(server, "rag-admin"), url_for(server, "rag-cache")
    admin_cache = SemanticCache(
        hash_embedder_module, name=name, redis_url=admin_url, settings=Settings(redis_url=admin_url)
    )
    assert admin_cache.check("warm up") is None  # the admin creates the cache's index once
    cache = SemanticCache(hash_embedder_module, name=name, redis_url=url, settings=Settings(redis_url=url))
    assert cache.store("what is an acl?", "an access control list") is not None
    hit = cache.check("what is an acl?")
    assert hit is not None and hit.response == "an access control list"
    exact = ExactCache(name=f"{name}:exact", redis_url=url, settings=Settings(redis_url=url))
    assert exact.set("prompt", "answer") and exact.get("prompt") == "answer"
    assert cache.clear() >= 1


def test_cache_role_has_no_streams(server: EmbeddedRedis) -> None:
    client = get_client(url_for(server, "rag-cache"), settings=Settings())
    try:
        with pytest.raises(PermissionDenied, match="rag-writer"):
            client.xadd("ingest:{x}:events", {"a": "b"})
    finally:
        client.close()


def test_history_works_under_the_writer_and_cache_roles(server: EmbeddedRedis) -> None:
    for role in ("rag-writer", "rag-cache"):
        url = url_for(server, role)
        history = ChatHistoryStore(url, settings=Settings(redis_url=url), prefix=f"aclchat{uuid.uuid4().hex[:6]}")
        history.append("s", [StoredMessage(role="user", content=f"hi from {role}")])
        assert [m.content for m in history.read("s")] == [f"hi from {role}"]
        history.delete("s")


def test_key_pattern_users_cannot_search_their_own_index(server: EmbeddedRedis, hash_embedder_module) -> None:
    """The measured search 2.10 behaviour the README states: ~prefix:* users get NOPERM on their own index."""
    admin = redis.Redis.from_url(server.url)
    name = f"tenanta{uuid.uuid4().hex[:6]}"
    index = RedisVectorIndex(
        name, dims=hash_embedder_module.dims, url=server.url, settings=Settings(redis_url=server.url)
    )
    rules = [r if r != "~*" else f"~{name}:*" for r in acl_rules("rag-reader")]
    admin.execute_command("ACL", "SETUSER", "tenant-a", *rules[:2], f">{PASSWORD}", *rules[2:])
    client = get_client(url_for(server, "tenant-a"), settings=Settings())
    try:
        for command in (("FT.INFO", name), ("FT.SEARCH", name, "*")):
            with pytest.raises(PermissionDenied) as denied:
                client.execute_command(*command)
            assert "access a key" in str(denied.value) and "tenant=" in str(denied.value)
    finally:
        client.close()
        index.drop()
        admin.close()


def test_module_check_needs_no_module_list(server: EmbeddedRedis) -> None:
    """A user with nothing but @connection (no MODULE LIST, no FT._LIST) passes the module check: HELLO lists the
    modules, and Redis answers HELLO to every user (it is exempt from ACL rules: ``-hello`` changes nothing, so the
    FT._LIST fallback after it only serves servers or proxies without HELLO)."""
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", "bare", "reset", "on", f">{PASSWORD}", "~*", "+@connection", "-hello")
    assert admin.execute_command("ACL", "DRYRUN", "bare", "HELLO") == b"OK"
    assert admin.execute_command("ACL", "DRYRUN", "bare", "MODULE", "LIST") != b"OK"
    admin.close()
    url = url_for(server, "bare")
    assert resolve_url(Settings(redis_url=url)) == url
    with pytest.raises(MissingModuleError, match="no nosuchmodule module"):  # and a missing module is still missing
        resolve_url(Settings(redis_url=url), require=("search", "nosuchmodule"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Redis refuses user names with C whitespace or NUL ("Usernames can't contain spaces or null characters").
    user=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00 \t\n\v\f\r"), min_size=1, max_size=20
    ),
    password=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30),
)
def test_any_user_name_and_password_pass_through_the_url_exactly(
    server: EmbeddedRedis, user: str, password: str
) -> None:
    """Percent-encoded user names and passwords reach the server exactly (or the URL is refused, never misread)."""
    admin = redis.Redis.from_url(server.url)
    try:
        admin.execute_command(
            "ACL", "SETUSER", user, "reset", "on", f">{password}", "~*", "+@connection", "+acl|whoami"
        )
        client = get_client(url_for(server, user, password), settings=Settings())
        try:
            assert client.execute_command("ACL", "WHOAMI") == user.encode()  # type: ignore[union-attr]
        finally:
            client.close()
        # the same credentials from the settings instead of the URL (REDIS_RAG_REDIS_USERNAME / _PASSWORD)
        plain = f"redis://127.0.0.1:{server.port}/0"
        client = get_client(plain, settings=Settings(redis_username=user, redis_password=password))
        try:
            assert client.execute_command("ACL", "WHOAMI") == user.encode()  # type: ignore[union-attr]
        finally:
            client.close()
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()


def test_cache_under_a_role_without_writes_fails_clearly(server: EmbeddedRedis, hash_embedder_module) -> None:
    """A refused permission is a configuration error, not an outage: it is raised, not turned into a miss."""
    name = f"aclro{uuid.uuid4().hex[:6]}"
    admin_url, url = url_for(server, "rag-admin"), url_for(server, "rag-reader")
    SemanticCache(hash_embedder_module, name=name, redis_url=admin_url, settings=Settings(redis_url=admin_url)).check(
        "create the index"
    )
    cache = SemanticCache(hash_embedder_module, name=name, redis_url=url, settings=Settings(redis_url=url))
    assert cache.check("nothing stored yet") is None  # reading is allowed
    with pytest.raises(PermissionDenied, match="rag-cache"):
        cache.store("a question", "an answer")
    exact = ExactCache(name=f"{name}:exact", redis_url=url, settings=Settings(redis_url=url))
    assert exact.get("nothing") is None
    with pytest.raises(PermissionDenied, match="rag-cache"):
        exact.set("a question", "an answer")


def test_query_vector_cache_degrades_under_the_reader(server: EmbeddedRedis, caplog: pytest.LogCaptureFixture) -> None:
    """The question-vector cache is an optimisation on the query path: a retriever (rag-reader) may not write it, so
    its stores are skipped with a warning naming the roles that may, and retrieval goes on."""
    from redis_rag_integrations.query_vector_cache import QueryVectorCache

    url = url_for(server, "rag-reader")
    cache = QueryVectorCache(redis_url=url, settings=Settings(redis_url=url), namespace=f"qv{uuid.uuid4().hex[:6]}")
    vector = np.ones(4, dtype=np.float32)
    with caplog.at_level("WARNING"):
        cache.put("model", 4, "a question", vector)  # refused by the ACL: no exception on the query path
    assert "rag-cache" in caplog.text and "ACL" in caplog.text
    assert cache.get("model", 4, "a question") is None


def test_vector_set_variant_of_the_roles(server: EmbeddedRedis) -> None:
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    probes = (("VSIM", "vs", "ELE", "a"), ("VADD", "vs", "VALUES", "2", "1", "0", "a"))
    try:
        for role, allowed in (("rag-reader", (True, False)), ("rag-writer", (True, True)), ("rag-cache", (True, True))):
            admin.execute_command(*setuser_line(role, "vs-user", "pw", vector_sets=True).split())
            assert tuple(admin.execute_command("ACL", "DRYRUN", "vs-user", *p) == "OK" for p in probes) == allowed
            admin.execute_command(*setuser_line(role, "vs-user", "pw").split())
            assert admin.execute_command("ACL", "DRYRUN", "vs-user", *probes[0]) != "OK"
    finally:
        admin.execute_command("ACL", "DELUSER", "vs-user")
        admin.close()
    assert "+vsim" not in setuser_line("rag-reader")  # Redis Stack 7.x refuses rules naming unknown commands


def test_readme_acl_lines_are_the_package_roles() -> None:
    """The README's copy-paste lines are exactly what `redis-rag acl` prints (and what the tests above ran)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    shown = [line for line in readme.splitlines() if line.startswith("ACL SETUSER ")]
    assert shown == [setuser_line(role) for role in ROLES]


def test_async_clients_name_the_role_too(server: EmbeddedRedis) -> None:
    from redis_rag_integrations.connection import aget_async_client, async_twin

    url = url_for(server, "rag-reader")

    async def denied_writes() -> list[str]:
        messages = []
        made = await aget_async_client(url, settings=Settings())
        sync = get_client(url, settings=Settings())
        twin = async_twin(sync)  # the twin of a sync client carries the asyncio variant of the parser
        try:
            for client in (made, twin):
                assert await client.ping()
                with pytest.raises(PermissionDenied) as denied:
                    await client.set("k", "v")
                messages.append(str(denied.value))
        finally:
            await made.aclose()
            await twin.aclose()
            sync.close()
        return messages

    messages = asyncio.run(denied_writes())
    assert len(messages) == 2 and all("'SET'" in m and "rag-writer" in m for m in messages)


def test_cli_prints_the_role_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from redis_rag_integrations import cli

    assert cli.main(["acl"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ACL SETUSER")]
    assert printed == [setuser_line(role) for role in ROLES]
    assert cli.main(["acl", "rag-reader", "--user", "retriever-1", "--vector-sets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == setuser_line("rag-reader", "retriever-1", vector_sets=True)


def test_admin_runs_info_and_stats(server: EmbeddedRedis, index_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from redis_rag_integrations import cli

    url = url_for(server, "rag-admin")
    assert cli.main(["info", "--url", url]) == 0
    assert cli.main(["stats", "--url", url, "--json"]) == 0
    out = capsys.readouterr().out
    assert "Redis 8." in out and index_name in out and '"num_docs"' in out
    assert cli.main(["info", "--url", url_for(server, "rag-reader")]) == 0  # no INFO: says so, still lists indexes
    out = capsys.readouterr().out
    assert "may not run INFO" in out and index_name in out


def test_run_time_refusals_are_only_the_ones_with_a_fallback(
    server: EmbeddedRedis, index_name: str, hash_embedder_module
) -> None:
    """The audit, automated: each job run under its role, then the server's ACL LOG lists every command it refused.
    Only INFO (cluster detection, write-path choice), MODULE LIST (module check) and, for the reader, SCRIPT LOAD
    (skipped: it never writes) may be there: each has a fallback. Anything else was refused and swallowed."""
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.execute_command("ACL", "LOG", "RESET")
    vec = _vec(hash_embedder_module, "seed text")
    for role in ("rag-reader", "rag-writer", "rag-cache"):
        url = url_for(server, role).replace("127.0.0.1", "localhost")  # URLs not seen yet: detection runs again
        settings = Settings(redis_url=url)
        assert resolve_url(settings) == url
        index = RedisVectorIndex(index_name, url=url, settings=settings)
        assert index.search(vec, k=1) and asyncio.run(index.asearch(vec, k=1))
        if role == "rag-writer":
            index.upsert([Record(id="audit", text="audit", vector=vec)])
            Producer(index_name, redis_url=url, settings=settings).upsert("audit-doc", "audited text")
            assert Worker(index, hash_embedder_module).run(until_idle=True).indexed == 1
        if role == "rag-cache":
            cache = SemanticCache(hash_embedder_module, name="audit", redis_url=url, settings=settings)
            with pytest.raises(PermissionDenied, match="rag-admin"):  # no index yet, and this role may not create it
                cache.check("a question")
        history = ChatHistoryStore(url, settings=settings, prefix="audit")
        assert history.read("s") == []
    refused = {(entry["username"], entry["object"].lower()) for entry in admin.execute_command("ACL", "LOG")}
    admin.close()
    allowed = {"info", "module|list", "script|load", "ft.create"}
    assert {obj for _, obj in refused} <= allowed, refused
    assert ("rag-reader", "script|load") in refused and ("rag-writer", "script|load") not in refused


def test_writer_without_info_keeps_the_fast_write_path(server: EmbeddedRedis, index_name: str) -> None:
    """INFO is denied to every role but the admin: the server's version comes from HELLO instead, so Redis 8 keeps
    its HSETEX write path (the script path is correct but slower)."""
    url = url_for(server, "rag-writer")
    assert RedisVectorIndex(index_name, url=url, settings=Settings(redis_url=url))._write_path == "new-first"


@pytest.mark.parametrize("protocol", [2, 3])
def test_hello_is_read_on_both_protocols(server: EmbeddedRedis, protocol: int) -> None:
    from redis_rag_integrations.hello import hello, redis_major

    client = redis.Redis.from_url(url_for(server, "rag-reader"), protocol=protocol)
    try:
        found = hello(client)
    finally:
        client.close()
    assert (found["server"], found["mode"], redis_major(found)) == ("redis", "standalone", 8)
    assert {"search", "ReJSON", "vectorset"} <= set(found["modules"])
    assert redis_major({"server": "valkey", "version": "8.1.0"}) is None  # another product: no HSETEX assumed
