"""A thread's checkpoint history through our saver against LangGraph's ``InMemorySaver``: only the thread's own
checkpoints, in its namespace, before a bound, and clear errors."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain.agents import create_agent
from langchain_core.messages import AIMessage

from redis_rag_integrations.connection import get_async_client, get_client
from redis_rag_integrations.langchain.agents import AsyncRedisCheckpointSaver, RedisCheckpointSaver, checkpointer

from .conftest import ToolFakeChatModel

# --- checkpointer -------------------------------------------------------------------------------------------------


class _Model(ToolFakeChatModel):
    pass


def _turn(saver: Any, thread: str, text: str) -> None:
    agent = create_agent(_Model(messages=iter([AIMessage(f"answer to {text}")])), checkpointer=saver)
    agent.invoke({"messages": [{"role": "user", "content": text}]}, {"configurable": {"thread_id": thread}})


def _two_turns(saver: Any) -> dict[str, Any]:
    thread = f"t{uuid.uuid4().hex[:8]}"
    for text in ("first", "second"):
        _turn(saver, thread, text)
    return {"configurable": {"thread_id": thread}}


def test_state_history_holds_only_the_threads_own_checkpoints(redis_url: str) -> None:
    saver = checkpointer(redis_url)
    base = f"user-{uuid.uuid4().hex[:8]}"
    others = [base.upper(), f"{base},x"]
    for thread in [base, *others]:
        _turn(saver, thread, f"secret of {thread}")
    agent = create_agent(_Model(messages=iter([])), checkpointer=saver)
    history = list(agent.get_state_history({"configurable": {"thread_id": base}}))
    assert {h.config["configurable"]["thread_id"] for h in history} == {base}
    assert all(m.content.endswith(base) for h in history for m in h.values.get("messages", []))
    for thread in others:
        saver.delete_thread(thread)
    saver.delete_thread(base)


@pytest.mark.parametrize("suffix", [",1", " "], ids=["comma", "space"])
def test_state_history_of_a_thread_with_punctuation(redis_url: str, suffix: str) -> None:
    saver = checkpointer(redis_url)
    thread = f"t{uuid.uuid4().hex[:8]}{suffix}" if suffix != " " else " "
    _turn(saver, thread, "hello")
    agent = create_agent(_Model(messages=iter([])), checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    assert len(agent.get_state(config).values["messages"]) == 2
    try:
        assert len(list(agent.get_state_history(config))) == 3  # InMemorySaver: input, model, start
    finally:
        saver.delete_thread(thread)


def test_list_by_checkpoint_ns_returns_that_namespace_only(redis_url: str) -> None:
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.memory import InMemorySaver

    thread = f"t{uuid.uuid4().hex[:8]}"
    namespaces = ["", "sub", "Sub", "a,b", "parent:abc|child:def"]
    found: dict[str, dict[str, list[str]]] = {}
    savers = {"redis": checkpointer(redis_url), "reference": InMemorySaver()}
    for name, saver in savers.items():
        for ns in namespaces:
            checkpoint = empty_checkpoint()
            checkpoint["channel_values"] = {"x": ns}
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            saver.put(config, checkpoint, {"source": "input", "step": 0}, {})
        found[name] = {
            ns: sorted(
                c.config["configurable"]["checkpoint_ns"]
                for c in saver.list({"configurable": {"thread_id": thread, "checkpoint_ns": ns}})
            )
            for ns in namespaces
        }
    savers["redis"].delete_thread(thread)
    assert found["reference"] == {ns: [ns] for ns in namespaces}
    assert found["redis"] == found["reference"]


@pytest.mark.parametrize("ttl", [0, -5, 0.5, 1.5, "60"])
def test_a_checkpoint_ttl_below_one_second_is_refused(redis_url: str, ttl: Any) -> None:
    """The saver would expire each checkpoint as it writes it: every thread silently empty. Refused instead."""
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        checkpointer(redis_url, ttl=ttl)


def test_list_before_a_checkpoint_returns_only_older_ones(redis_url: str) -> None:
    saver = checkpointer(redis_url)
    config = _two_turns(saver)
    history = list(saver.list(config))
    assert len(history) == 6
    try:
        older = list(saver.list(config, before=history[3].config))
        assert [c.config["configurable"]["checkpoint_id"] for c in older] == [
            c.config["configurable"]["checkpoint_id"] for c in history[4:]
        ]
    finally:
        saver.delete_thread(config["configurable"]["thread_id"])


def test_history_filter_on_custom_metadata_is_not_reported_as_corruption(redis_url: str) -> None:
    from redis_rag_integrations.langchain.agents import CorruptCheckpointError

    saver = checkpointer(redis_url)
    config = _two_turns(saver)
    agent = create_agent(_Model(messages=iter([])), checkpointer=saver)
    try:
        try:
            found = list(agent.get_state_history(config, filter={"user": "u-1"}))
        except CorruptCheckpointError:
            pytest.fail("a filter the saver cannot apply is reported as a corrupt checkpoint (delete the thread?)")
        except (ValueError, NotImplementedError):
            return  # a clear refusal naming the filter is fine
        assert found == []  # InMemorySaver: no checkpoint has that metadata
    finally:
        saver.delete_thread(config["configurable"]["thread_id"])


@pytest.mark.parametrize("ttl", [0, -5, 0.5, 1.5, "60"])
def test_async_checkpointer_and_register_refuse_a_ttl_below_one_second(
    redis_url: str, unique_name: str, hash_embedder: Any, client: Any, ttl: Any
) -> None:
    """The same refusal on the async factory and on ``register(history_ttl=...)`` (which builds both savers and the
    LCEL history), before anything is created on the server."""
    from redis_rag_integrations.langchain import RagEmbeddings, register
    from redis_rag_integrations.langchain.agents import async_checkpointer

    with pytest.raises(ValueError, match="ttl"):
        async_checkpointer(redis_url, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        register(embeddings=RagEmbeddings(hash_embedder), index_name=unique_name, history_ttl=ttl, agents=True)
    assert not [name for name in client.execute_command("FT._LIST") if unique_name in str(name)]


# --- property: the history of any thread / namespace is InMemorySaver's ------------------------------------------

_TRICKY = [",", " ", "\t", ":", "|", "-", "*", "{", "}", "\\", "'", '"', "%", "@", "`", "\x00", "\x01", "\u00a0"]
_LETTERS = ["a", "A", "z", "0", "É", "é", "ß", "用", "Ω", "ω", "\u3000"]
_ids = st.one_of(st.text(st.sampled_from(_TRICKY + _LETTERS), max_size=6), st.text(max_size=5))


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[str], list[str], list[tuple[int, int, str | None]]]:
    """Thread ids around one random id (its case variants, with a ',' or a space added), namespaces the same way,
    and a sequence of checkpoint writes (thread, namespace, metadata ``user``)."""
    base = draw(_ids)
    threads = list(dict.fromkeys([base, base.upper(), f"{base},x", f"x,{base} ", draw(_ids)]))
    ns_base = draw(_ids)
    namespaces = list(dict.fromkeys(["", ns_base, ns_base.swapcase(), f"{ns_base},b", "Sub"]))
    writes = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(threads) - 1),
                st.integers(0, len(namespaces) - 1),
                st.sampled_from(["u-1", "U-1", None]),
            ),
            min_size=1,
            max_size=8,
        )
    )
    return threads, namespaces, writes


def _row(found: Any) -> tuple[Any, ...]:
    conf = found.config["configurable"]
    parent = (found.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    writes = tuple(sorted(tuple(write) for write in found.pending_writes or []))
    return (str(conf["thread_id"]), conf["checkpoint_ns"], conf["checkpoint_id"], found.metadata.get("n"),
            found.metadata.get("user"), parent, writes)  # fmt: skip


def _queries(
    threads: list[str], namespaces: list[str], ids: list[str]
) -> list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, int | None]]:
    """(config, filter, before, limit) for every thread and namespace (and none), with filters, bounds and limits."""
    found: list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, int | None]] = []
    for thread in threads:
        for ns in [None, *namespaces]:
            configurable = {"thread_id": thread} if ns is None else {"thread_id": thread, "checkpoint_ns": ns}
            config = {"configurable": configurable}
            found.append((config, None, None, None))
            for filter in ({"user": "u-1"}, {"source": "loop", "step": 1}):
                found.append((config, filter, None, None))
            for bound in ids[1::4]:
                found.append((config, None, {"configurable": {"checkpoint_id": bound}}, None))
            if ns is not None:  # InMemorySaver orders namespaces by first write: a limit across them differs
                found.extend((config, None, None, limit) for limit in (0, 2))
                if ids:
                    found.append((config, {"user": "u-1"}, {"configurable": {"checkpoint_id": ids[-1]}}, 1))
    return found


def _answers(rows: list[Any], config: dict[str, Any]) -> list[Any]:
    """Rows as compared: in order within one namespace, as a set across namespaces (see ``_queries``)."""
    return rows if "checkpoint_ns" in config["configurable"] else sorted(rows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_histories())
def test_history_of_any_thread_and_namespace_is_in_memory_savers(redis_url: str, case: Any) -> None:
    """Random thread ids and namespaces (punctuation, ',', spaces, case variants, unicode, control characters): for
    every thread, namespace, metadata filter, ``before`` and ``limit``, sync ``list()`` and async ``alist()`` give
    the checkpoints ``InMemorySaver`` gives for the same writes. Each example has its own key prefix and index."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.memory import InMemorySaver

    threads, namespaces, writes = case
    prefix = f"cp{uuid.uuid4().hex[:10]}"
    client = get_client(redis_url)
    ours = RedisCheckpointSaver(redis_client=client, checkpoint_prefix=prefix, checkpoint_write_prefix=f"{prefix}w")
    ours.setup()
    reference = InMemorySaver()
    try:
        latest: dict[tuple[str, str], str] = {}
        ids: list[str] = []
        for n, (t, s, user) in enumerate(writes):
            thread, ns = threads[t], namespaces[s]
            checkpoint = empty_checkpoint()
            metadata: dict[str, Any] = {"source": "loop", "step": n % 3, "n": n}
            if user is not None:
                metadata["user"] = user
            configurable = {"thread_id": thread, "checkpoint_ns": ns}
            if (thread, ns) in latest:
                configurable["checkpoint_id"] = latest[(thread, ns)]
            for saver in (ours, reference):
                stored = saver.put({"configurable": configurable}, checkpoint, metadata, {})
                if n % 2 == 0:  # pending writes on every other checkpoint (the library's list lost some)
                    saver.put_writes(stored, [("ch", f"w{n}")], task_id=f"task{n}")
            latest[(thread, ns)] = checkpoint["id"]
            ids.append(checkpoint["id"])
        queries = _queries(threads, namespaces, ids)
        expected = [
            _answers([_row(c) for c in reference.list(q, filter=f, before=b, limit=lim)], q) for q, f, b, lim in queries
        ]
        assert [_answers([_row(c) for c in ours.list(q, filter=f, before=b, limit=lim)], q)
                for q, f, b, lim in queries] == expected  # fmt: skip

        async def listed() -> list[list[Any]]:
            aclient = get_async_client(redis_url)
            saver = AsyncRedisCheckpointSaver(
                redis_client=aclient, checkpoint_prefix=prefix, checkpoint_write_prefix=f"{prefix}w"
            )
            answers: list[list[Any]] = []
            async with saver:
                for q, f, b, lim in queries:
                    answers.append(_answers([_row(c) async for c in saver.alist(q, filter=f, before=b, limit=lim)], q))
            return answers

        assert asyncio.run(listed()) == expected
        for thread in threads:  # delete_thread leaves nothing of any thread, whatever its id
            ours.delete_thread(thread)
        assert list(client.scan_iter(match=f"{prefix}*", count=1000)) == []
    finally:
        ours.checkpoints_index.delete(drop=True)
        ours.checkpoint_writes_index.delete(drop=True)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)


