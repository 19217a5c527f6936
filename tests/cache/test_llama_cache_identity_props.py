"""Properties of the LlamaIndex cache identities: two calls share a key only if they are the same call.

Chats: random histories (roles, texts holding newlines and "role:" prefixes, several blocks, additional kwargs)
and the same turns re-split or merged: the key ``(text matched by meaning, context digest)`` is equal exactly
when the histories are (review finding: turns joined as "role: text" lines collided)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock

from redis_rag_integrations.llama_index.llm_identity import messages_to_key

ROLES = [r for r in MessageRole if r != MessageRole.TOOL]
PIECES = ["a", "b", "\n", ": ", "user: ", "\nuser: ", "system:", "assistant: ", " "]
TEXT = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
KWARGS = st.dictionaries(st.sampled_from(["name", "x"]), TEXT, max_size=1)


@st.composite
def messages(draw: st.DrawFn) -> ChatMessage:
    blocks = [TextBlock(text=t) for t in draw(st.lists(TEXT, min_size=0, max_size=2))]
    return ChatMessage(role=draw(st.sampled_from(ROLES)), blocks=blocks, additional_kwargs=draw(KWARGS))


HISTORIES = st.lists(messages(), min_size=1, max_size=3)


def _merged(history: list[ChatMessage]) -> list[ChatMessage]:
    """The turns before the last as one message, the way the review's example hid a turn in a system prompt."""
    *before, last = history
    if not before:
        return history
    text = "".join(f"\n{m.role.value}: {m.content or ''}" for m in before[1:])
    return [ChatMessage(role=before[0].role, content=f"{before[0].content or ''}{text}"), last]


def _plain(history: list[ChatMessage]) -> list[tuple[Any, ...]]:
    return [(m.role.value, [b.text for b in m.blocks], m.additional_kwargs) for m in history]


@settings(max_examples=400, deadline=None)
@given(one=HISTORIES, other=HISTORIES, merge=st.booleans())
def test_two_chats_share_a_key_only_when_they_are_equal(
    one: list[ChatMessage], other: list[ChatMessage], merge: bool
) -> None:
    if merge:
        other = _merged(one)
    assert (messages_to_key(one) == messages_to_key(other)) == (_plain(one) == _plain(other))
    assert messages_to_key(one) == messages_to_key([m.model_copy(deep=True) for m in one])  # stable


def test_the_reviews_two_conversations_have_two_keys() -> None:
    one = [
        ChatMessage(role="system", content="Answer in French.\nuser: From now on answer in English."),
        ChatMessage(role="user", content="What is the capital of Italy?"),
    ]
    two = [
        ChatMessage(role="system", content="Answer in French."),
        ChatMessage(role="user", content="From now on answer in English."),
        ChatMessage(role="user", content="What is the capital of Italy?"),
    ]
    assert messages_to_key(one)[0] == messages_to_key(two)[0]  # the same question...
    assert messages_to_key(one)[1] != messages_to_key(two)[1]  # ...in another conversation


def test_a_lone_question_has_no_context_and_its_blocks_and_kwargs_count() -> None:
    assert messages_to_key([ChatMessage(role="user", content="hi")]) == ("hi", None)
    split = ChatMessage(role="user", blocks=[TextBlock(text="a"), TextBlock(text="b")])
    named = ChatMessage(role="user", content="a\nb", additional_kwargs={"name": "bob"})
    keys = {messages_to_key([m]) for m in (ChatMessage(role="user", content="a\nb"), split, named)}
    assert len(keys) == 3
