"""SemanticCacheLLM: every call form hits on a paraphrase, replays streams, and never crosses model scopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Settings as LlamaSettings
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback

from redis_rag_integrations.llama_index import RagEmbedding, SemanticCacheLLM
from redis_rag_integrations.server import free_port


class CountingLLM(CustomLLM):
    """Answers 'answer #n from <model>' and counts its calls, so a test can see whether the model ran."""

    model: str = "counting-1"
    temperature: float = 0.0
    _calls: int = PrivateAttr(default=0)  # state, not configuration: must not change the cache scope

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    def _next(self) -> str:
        self._calls += 1
        return f"answer #{self._calls} from {self.model}"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._next())

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self._next()

        def gen() -> CompletionResponseGen:
            acc = ""
            for word in text.split(" "):
                delta = word if not acc else " " + word
                acc += delta
                yield CompletionResponse(text=acc, delta=delta)

        return gen()


@pytest.fixture
def wrap(redis_url: str, unique_name: str, local_embedder) -> Iterator[Any]:
    made: list[SemanticCacheLLM] = []

    def factory(inner: CountingLLM, **kwargs: Any) -> SemanticCacheLLM:
        kwargs.setdefault("distance_threshold", 0.2)
        llm = SemanticCacheLLM(
            inner, embed_model=RagEmbedding(local_embedder), redis_url=redis_url, name=unique_name, **kwargs
        )
        made.append(llm)
        return llm

    yield factory
    if made:
        made[0].cache.delete_index()


Q1 = "How do I convert a string to a number in Python?"
Q1_PARAPHRASE = "How can I turn a string into a number in Python?"
Q_OTHER = "How do I delete a file in Python?"


def test_complete_hits_on_a_paraphrase_without_calling_the_model(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    first = llm.complete(Q1)
    second = llm.complete(Q1_PARAPHRASE)
    assert second.text == first.text and inner.calls == 1
    assert second.additional_kwargs["cache_hit"] is True
    assert llm.metadata.model_name == "counting-1"


def test_stream_hit_replays_the_cached_text_as_a_stream(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    streamed = list(llm.stream_complete(Q1))
    assert streamed[-1].text == "answer #1 from counting-1"
    replay = list(llm.stream_complete(Q1_PARAPHRASE))
    assert inner.calls == 1
    assert len(replay) > 1 and "".join(r.delta for r in replay) == "answer #1 from counting-1"
    assert llm.complete(Q1).text == "answer #1 from counting-1"  # stream and non-stream share entries


def test_abandoned_stream_is_not_cached(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    stream = llm.stream_complete(Q1)
    next(stream)
    stream.close()
    llm.complete(Q1)
    assert inner.calls == 2


def test_chat_and_async_forms_hit(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    messages = [ChatMessage(role="user", content=Q1)]
    first = llm.chat(messages)
    again = llm.chat([ChatMessage(role="user", content=Q1_PARAPHRASE)])
    assert again.message.content == first.message.content and inner.calls == 1
    streamed = list(llm.stream_chat(messages))
    assert streamed[-1].message.content == first.message.content and inner.calls == 1


async def test_async_forms_hit_and_replay(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    first = await llm.acomplete(Q1)
    assert (await llm.acomplete(Q1_PARAPHRASE)).text == first.text
    chunks = [c async for c in await llm.astream_complete(Q1)]
    assert chunks[-1].text == first.text and inner.calls == 1
    messages = [ChatMessage(role="user", content=Q1)]
    chat = await llm.achat(messages)
    assert (await llm.achat(messages)).message.content == chat.message.content
    chat_chunks = [c async for c in await llm.astream_chat(messages)]
    assert chat_chunks[-1].message.content == chat.message.content
    assert inner.calls == 2  # one completion, one chat


def test_near_miss_question_calls_the_model(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    llm.complete(Q1)
    assert llm.complete(Q_OTHER).text == "answer #2 from counting-1"


def test_scope_includes_model_parameters_and_call_kwargs(wrap) -> None:
    llm_a = wrap(CountingLLM(model="model-a"))
    llm_b = wrap(CountingLLM(model="model-b"))
    hot = wrap(CountingLLM(model="model-a", temperature=0.9))
    assert llm_a.complete(Q1).text == "answer #1 from model-a"
    assert llm_b.complete(Q1).text == "answer #1 from model-b"
    assert hot.complete(Q1).text == "answer #1 from model-a"  # a fresh counter: it was really called
    assert hot.llm.calls == 1
    assert llm_a.complete(Q1, max_tokens=5).text == "answer #2 from model-a"


def test_tenants_do_not_share_answers(wrap) -> None:
    acme = wrap(CountingLLM(), scope={"tenant": "acme"})
    globex = wrap(CountingLLM(), scope={"tenant": "globex"})
    acme.complete(Q1)
    globex.complete(Q1)
    assert globex.llm.calls == 1


def test_non_text_chat_content_passes_through(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner)
    image = ChatMessage(role="user", blocks=[TextBlock(text=Q1), ImageBlock(url="http://example.invalid/a.png")])
    llm.chat([image])
    llm.chat([image])
    assert inner.calls == 2


def test_works_as_settings_llm(wrap) -> None:
    inner = CountingLLM()
    previous = LlamaSettings._llm
    LlamaSettings.llm = wrap(inner)
    try:
        assert LlamaSettings.llm.complete(Q1).text == LlamaSettings.llm.complete(Q1_PARAPHRASE).text
        assert inner.calls == 1
    finally:
        LlamaSettings._llm = previous


def test_unreachable_redis_still_answers(local_embedder) -> None:
    inner = CountingLLM()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    llm = SemanticCacheLLM(inner, embed_model=RagEmbedding(local_embedder), redis_url=dead)
    assert llm.complete(Q1).text == "answer #1 from counting-1"
    assert [c.text for c in llm.stream_complete(Q1)][-1] == "answer #2 from counting-1"


def test_wrapping_something_that_is_not_an_llm_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="LlamaIndex LLM"):
        SemanticCacheLLM("gpt-4o")  # type: ignore[arg-type]


def test_chats_match_on_the_last_turn_and_only_within_the_same_context(wrap) -> None:
    inner = CountingLLM()
    llm = wrap(inner, distance_threshold=0.10)
    system = ChatMessage(role=MessageRole.SYSTEM, content="You answer questions about Python in one sentence.")

    def ask(*messages: ChatMessage) -> str:
        return str(llm.chat(list(messages)).message.content)

    first = ask(system, ChatMessage(role=MessageRole.USER, content="Why does -22 // 10 return -3?"))
    # with the system prompt embedded along, these two were 0.076 apart: a wrong hit at 0.10
    assert ask(system, ChatMessage(role=MessageRole.USER, content="Why does -22 % 10 return 8?")) != first
    assert ask(system, ChatMessage(role=MessageRole.USER, content="why does -22//10 return -3?")) == first
    assert inner.calls == 2
    assert ask(ChatMessage(role=MessageRole.USER, content="why does -22//10 return -3?")) != first  # no system
    assert inner.calls == 3
