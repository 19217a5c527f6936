"""Fixtures of the fault matrix: private servers (a fault must never reach the session's shared one), the proxy,
and a component factory parametrised over every component."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redis_rag_integrations import EmbeddedRedis, Settings

from .components import COMPONENTS, Component
from .proxy import FaultProxy

#: The socket and connect timeouts of the components under test: small, so "does not hang" is quick to prove.
TIMEOUT = 0.5
#: A call under a fault must end within this (3x the socket timeout): a hang guard, not a speed figure.
BOUND = 3 * TIMEOUT


def fault_settings() -> Settings:
    return Settings(socket_timeout=TIMEOUT, connect_timeout=TIMEOUT)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., EmbeddedRedis]]:
    """Start private servers (each with its own data dir under ``tmp_path``); all stopped at the end."""
    started: list[EmbeddedRedis] = []

    def start(name: str = "primary", **kwargs: Any) -> EmbeddedRedis:
        kwargs.setdefault("data_dir", tmp_path / name)
        server = EmbeddedRedis(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(servers: Callable[..., EmbeddedRedis]) -> EmbeddedRedis:
    return servers()


@pytest.fixture
def proxy(server: EmbeddedRedis) -> Iterator[FaultProxy]:
    assert server.port is not None
    with FaultProxy(server.port) as p:
        yield p


@pytest.fixture(params=COMPONENTS, ids=lambda c: c.kind)
def component_type(request: pytest.FixtureRequest) -> type[Component]:
    return request.param


@pytest.fixture
def make(component_type: type[Component], unique_name: str) -> Callable[..., Component]:
    """``make(url, direct_url)``: the component under test on ``url`` with the small timeouts."""

    def build(url: str, direct_url: str | None = None) -> Component:
        return component_type(url, direct_url or url, unique_name, fault_settings())

    return build


def timed(call: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """(result, exception, seconds) of ``call()``."""
    start = time.monotonic()
    try:
        return call(), None, time.monotonic() - start
    except Exception as exc:
        return None, exc, time.monotonic() - start
