"""The semantic cache's write-behind (``store_later``): bounded, errors counted and logged, read-your-writes in the
process, flushed on close and at interpreter exit, sync and async.

The worker is held back with a write that waits on an event (queued through the same queue), so each test knows
a write is still pending when it looks; nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_rag_integrations.cache import CacheInputError, SemanticCache
from redis_rag_integrations.cache import write_behind as WB
from redis_rag_integrations.cache.write_behind import WriteBehind
from redis_rag_integrations.server import free_port


@pytest.fixture
def hold() -> Iterator[Callable[[SemanticCache], threading.Event]]:
    """``hold(cache)``: the cache's worker blocked until the returned event is set (set at teardown anyway)."""
    events: list[threading.Event] = []

    def block(cache: SemanticCache) -> threading.Event:
        gate = threading.Event()
        events.append(gate)
        cache._writes.submit(None, gate.wait)
        return gate

    yield block
    for gate in events:
        gate.set()


def later(gate: threading.Event) -> threading.Timer:
    """Open ``gate`` from another thread shortly (the caller meanwhile blocks on what the gate holds back)."""
    timer = threading.Timer(0.2, gate.set)
    timer.start()
    return timer


def test_a_lookup_waits_for_its_own_pending_write(make_cache, hold) -> None:
    cache = make_cache()
    gate = hold(cache)
    key = cache.store_later("How do I close a file?", "Use with.", llm="m")
    assert key is not None and cache._writes.unfinished == 2  # the hold and the entry: not written yet
    later(gate)
    hit = cache.check("How do I close a file?", llm="m")  # waits for the write of this key, then finds it
    assert hit is not None and hit.response == "Use with." and hit.key == key
    assert cache.flush(10) and cache.stats.stores == 1 and cache._writes.written == 2


def test_a_lookup_of_another_key_does_not_wait(make_cache, hold) -> None:
    cache = make_cache()
    gate = hold(cache)
    cache.store_later("How do I close a file?", "Use with.", llm="m")
    assert cache.check("How do I close a file?", llm="other model") is None  # another scope: nothing to wait for
    assert cache._writes.unfinished == 2
    gate.set()
    assert cache.flush(10) and cache.check("How do I close a file?", llm="m") is not None


def test_the_queue_is_bounded_and_a_full_queue_makes_the_caller_wait(redis_url: str, unique_name: str) -> None:
    queue = WriteBehind(unique_name, capacity=2)
    gate, ran = threading.Event(), []
    queue.submit(None, gate.wait)  # the worker takes it and blocks
    assert queue.flush(0) is False
    while queue._items:  # wait for the worker to take the hold off the queue (not a timing assertion)
        threading.Event().wait(0.01)
    queue.submit("a", lambda: ran.append("a"))
    queue.submit("b", lambda: ran.append("b"))
    assert queue.try_submit("c", lambda: ran.append("c")) is None  # full: nothing queued, nothing dropped
    third = threading.Thread(target=queue.submit, args=("c", lambda: ran.append("c")))
    third.start()
    while queue.waited == 0:  # the caller is waiting for room
        threading.Event().wait(0.01)
    assert ran == [] and third.is_alive()
    gate.set()
    third.join(10)
    assert queue.flush(10) and ran == ["a", "b", "c"] and queue.written == 4 and queue.failed == 0


def test_capacity_must_be_a_positive_int() -> None:
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="capacity"):
            WriteBehind("x", capacity=bad)  # type: ignore[arg-type]


def test_a_failing_write_is_counted_and_logged_not_swallowed(make_cache, caplog) -> None:
    cache = make_cache()

    def broken() -> None:
        raise RuntimeError("bug in a write")

    with caplog.at_level(logging.ERROR, logger="redis_rag_integrations.cache"):
        cache._writes.submit("k", broken)
        assert cache.flush(10)
    assert cache._writes.failed == 1 and cache.stats.errors == 1
    assert any("write-behind" in r.getMessage() and r.exc_info for r in caplog.records)
    cache.store_later("still works?", "yes")  # the worker goes on
    assert cache.flush(10) and cache.stats.stores == 1


