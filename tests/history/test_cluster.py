"""Chat history on a live Redis Cluster (three primaries, no modules), through the public LangChain and LlamaIndex
classes, given the plain URL of one node or a ready cluster client.

What a cluster breaks that one server never shows: keys of other slots (MOVED), multi-key commands across slots
(CROSSSLOT), listing that SCANs one shard only, and asyncio cluster clients bound to the wrong event loop. Every
session's keys share the hash tag ``{session id}``, so each session lives whole on one primary; the tests spread
sessions over all primaries and check where the keys physically are.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.storage.chat_store.base_db import MessageStatus
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from redis_rag_integrations import Settings, get_async_client, get_client
from redis_rag_integrations.errors import MissingModuleError
from redis_rag_integrations.history import ChatHistoryStore, StoredMessage
from redis_rag_integrations.langchain import RedisChatMessageHistory
from redis_rag_integrations.llama_index import RedisAsyncChatStore, RedisChatStore

TESTS_DIR = Path(__file__).resolve().parents[1]


# --- helpers ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw(cluster_url: str) -> Iterator[RedisCluster]:
    """A plain redis-py cluster client, to look at where keys are without going through our code."""
    client = RedisCluster.from_url(cluster_url)
    yield client
    client.close()


def node_of(raw: RedisCluster, key: str) -> str:
    return str(raw.get_node_from_key(key).name)


def sessions_on_every_node(raw: RedisCluster, per_node: int, stem: str = "user") -> list[str]:
    """Session ids chosen so that each primary holds ``per_node`` of them (their keys hash by the session id)."""
    wanted = {str(node.name): per_node for node in raw.get_primaries()}
    chosen: list[str] = []
    i = 0
    while any(wanted.values()):
        sid = f"{stem}-{i}"
        node = node_of(raw, f"x:{{{sid}}}")
        if wanted[node]:
            wanted[node] -= 1
            chosen.append(sid)
        i += 1
    return chosen


def session_off_seed_node(raw: RedisCluster, cluster_url: str, stem: str) -> str:
    """A session whose keys live on a node other than the one the URL names, so routing really matters."""
    seed = cluster_url.removeprefix("redis://")
    return next(s for s in sessions_on_every_node(raw, 1, stem) if node_of(raw, f"x:{{{s}}}") != seed)


def assert_keys_live_on_their_node(raw: RedisCluster, store: ChatHistoryStore, sid: str) -> None:
    """Every existing key of the session is in one slot, stored on the primary that owns it (asked directly)."""
    keys = store.keys(sid)
    slots = {raw.keyslot(k) for k in keys.all_plain()}
    assert len(slots) == 1
    node = raw.get_node_from_key(keys.active)
    present = [k for k in keys.all_plain() if raw.exists(k)]
    assert present, f"session {sid} has no keys"
    assert all(node.redis_connection.exists(k) for k in present)


def lc_turn(i: int) -> list[BaseMessage]:
    return [HumanMessage(content=f"question {i}"), AIMessage(content=f"answer {i}")]


# --- connection: a plain node URL, a cluster URL, a ready client --------------------------------------------------
def test_plain_url_of_one_node_gets_a_cluster_client(cluster_url: str) -> None:
    for url in (cluster_url, cluster_url + "/0", cluster_url + "?cluster=true"):
        client = get_client(url)
        assert isinstance(client, RedisCluster), url
        assert len(client.get_primaries()) == 3
        client.close()
    assert isinstance(get_async_client(cluster_url), AsyncRedisCluster)
    history = RedisChatMessageHistory("s", redis_url=cluster_url)
    assert isinstance(history.store.client, RedisCluster)


def test_a_standalone_server_keeps_a_plain_client(redis_url: str) -> None:
    client = get_client(redis_url)
    assert type(client) is redis.Redis
    client.close()
    assert type(get_async_client(redis_url)) is AsyncRedis


async def test_a_ready_cluster_client_serves_sync_and_async(raw: RedisCluster, cluster_url: str, unique_name: str):
    sid = session_off_seed_node(raw, cluster_url, "ready")
    client = RedisCluster.from_url(cluster_url)
    history = RedisChatMessageHistory(sid, redis_client=client, prefix=unique_name)
    history.add_messages(lc_turn(1))
    await history.aadd_messages(lc_turn(2))
    assert [m.content for m in history.messages] == ["question 1", "answer 1", "question 2", "answer 2"]
    assert [m.content for m in await history.aget_messages()] == [m.content for m in history.messages]
    # the async API reached the same cluster through a twin of the given client, not the default Redis
    assert isinstance(history.store.async_client, AsyncRedisCluster)
    assert history.store.url.startswith("redis://127.0.0.1:") and "cluster=true" in history.store.url
    assert_keys_live_on_their_node(raw, history.store, sid)
    await history.aclear()
    assert not raw.exists(history.store.keys(sid).active)
    client.close()


async def test_a_ready_async_cluster_client_serves_the_async_store(
    raw: RedisCluster, cluster_url: str, unique_name: str
) -> None:
    sids = sessions_on_every_node(raw, 1, "aready")
    store = RedisAsyncChatStore(async_redis_client=AsyncRedisCluster.from_url(cluster_url), prefix=unique_name)
    for sid in sids:
        await store.add_message(sid, ChatMessage(role=MessageRole.USER, content=f"hi from {sid}"))
    assert sorted(await store.get_keys()) == sorted(sids)
    for sid in sids:
        assert [m.content for m in await store.get_messages(sid)] == [f"hi from {sid}"]
        await store.delete_messages(sid)
    assert await store.get_keys() == []


def test_client_and_its_alias_together_are_refused(cluster_url: str) -> None:
    client = RedisCluster.from_url(cluster_url)
    with pytest.raises(TypeError, match="not both"):
        ChatHistoryStore(client=client, redis_client=client)
    client.close()


# --- LangChain ----------------------------------------------------------------------------------------------------
def test_langchain_sessions_spread_over_every_primary(raw: RedisCluster, cluster_url: str, unique_name: str) -> None:
    sids = sessions_on_every_node(raw, 4)
    histories = {sid: RedisChatMessageHistory(sid, redis_url=cluster_url, prefix=unique_name) for sid in sids}
    for n, (sid, history) in enumerate(histories.items()):
        history.add_messages([SystemMessage(content=f"you help {sid}"), *lc_turn(n)])
        history.add_message(HumanMessage(content=f"bye from {sid}"))
    nodes = {node_of(raw, h.store.keys(sid).active) for sid, h in histories.items()}
    assert nodes == {str(n.name) for n in raw.get_primaries()}  # really on all three primaries
    for n, (sid, history) in enumerate(histories.items()):
        expected = [f"you help {sid}", f"question {n}", f"answer {n}", f"bye from {sid}"]
        assert [m.content for m in history.messages] == expected
        assert [m.type for m in history.messages] == ["system", "human", "ai", "human"]
        assert_keys_live_on_their_node(raw, history.store, sid)
    store = next(iter(histories.values())).store
    assert store.sessions() == sorted(sids)  # listing SCANs every primary
    cleared = sids[::2]
    for sid in cleared:
        histories[sid].clear()
    for sid in sids:
        assert bool(histories[sid].messages) is (sid not in cleared)
    assert store.sessions() == sorted(set(sids) - set(cleared))
    for sid in sids:
        histories[sid].clear()


def test_langchain_ttl_is_refreshed_on_every_key_of_the_session(
    raw: RedisCluster, cluster_url: str, unique_name: str
) -> None:
    sid = session_off_seed_node(raw, cluster_url, "ttl")
    history = RedisChatMessageHistory(sid, redis_url=cluster_url, ttl=600, prefix=unique_name)
    history.add_messages(lc_turn(1))
    history.store.archive_oldest(sid, 1)  # a second list of the session, the archive
    keys = history.store.keys(sid)
    for key in (keys.active, keys.archived):
        assert 590 <= raw.ttl(key) <= 600
        raw.expire(key, 5)
    history.add_messages(lc_turn(2))
    for key in (keys.active, keys.archived):
        assert raw.ttl(key) > 590, key
    assert 590 <= (history.store.ttl_of(sid) or 0) <= 600
    history.clear()


def test_langchain_window_last_n_and_trim(raw: RedisCluster, cluster_url: str, unique_name: str) -> None:
    sid = session_off_seed_node(raw, cluster_url, "window")
    history = RedisChatMessageHistory(sid, redis_url=cluster_url, window=3, prefix=unique_name)
    for i in range(5):
        history.add_messages(lc_turn(i))
    assert [m.content for m in history.messages] == ["answer 3", "question 4", "answer 4"]
    assert [m.content for m in history.get_last(2)] == ["question 4", "answer 4"]
    assert history.trim(keep_last=4) == 6
    assert [m.content for m in history.get_last(10)] == ["question 3", "answer 3", "question 4", "answer 4"]
    assert history.trim(keep_last=0) == 4
    assert history.messages == []
    history.clear()


async def test_langchain_async_on_the_cluster(raw: RedisCluster, cluster_url: str, unique_name: str) -> None:
    sids = sessions_on_every_node(raw, 1, "lcasync")
    for n, sid in enumerate(sids):
        history = RedisChatMessageHistory(sid, redis_url=cluster_url, prefix=unique_name)
        await history.aadd_messages(lc_turn(n))
        assert [m.content for m in await history.aget_messages()] == [f"question {n}", f"answer {n}"]
        await history.aclear()
        assert await history.aget_messages() == []


def test_multi_key_operations_never_cross_slots(raw: RedisCluster, cluster_url: str, unique_name: str) -> None:
    """Every operation that touches several keys of a session (MULTI/EXEC, Lua, LMOVE, multi-key DEL), run on a
    session of each primary: a CROSSSLOT or a MOVED would raise here."""
    store = ChatHistoryStore(cluster_url, prefix=unique_name, ttl=300, settings=Settings(redis_url=cluster_url))
    for sid in sessions_on_every_node(raw, 1, "multikey"):
        store.append(sid, [StoredMessage("user", f"m{i}") for i in range(6)])  # RPUSH + EXPIRE x4 in MULTI
        assert [m.content for m in store.archive_oldest(sid, 2)] == ["m0", "m1"]  # Lua: LMOVE + EXPIREs
        assert store.count(sid, status="all") == 6
        assert [m.content for m in store.read(sid, status="all", offset=1, limit=3)] == ["m1", "m2", "m3"]
        deleted = store.delete_at(sid, -1)  # Lua over all five keys
        assert deleted is not None and deleted.content == "m5"
        assert [m.content for m in store.pop_oldest(sid, 1)] == ["m2"]  # LPOP + SET + EXPIREs in MULTI
        store.replace(sid, [StoredMessage("user", "x"), StoredMessage("assistant", "y")])  # DEL + RPUSH + SET
        assert store.trim(sid, 1) == 1
        assert [m.content for m in store.read(sid, status="all")] == ["m0", "m1", "y"]
        assert_keys_live_on_their_node(raw, store, sid)
        store.delete(sid)  # one DEL over every key of the session
        assert not any(raw.exists(k) for k in store.keys(sid).all_plain())
    store.close()


# --- LlamaIndex -----------------------------------------------------------------------------------------------------
def test_llama_index_chat_store_on_the_cluster(raw: RedisCluster, cluster_url: str, unique_name: str) -> None:
    sids = sessions_on_every_node(raw, 3, "li")
    store = RedisChatStore(redis_url=cluster_url, prefix=unique_name)
    for sid in sids:
        store.set_messages(sid, [ChatMessage(role=MessageRole.SYSTEM, content=f"sys {sid}")])
        store.add_message(sid, ChatMessage(role=MessageRole.USER, content=f"hi {sid}"))
        store.add_message(sid, ChatMessage(role=MessageRole.ASSISTANT, content=f"hello {sid}"))
    assert sorted(store.get_keys()) == sorted(sids)  # SCAN on every primary, not the seed node only
    for sid in sids:
        assert [m.content for m in store.get_messages(sid)] == [f"sys {sid}", f"hi {sid}", f"hello {sid}"]
        assert [m.content for m in store.get_messages(sid, last=1)] == [f"hello {sid}"]
        assert_keys_live_on_their_node(raw, store.core, sid)
    first, second, third = sids[0], sids[1], sids[2]
    removed = store.delete_message(first, 1)
    assert removed is not None and removed.content == f"hi {first}"
    removed = store.delete_last_message(second)
    assert removed is not None and removed.content == f"hello {second}"
    deleted = store.delete_messages(third)
    assert deleted is not None and len(deleted) == 3
    assert [m.content for m in store.get_messages(first)] == [f"sys {first}", f"hello {first}"]
    assert sorted(store.get_keys()) == sorted(set(sids) - {third})
    for sid in sids:
        store.delete_messages(sid)
    assert store.get_keys() == []


async def test_llama_index_chat_store_async_methods(raw: RedisCluster, cluster_url: str, unique_name: str) -> None:
    sids = sessions_on_every_node(raw, 1, "liasync")
    store = RedisChatStore(redis_url=cluster_url, prefix=unique_name)
    for sid in sids:
        await store.aset_messages(sid, [ChatMessage(role=MessageRole.USER, content="a")])
        await store.async_add_message(sid, ChatMessage(role=MessageRole.ASSISTANT, content="b"))
    assert sorted(await store.aget_keys()) == sorted(sids)
    for sid in sids:
        assert [m.content for m in await store.aget_messages(sid)] == ["a", "b"]
        removed = await store.adelete_last_message(sid)
        assert removed is not None and removed.content == "b"
        await store.adelete_messages(sid)
    assert await store.aget_keys() == []


async def test_first_async_write_leaves_a_fresh_cluster_client_usable(cluster_url: str, unique_name: str) -> None:
    """Regression: a fresh asyncio cluster client whose first command was a transaction got initialised on a
    helper thread's loop by redis-py, and every later command failed with "Event loop is closed"."""
    store = RedisAsyncChatStore(redis_url=cluster_url, prefix=unique_name)
    await store.add_message("fresh", ChatMessage(role=MessageRole.USER, content="first"))
    assert await store.get_keys() == ["fresh"]
    assert isinstance(store.core.async_client, AsyncRedisCluster)
    await store.delete_messages("fresh")


