"""Faults of the connection, for every component: Redis stopped, restarted on its data dir, hung, slow, or cutting a
reply. A store, the history and ingestion raise an exception naming what happened, within the configured timeouts;
a cache is a miss (or a skipped store) instead; after the fault ends the same objects work again, and nothing is
written twice.

Each test runs on private servers (``conftest.servers``), never the session's shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

import pytest
import redis

from redis_rag_integrations import EmbeddedRedis

from .components import Component, WorkerComponent
from .conftest import BOUND, TIMEOUT, fault_settings, timed
from .proxy import FaultProxy


def expect_fault(component: Component, call: Callable[[], object], *words: str) -> None:
    """``call()`` under a fault: a cache answers a miss / skip, anything else raises naming one of ``words``;
    either way within :data:`BOUND` seconds."""
    result, error, elapsed = timed(call)
    assert elapsed < BOUND, f"{component.kind}: {elapsed:.2f}s under the fault (bound {BOUND}s)"
    if component.degrades:
        assert error is None, f"{component.kind}: a cache must degrade, raised {error!r}"
        assert not result, f"{component.kind}: a cache under a fault must miss / skip, got {result!r}"
    else:
        assert error is not None, f"{component.kind}: no error under the fault, got {result!r}"
        message = f"{type(error).__name__}: {error}".lower()
        assert any(w.lower() in message for w in words), f"{component.kind}: unclear error {message!r}"


def test_stopped_then_restarted_on_its_data_dir(make: Callable[..., Component], server: EmbeddedRedis) -> None:
    """Connection refused while down (naming the address); after a restart on the same data dir and port the same
    objects work again, with no re-creation: their server-side scripts are gone (NOSCRIPT) and must be reloaded."""
    component = make(server.url)
    component.stage(1)
    component.write(1)
    assert component.read(1)
    port, data_dir = server.port, server.data_dir
    server.stop()
    address = f"127.0.0.1:{port}"
    expect_fault(component, lambda: component.write(2), address, "refused")
    expect_fault(component, lambda: component.read(1), address, "refused")

    restarted = EmbeddedRedis(port=port, data_dir=data_dir).start()
    try:
        component.stage(3)
        component.write(3)
        assert component.read(1), f"{component.kind}: data written before the restart is gone"
        assert component.read(3), f"{component.kind}: a write after the restart is not readable"
    finally:
        restarted.stop()


def test_async_calls_survive_a_restart_on_the_same_event_loop(
    make: Callable[..., Component], server: EmbeddedRedis
) -> None:
    """The asyncio clients of one loop hold connections to the old server: they must reconnect, and scripts
    loaded through them must be reloaded."""
    component = make(server.url)
    if not component.has_async:
        pytest.skip(f"{component.kind} has no async API")
    port, data_dir = server.port, server.data_dir

    async def scenario() -> None:
        await component.awrite(1)
        assert await component.aread(1)
        server.stop()
        try:
            outcome = await asyncio.wait_for(component.aread(1), BOUND)
            assert component.degrades and not outcome, f"{component.kind}: read succeeded with Redis down"
        except (redis.ConnectionError, ConnectionError) as exc:
            # a connection the loop held is found closed ("Connection closed by server."); a new one is refused
            assert not component.degrades and any(w in str(exc) for w in (f"127.0.0.1:{port}", "closed")), repr(exc)
        restarted = EmbeddedRedis(port=port, data_dir=data_dir).start()
        try:
            await component.awrite(2)
            assert await component.aread(1) and await component.aread(2)
        finally:
            restarted.stop()

    asyncio.run(scenario())


def test_a_server_that_never_answers_fails_within_the_timeouts(
    make: Callable[..., Component], server: EmbeddedRedis, proxy: FaultProxy
) -> None:
    component = make(proxy.url, server.url)
    component.stage(1)
    component.write(1)
    proxy.mode = "swallow"
    component.stage(2)
    expect_fault(component, lambda: component.write(2), "timeout", "timed out")
    expect_fault(component, lambda: component.read(1), "timeout", "timed out")
    proxy.mode = "pass"
    assert component.read(1), f"{component.kind}: did not recover once the server answered again"


@pytest.mark.parametrize("fault", ["slower than the timeout", "reply cut"])
def test_a_write_that_may_have_run_is_never_applied_twice(
    make: Callable[..., Component], server: EmbeddedRedis, proxy: FaultProxy, fault: str
) -> None:
    """The server ran the command but the client saw no (complete) reply. Reporting failure is fine (the caller
    cannot know); resending it behind the caller's back is not: a chat message or a stream event would be
    written twice."""
    component = make(proxy.url, server.url)
    component.stage(1)
    component.write(1)
    if fault == "reply cut":
        proxy.cut_next_reply(after_bytes=1)
    else:
        proxy.mode, proxy.delay = "delay", TIMEOUT * 2
    component.stage(2)
    _, error, elapsed = timed(lambda: component.write(2))
    assert elapsed < BOUND + proxy.delay, f"{component.kind}: {elapsed:.2f}s"
    proxy.mode = "pass"
    copies = component.count(2)
    assert copies <= 1, f"{component.kind}: item written {copies} times after a {fault} ({error!r})"
    if error is None and not component.degrades:
        assert copies == 1, f"{component.kind}: reported written but absent"


def test_a_slow_server_within_the_timeout_still_works(
    make: Callable[..., Component], server: EmbeddedRedis, proxy: FaultProxy
) -> None:
    component = make(proxy.url, server.url)
    proxy.mode, proxy.delay = "delay", TIMEOUT / 5
    component.stage(1)
    component.write(1)
    assert component.read(1)


def test_a_running_worker_rides_out_a_restart_and_resumes(servers: Callable[..., EmbeddedRedis]) -> None:
    """``Worker.run`` is the daemon behind ``redis-rag worker``: a Redis restart must not end it. Events published
    before and after the outage are all indexed by the same run."""
    server = servers()
    port, data_dir = server.port, server.data_dir
    component = WorkerComponent(server.url, server.url, "resume", fault_settings())
    component.worker.claim_idle_ms = 100
    outcome: list[BaseException | None] = []
    thread = threading.Thread(target=lambda: outcome.append(timed(component.worker.run)[1]), daemon=True)
    thread.start()
    component.stage(1)
    wait_until(lambda: component.read(1))
    server.stop()
    time.sleep(TIMEOUT * 2)
    restarted = servers(port=port, data_dir=data_dir)
    component.stage(2)
    try:
        wait_until(lambda: component.read(2))
    finally:
        component.worker.stop()
        thread.join(timeout=10)
    assert outcome == [None], f"the worker's run ended with {outcome}"
    assert restarted.running


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError):
            if check():
                return
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
