"""Fixtures for the agent tests: a tool-calling fake chat model, a plumbing embedder, memory stores that clean up."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from redis_rag_integrations.langchain.memory_store import RedisMemoryStore

DIMS = 16


class ToolFakeChatModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that accepts ``bind_tools`` (``create_agent`` binds the agent's tools) and records
    what it was asked, so tests can count real model calls."""

    calls: list[Any] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolFakeChatModel:
        return self

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        self.calls.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


@pytest.fixture
def make_store(redis_url: str, unique_name: str) -> Iterator[Callable[..., RedisMemoryStore]]:
    made: list[RedisMemoryStore] = []

    def factory(**kwargs: Any) -> RedisMemoryStore:
        kwargs.setdefault("name", f"{unique_name}m{len(made)}")
        store = RedisMemoryStore(redis_url, **kwargs)
        made.append(store)
        return store

    yield factory
    for store in made:
        with contextlib.suppress(Exception):
            store.drop()