async def test_llama_index_async_chat_store_on_the_cluster(
    raw: RedisCluster, cluster_url: str, unique_name: str
) -> None:
    sids = sessions_on_every_node(raw, 2, "mem")
    store = RedisAsyncChatStore(redis_url=cluster_url, prefix=unique_name)
    for sid in sids:
        turns = [ChatMessage(role=MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT, content=f"{sid} {i}")
                 for i in range(6)]  # fmt: skip
        await store.add_messages(sid, turns)
    assert sorted(await store.get_keys()) == sorted(sids)
    for sid in sids:
        assert await store.count_messages(sid) == 6
        archived = await store.archive_oldest_messages(sid, 2)
        assert [m.content for m in archived] == [f"{sid} 0", f"{sid} 1"]
        assert [m.content for m in await store.get_messages(sid, status=MessageStatus.ARCHIVED)] == [
            f"{sid} 0",
            f"{sid} 1",
        ]
        assert [m.content for m in await store.get_messages(sid, limit=2, offset=1)] == [f"{sid} 3", f"{sid} 4"]
        assert [m.content for m in await store.delete_oldest_messages(sid, 1)] == [f"{sid} 2"]
        removed = await store.delete_message(sid, -1)
        assert removed is not None and removed.content == f"{sid} 5"
        assert await store.count_messages(sid, status=None) == 4
        await store.set_messages(sid, [ChatMessage(role=MessageRole.USER, content="reset")])
        # set_messages replaces the whole session, archive included (SQLAlchemyChatStore)
        assert [m.content for m in await store.get_messages(sid, status=None)] == ["reset"]
        assert_keys_live_on_their_node(raw, store.core, sid)
        await store.delete_messages(sid)
    assert await store.get_keys() == []