def test_list_keeps_pending_writes_of_a_thread_with_a_comma_and_survives_a_tab(redis_url: str) -> None:
    """The library's list() loaded pending writes with the TAG query too: those of ``x,1`` were lost, and a thread
    id with a tab made the query a syntax error in the history of any thread whose candidates included it."""
    from langgraph.checkpoint.base import empty_checkpoint

    saver = checkpointer(redis_url)
    base = f"t{uuid.uuid4().hex[:8]}"
    threads = [f"{base},1", f"{base},\t"]
    try:
        for thread in threads:
            stored = saver.put({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
            saver.put_writes(stored, [("ch", thread)], task_id="task")
        for thread in threads:
            (found,) = saver.list({"configurable": {"thread_id": thread}})
            assert [tuple(w) for w in found.pending_writes] == [("task", "ch", thread)]
    finally:
        for thread in threads:
            saver.delete_thread(thread)


@pytest.mark.parametrize("suffix", [",1", " ", ",\t", ""], ids=["comma", "space", "comma-tab", "plain"])
def test_delete_thread_deletes_exactly_that_thread(redis_url: str, client: Any, suffix: str) -> None:
    """The library's delete_thread finds checkpoints with the TAG query of its list(): a thread id holding ',' or
    outer spaces was silently left in Redis. Its checkpoints, latest pointers, writes
    and their registry go, sync and async, and a thread differing only in case stays."""
    from langgraph.checkpoint.base import empty_checkpoint

    base = f"t{uuid.uuid4().hex[:8]}"
    thread, other = f"{base}{suffix}", f"{base.upper()}{suffix}"
    saver = checkpointer(redis_url)

    def write(name: str) -> None:
        for ns in ("", "sub"):
            stored = saver.put({"configurable": {"thread_id": name, "checkpoint_ns": ns}}, empty_checkpoint(), {}, {})
            saver.put_writes(stored, [("ch", name)], task_id="task")

    def keys(name: str) -> list[bytes]:
        return [k for k in client.scan_iter(match=f"*{base}*", count=1000) if name.encode() in k]

    async def adelete(name: str) -> None:
        async with AsyncRedisCheckpointSaver(redis_client=get_async_client(redis_url)) as asaver:
            await asaver.adelete_thread(name)

    try:
        for delete in (saver.delete_thread, lambda name: asyncio.run(adelete(name))):
            write(thread)
            write(other)
            assert len(keys(thread)) >= 6  # two checkpoints, two pointers, two writes (and their registries)
            delete(thread)
            assert keys(thread) == []
            assert list(saver.list({"configurable": {"thread_id": thread}})) == []
            assert len(list(saver.list({"configurable": {"thread_id": other}}))) == 2
            saver.delete_thread(other)
            assert keys(other) == []
    finally:
        saver.delete_thread(thread)
        saver.delete_thread(other)


@pytest.mark.parametrize("thread", ["plain", "x,1"])
def test_get_tuple_sync_and_async_keep_writes_whose_checkpoint_says_it_has_none(redis_url: str, thread: str) -> None:
    """put -> put_writes -> put of the same checkpoint (LangGraph runs put and put_writes on background threads)
    leaves ``has_writes`` false while the write registry holds the writes: the library's sync get_tuple returned
    none of them (so did our list() when it read with it), its async aget_tuple all of them. Both are
    InMemorySaver's now, by id and as the thread's latest checkpoint."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.memory import InMemorySaver

    thread = f"{thread}-{uuid.uuid4().hex[:8]}"
    saver, reference = checkpointer(redis_url), InMemorySaver()
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    checkpoint = empty_checkpoint()

    def writes(found: Any) -> list[tuple[Any, ...]]:
        return [tuple(w) for w in found.pending_writes]

    async def async_reads(configs: list[Any]) -> list[Any]:
        async with AsyncRedisCheckpointSaver(redis_client=get_async_client(redis_url)) as asaver:
            return [writes(await asaver.aget_tuple(c)) for c in configs]

    try:
        for s in (saver, reference):
            stored = s.put(config, checkpoint, {"source": "loop", "step": 0}, {})
            s.put_writes(stored, [("ch", "v"), ("other", 2)], "task-1")
            s.put(config, checkpoint, {"source": "loop", "step": 0}, {})
        configs = [{"configurable": {"thread_id": thread}}, stored]
        expected = [writes(reference.get_tuple(c)) for c in configs]
        assert expected == [[("task-1", "ch", "v"), ("task-1", "other", 2)]] * 2
        assert [writes(saver.get_tuple(c)) for c in configs] == expected
        assert asyncio.run(async_reads(configs)) == expected
    finally:
        saver.delete_thread(thread)