def test_redis_down_during_a_written_behind_store_is_a_counted_logged_fault(caplog) -> None:
    cache = SemanticCache(HashEmbedder(), name="down", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.cache"):
        assert cache.store_later("q", "a") is not None
        assert cache.flush(30)
    assert cache.stats.errors == 1 and cache.stats.stores == 0
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    assert cache.store_later("q", "a") is None and cache.stats.skipped == 1  # marked down: skipped, as store()


def test_bad_input_raises_on_the_callers_thread_and_queues_nothing(make_cache) -> None:
    cache = make_cache(max_prompt_bytes=10)
    with pytest.raises(CacheInputError):
        cache.store_later("a prompt longer than ten bytes", "a")
    with pytest.raises(CacheInputError):
        cache.store_later("q", "a", meta={"x": object()})
    assert cache._writes.unfinished == 0 and cache._writes.written == 0


def test_close_and_maintenance_write_what_is_pending_first(make_cache, hold, client: redis.Redis) -> None:
    cache = make_cache()
    gate = hold(cache)
    key = cache.store_later("q", "a")
    later(gate)
    cache.close()  # flushes
    assert client.exists(key) == 1
    gate = hold(cache)
    cache.store_later("q2", "a2")
    later(gate)
    assert cache.clear() == 2  # the pending entry was written before the clear, not after it
    assert len(cache) == 0


def test_pending_writes_are_written_at_interpreter_exit(redis_url: str, unique_name: str, client) -> None:
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from fakes import HashEmbedder
        from redis_rag_integrations.cache import SemanticCache
        cache = SemanticCache(HashEmbedder(), name={unique_name!r}, redis_url={redis_url!r})
        cache._writes.submit(None, lambda: time.sleep(0.5))  # the worker is busy when the script ends
        for i in range(20):
            print(cache.store_later(f"question {{i}}", "answer"))
        assert cache._writes.unfinished > 0
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    keys = out.stdout.split()
    try:
        assert len(keys) == 20 and client.exists(*keys) == 20
    finally:
        SemanticCache(HashEmbedder(), name=unique_name, redis_url=redis_url).delete_index()


def test_async_store_later_read_your_writes_and_aclose(make_cache, hold, client) -> None:
    cache = make_cache()
    gate = hold(cache)

    async def main() -> tuple[object, str | None]:
        key = await cache.astore_later("How do I close a file?", "Use with.", llm="m")
        assert cache._writes.unfinished == 2
        later(gate)
        hit = await cache.acheck("How do I close a file?", llm="m")
        gate2 = hold(cache)
        key2 = await cache.astore_later("second", "b")
        later(gate2)
        await cache.aclose()
        return hit, key if client.exists(key2) else None

    hit, key = asyncio.run(main())
    assert hit is not None and hit.response == "Use with." and key is not None  # type: ignore[attr-defined]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.text(min_size=1, max_size=40)), min_size=1, max_size=6))
def test_after_a_flush_each_prompt_holds_its_last_written_answer(make_cache, pairs) -> None:
    cache = make_cache()
    last: dict[str, str] = {}
    for prompt, response in pairs:
        cache.store_later(f"question {prompt}", response)
        last[prompt] = response
    assert cache.flush(10)
    for prompt, response in last.items():
        hit = cache.check(f"question {prompt}", distance_threshold=0.001)
        assert hit is not None and hit.response == response
    cache.clear()


def test_ended_watches_cost_no_command_until_the_next_watch_or_a_flush(make_cache, client) -> None:
    cache = make_cache()
    inflight = cache._fresh.inflight
    tokens = [cache.watch() for _ in range(3)]
    for token in tokens:
        cache.unwatch_later(token)
    assert client.zcard(inflight) >= 3 and cache._writes._thread is None  # kept: no command, no thread
    assert cache.flush(10)
    assert all(client.zscore(inflight, t) is None for t in tokens)  # the flush ended them in one command
    kept = [cache.watch() for _ in range(WB.MAX_ENDED)]
    for token in kept:
        cache.unwatch_later(token)  # the last one reaches the bound: the worker ends them all
    assert cache._writes.flush(10) and all(client.zscore(inflight, t) is None for t in kept)


def test_a_write_raising_a_base_exception_does_not_stop_the_worker(caplog) -> None:
    queue = WriteBehind("base-exception")

    def interrupted() -> None:
        raise KeyboardInterrupt

    with caplog.at_level(logging.ERROR, logger="redis_rag_integrations.cache"):
        queue.submit("k", interrupted)
        ran: list[int] = []
        queue.submit("k2", lambda: ran.append(1))
        assert queue.flush(10)  # the worker lived on: nothing left unfinished
    assert queue.failed == 1 and queue.written == 1 and ran == [1]
