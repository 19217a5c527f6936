"""``TextNode`` objects for search results without pydantic's validation, when that is exactly equivalent.

Why: a LlamaIndex query returns ``k`` nodes, and validating each ``TextNode`` (13 fields, most of them defaults)
plus its source ``RelatedNodeInfo`` cost more than decoding the Redis reply. :func:`text_node` fills the fields
directly from the defaults of a node validated once at import (mutable defaults copied per node, so no two nodes
share a list or a dict), as pydantic's ``model_construct`` does. At import the result is compared with validated
nodes (equality, fields, fields set, JSON, hash); if a llama-index or pydantic version makes them differ, the
validated constructors are used instead, so the fast path can only produce what the slow one would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

__all__ = ["text_node"]

_new = object.__new__
_set = object.__setattr__
_TEMPLATE = TextNode(id_="", text="").__dict__
_MUTABLE = tuple(k for k, v in _TEMPLATE.items() if isinstance(v, list | dict | set))
_SOURCE_TEMPLATE = RelatedNodeInfo(node_id="").__dict__


def _source(doc_id: str) -> RelatedNodeInfo:
    info = _new(RelatedNodeInfo)
    values = dict(_SOURCE_TEMPLATE)
    values["node_id"] = doc_id
    values["metadata"] = {}
    _set(info, "__dict__", values)
    _set(info, "__pydantic_fields_set__", {"node_id"})
    _set(info, "__pydantic_extra__", None)
    _set(info, "__pydantic_private__", None)
    return info


def _constructed(id: str, text: str, metadata: dict[str, Any], doc_id: str | None) -> TextNode:
    values = dict(_TEMPLATE)
    for name in _MUTABLE:
        values[name] = type(values[name])()
    values["id_"] = id
    values["text"] = text
    values["metadata"] = metadata
    if doc_id:
        values["relationships"] = {NodeRelationship.SOURCE: _source(doc_id)}
    node = _new(TextNode)
    _set(node, "__dict__", values)
    _set(
        node,
        "__pydantic_fields_set__",
        {"id_", "text", "metadata", "relationships"} if doc_id else {"id_", "text", "metadata"},
    )
    _set(node, "__pydantic_extra__", None)
    _set(node, "__pydantic_private__", None)
    return node


def _validated(id: str, text: str, metadata: dict[str, Any], doc_id: str | None) -> TextNode:
    node = TextNode(id_=id, text=text, metadata=metadata)
    if doc_id:
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    return node


def _same_as_validated() -> bool:
    try:
        for doc_id in ("doc-1", None):
            probe = ("id-1", "some text", {"a": 1, "b": [1, "x"]}, doc_id)
            fast, slow = _constructed(*probe), _validated(*probe)
            if not (
                fast == slow
                and fast.__dict__ == slow.__dict__
                and list(fast.__dict__) == list(slow.__dict__)
                and fast.model_dump_json() == slow.model_dump_json()
                and fast.hash == slow.hash
                and fast.ref_doc_id == slow.ref_doc_id
                and fast.get_content() == slow.get_content()
            ):
                return False
            fast.excluded_llm_metadata_keys.append("a")  # mutable defaults are the node's own
            if _TEMPLATE["excluded_llm_metadata_keys"] or _constructed(*probe).excluded_llm_metadata_keys:
                return False
        return True
    except Exception:  # any difference at all: the validated constructors
        return False


#: ``text_node(id, text, metadata, doc_id)``: the fast constructor if it is equivalent in this environment.
text_node: Callable[[str, str, dict[str, Any], str | None], TextNode] = (
    _constructed if _same_as_validated() else _validated
)