# --- across frameworks --------------------------------------------------------------------------------------------
async def test_written_by_langchain_read_by_llama_index(raw: RedisCluster, cluster_url: str, unique_name: str):
    sids = sessions_on_every_node(raw, 1, "cross")
    for sid in sids:
        RedisChatMessageHistory(sid, redis_url=cluster_url, prefix=unique_name).add_messages(
            [
                SystemMessage(content="be brief"),
                HumanMessage(content=f"weather in {sid}?"),
                AIMessage(content="", tool_calls=[{"id": "c1", "name": "weather", "args": {"city": sid}}]),
                ToolMessage(content="sunny", tool_call_id="c1"),
                AIMessage(content=f"It is sunny in {sid}."),
            ]
        )
    sync_store = RedisChatStore(redis_url=cluster_url, prefix=unique_name)
    async_store = RedisAsyncChatStore(redis_url=cluster_url, prefix=unique_name)
    assert sorted(sync_store.get_keys()) == sorted(await async_store.get_keys()) == sorted(sids)
    for sid in sids:
        for messages in (sync_store.get_messages(sid), await async_store.get_messages(sid)):
            assert [m.role for m in messages] == [
                MessageRole.SYSTEM,
                MessageRole.USER,
                MessageRole.ASSISTANT,
                MessageRole.TOOL,
                MessageRole.ASSISTANT,
            ]
            assert messages[1].content == f"weather in {sid}?"
            calls = [b for b in messages[2].blocks if b.block_type == "tool_call"]
            assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("weather", {"city": sid})]
            assert messages[3].additional_kwargs["tool_call_id"] == "c1"
            assert messages[4].content == f"It is sunny in {sid}."
        # and back: LlamaIndex appends, LangChain reads everything in one order
        await async_store.add_message(sid, ChatMessage(role=MessageRole.USER, content="thanks"))
        history = RedisChatMessageHistory(sid, redis_url=cluster_url, prefix=unique_name)
        assert [m.type for m in history.messages] == ["system", "human", "ai", "tool", "ai", "human"]
        assert history.messages[-1].content == "thanks"
        history.clear()


