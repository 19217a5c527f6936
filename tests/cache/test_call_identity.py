"""A cached answer is served only to the very same call: every argument that can change an answer is identity.

``SemanticCacheLLM`` (LlamaIndex) on a real Redis with the deterministic plumbing embedder: identity is plumbing,
not meaning. The property test generates keyword arguments and checks "exact or a clear refusal": two calls that
differ in one value never share an entry, a repeat of a value that has an exact form hits, and a value without one
(an arbitrary object, a lambda, NaN) makes the call bypass the cache.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.tools import FunctionTool

from redis_rag_integrations.cache import CacheInputError, llm_scope_tag
from redis_rag_integrations.cache.identity import EXCLUDED_NAMES, UncacheableCall
from redis_rag_integrations.llama_index import RagEmbedding, SemanticCacheLLM

from .call_tools import Answer, Verdict, add, multiply

PROMPT = "What does the walrus operator do?"


class CountingLLM(CustomLLM):
    """Answers 'answer #n' and counts its calls: a new number means the model ran, an old one a cache hit."""

    model: str = "counting-1"
    max_tokens: int | None = None
    api_key: str | None = None
    _calls: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._calls += 1
        return CompletionResponse(text=f"answer #{self._calls}")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        response = self.complete(prompt, formatted, **kwargs)
        yield CompletionResponse(text=response.text, delta=response.text)


@pytest.fixture
def wrap(redis_url: str, unique_name: str) -> Iterator[Any]:
    made: list[SemanticCacheLLM] = []

    def factory(inner: CountingLLM) -> SemanticCacheLLM:
        llm = SemanticCacheLLM(
            inner, embed_model=RagEmbedding(HashEmbedder()), redis_url=redis_url, name=unique_name, ttl=600
        )
        made.append(llm)
        return llm

    yield factory
    if made:
        made[0].cache.delete_index()


def test_stop_words_are_part_of_the_identity(wrap) -> None:
    llm = wrap(CountingLLM())
    assert llm.complete(PROMPT).text == "answer #1"
    assert llm.complete(PROMPT, stop=["\n"]).text == "answer #2"
    assert llm.complete(PROMPT, stop=["\n"]).text == "answer #2"  # the same call again: a hit
    assert llm.complete(PROMPT, stop=["\n\n"]).text == "answer #3"


def test_max_tokens_of_the_model_is_part_of_the_identity(wrap) -> None:
    """``max_tokens`` contains "token": a substring secret filter dropped it, so 10 and 100 shared answers."""
    short, long = wrap(CountingLLM(max_tokens=10)), wrap(CountingLLM(max_tokens=100))
    assert short.complete(PROMPT).text == "answer #1"
    assert long.complete(PROMPT).text == "answer #1" and long.llm.calls == 1
    assert short.complete(PROMPT, max_tokens=5).text == "answer #2"


def test_secrets_are_left_out_by_exact_name(wrap) -> None:
    """Rotating an API key keeps the cache; the key is not hashed into Redis."""
    first, rotated = wrap(CountingLLM(api_key="sk-old")), wrap(CountingLLM(api_key="sk-new"))
    first.complete(PROMPT)
    assert rotated.complete(PROMPT).text == "answer #1" and rotated.llm.calls == 0


def test_tools_are_part_of_the_identity(wrap) -> None:
    llm = wrap(CountingLLM())
    chat = [ChatMessage(role="user", content=PROMPT)]
    assert llm.chat(chat).message.content == "answer #1"
    assert llm.chat(chat, tools=[FunctionTool.from_defaults(fn=add)]).message.content == "answer #2"
    assert llm.chat(chat, tools=[FunctionTool.from_defaults(fn=multiply)]).message.content == "answer #3"
    assert llm.chat(chat, tools=[FunctionTool.from_defaults(fn=add)]).message.content == "answer #2"
    assert llm.chat(chat, tools=[FunctionTool.from_defaults(fn=add)], tool_choice="add").message.content == "answer #4"


async def test_response_format_and_output_schema_are_part_of_the_identity(wrap) -> None:
    llm = wrap(CountingLLM())
    assert (await llm.acomplete(PROMPT)).text == "answer #1"
    assert (await llm.acomplete(PROMPT, response_format={"type": "json_object"})).text == "answer #2"
    assert (await llm.acomplete(PROMPT, response_format=Answer)).text == "answer #3"
    assert (await llm.acomplete(PROMPT, response_format=Verdict)).text == "answer #4"
    chunks = [c async for c in await llm.astream_complete(PROMPT, response_format=Answer)]
    assert chunks[-1].text == "answer #3"  # the same schema again: a hit, replayed as a stream


def test_a_value_without_exact_form_bypasses_the_cache_with_one_warning(wrap, caplog) -> None:
    llm = wrap(CountingLLM())
    with caplog.at_level(logging.WARNING, logger="redis_rag_integrations.cache"):
        assert llm.complete(PROMPT, postprocess=lambda text: text.upper()).text == "answer #1"
        assert llm.complete(PROMPT, postprocess=lambda text: text.upper()).text == "answer #2"
        assert [c.text for c in llm.stream_complete(PROMPT, postprocess=object())][-1] == "answer #3"
    warnings = [r for r in caplog.records if "bypasses the cache" in r.getMessage()]
    assert len(warnings) == 2  # one per reason (the lambda, the object), not one per call
    assert llm.cache.stats.stores == 0


def test_llm_scope_tag_refuses_what_it_cannot_encode_exactly() -> None:
    with pytest.raises(UncacheableCall):
        llm_scope_tag({"model": "m", "handle": object()})
    with pytest.raises(CacheInputError):  # UncacheableCall is a CacheInputError: adapters already pass it through
        llm_scope_tag({"temperature": math.nan})
    assert llm_scope_tag({"a": 1, "b": [1, 2]}) == llm_scope_tag({"b": [1, 2], "a": 1})  # key order is not identity
    assert len({llm_scope_tag({"v": v}) for v in (1, 1.0, True, "1", [1], (1,), {"$x": 1})}) == 7


# -------------------------------------------------------------------- property
_NAMES = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True).filter(
    lambda n: n not in EXCLUDED_NAMES and n not in {"formatted", "prompt"}
)
_KEYS = st.text(max_size=6).filter(lambda k: k.lower() not in EXCLUDED_NAMES)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple) | st.dictionaries(_KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)
_OPAQUE = st.sampled_from([object(), (lambda x: x), math.nan, math.inf])


def _shape(value: Any) -> Any:
    """A value's exact meaning, independent of the code under test: types kept, dict order ignored."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _shape(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_shape(v) for v in value))
    return (type(value).__name__, repr(value))


_SCALAR_TYPES = (type(None), bool, int, float, str, dict, list, tuple)


def _opaque(value: Any) -> bool:
    """True when ``value`` holds something without an exact form (an object, a lambda, NaN, infinity)."""
    if isinstance(value, dict):
        return any(_opaque(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_opaque(v) for v in value)
    return (isinstance(value, float) and not math.isfinite(value)) or not isinstance(value, _SCALAR_TYPES)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES, first=_VALUES | _OPAQUE, second=_VALUES | _OPAQUE)
def test_calls_differing_in_any_kwarg_value_never_share_an_entry(wrap, name: str, first: Any, second: Any) -> None:
    assume(_shape(first) != _shape(second))
    if not hasattr(wrap, "shared"):  # one cache for all examples; each example asks its own question
        wrap.shared = wrap(CountingLLM())
    llm = wrap.shared
    prompt = f"{PROMPT} {uuid.uuid4().hex}"
    a = llm.complete(prompt, **{name: first}).text
    b = llm.complete(prompt, **{name: second}).text
    assert a != b, f"{name}={first!r} and {name}={second!r} shared an entry"
    again = llm.complete(prompt, **{name: first}).text
    assert (again == a) is not _opaque(first), "a repeat must hit exactly when the value has an exact form"
