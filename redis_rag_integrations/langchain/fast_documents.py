"""``Document`` objects for search results without pydantic's validation, when that is exactly equivalent.

Why: a search returns ``k`` documents, and pydantic validating each one (three fields we built ourselves from a
Redis reply: a str id, a str text, a dict from JSON) cost about as much as decoding the whole reply: a tenth of a
10-result search. :func:`document` fills the model's fields directly, the way pydantic's own ``model_construct``
does without its per-call Python overhead. At import the result is compared with a validated ``Document`` (fields,
fields set, equality, serialisation); if a langchain-core or pydantic version makes them differ, the validated
constructor is used instead, so the fast path can only ever produce what the slow one would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document
from langchain_core.load import dumpd

__all__ = ["document"]

_FIELDS_SET = frozenset(("id", "metadata", "page_content"))
_new = object.__new__
_set = object.__setattr__


def _constructed(id: str, page_content: str, metadata: dict[str, Any]) -> Document:
    doc = _new(Document)
    _set(doc, "__dict__", {"id": id, "metadata": metadata, "page_content": page_content, "type": "Document"})
    _set(doc, "__pydantic_fields_set__", set(_FIELDS_SET))
    _set(doc, "__pydantic_extra__", None)
    _set(doc, "__pydantic_private__", None)
    return doc


def _validated(id: str, page_content: str, metadata: dict[str, Any]) -> Document:
    return Document(id=id, page_content=page_content, metadata=metadata)


def _same_as_validated() -> bool:
    probe = ("id-1", "text", {"a": 1, "b": [1, "x"], "c": None})
    try:
        fast, slow = _constructed(*probe), _validated(*probe)
        return (
            fast == slow
            and fast.__dict__ == slow.__dict__
            and list(fast.__dict__) == list(slow.__dict__)
            and fast.model_fields_set == slow.model_fields_set
            and dumpd(fast) == dumpd(slow)
            and repr(fast) == repr(slow)
        )
    except Exception:  # any difference at all: the validated constructor
        return False


#: ``document(id, page_content, metadata)``: the fast constructor if it is equivalent in this environment.
document: Callable[[str, str, dict[str, Any]], Document] = _constructed if _same_as_validated() else _validated