# --- concurrency ----------------------------------------------------------------------------------------------------
WRITERS = 4
PER_WRITER = 40


@pytest.mark.parametrize("sharing", ["one history shared by all threads", "a history per thread"])
def test_concurrent_appends_to_one_session_keep_order_and_lose_nothing(
    sharing: str, raw: RedisCluster, cluster_url: str, unique_name: str
) -> None:
    sid = session_off_seed_node(raw, cluster_url, "busy")
    shared = RedisChatMessageHistory(sid, redis_url=cluster_url, prefix=unique_name)
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        history = shared if sharing.startswith("one") else RedisChatMessageHistory(sid, redis_url=cluster_url,
                                                                                    prefix=unique_name)  # fmt: skip
        try:
            start.wait(timeout=30)
            for i in range(PER_WRITER):  # two messages per append: they must stay adjacent
                history.add_messages([HumanMessage(content=f"{writer}:{i}:q"), AIMessage(content=f"{writer}:{i}:a")])
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    texts = [str(m.content) for m in shared.messages]
    assert len(texts) == WRITERS * PER_WRITER * 2 and len(set(texts)) == len(texts)
    for pos in range(0, len(texts), 2):
        assert texts[pos].endswith(":q") and texts[pos + 1] == texts[pos][:-1] + "a"
    for writer in range(WRITERS):
        mine = [t for t in texts if t.startswith(f"{writer}:") and t.endswith(":q")]
        assert mine == [f"{writer}:{i}:q" for i in range(PER_WRITER)]
    # every reader, on any framework, sees that one total order
    assert [m.content for m in RedisChatStore(redis_url=cluster_url, prefix=unique_name).get_messages(sid)] == texts
    shared.clear()


# --- relevant recall without the search module ----------------------------------------------------------------------
async def test_relevant_recall_on_a_module_less_cluster_says_what_is_missing(
    raw: RedisCluster, cluster_url: str, unique_name: str, words_embedder
) -> None:
    sid = session_off_seed_node(raw, cluster_url, "recall")
    history = RedisChatMessageHistory(sid, redis_url=cluster_url, prefix=unique_name, embedder=words_embedder)
    history.add_messages(lc_turn(1))
    chat_store = RedisChatStore(redis_url=cluster_url, prefix=unique_name, embedder=words_embedder)
    async_store = RedisAsyncChatStore(redis_url=cluster_url, prefix=unique_name, embedder=words_embedder)
    calls = [
        lambda: history.get_relevant("question"),
        lambda: chat_store.get_relevant(sid, "question"),
    ]
    for call in calls:
        with pytest.raises(MissingModuleError) as excinfo:
            call()
        assert not isinstance(excinfo.value, redis.ResponseError)
        message = str(excinfo.value)
        assert "relevant recall needs the Redis query engine" in message and "no search module" in message
        assert "Plain chat history works without it" in message
    for acall in (history.aget_relevant("question"), async_store.aget_relevant(sid, "question")):
        with pytest.raises(MissingModuleError, match="relevant recall needs the Redis query engine"):
            await acall
    # plain history is untouched and still works
    assert [m.content for m in history.messages] == ["question 1", "answer 1"]
    assert [k for k in raw.scan_iter(match=f"{unique_name}-recall:*", target_nodes=RedisCluster.ALL_NODES)] == []
    history.clear()
