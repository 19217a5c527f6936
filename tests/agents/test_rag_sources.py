"""The sources the RAG agent middleware records (``source_json``) equal ``[ref.to_json() for ref in sources_of(docs)]``,
and ``sources_of`` still gives what it gave before it shared its loop: same ids, hashes, order and duplicates, for
any documents (ids and ``doc_id`` / ``source`` metadata of several types, equal or empty, a ``content_hash`` or
not, things that are not documents in the list)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from redis_rag_integrations.cache import SourceRef, source_fingerprint
from redis_rag_integrations.langchain.rag_cache import source_json, sources_of

IDS = st.one_of(st.none(), st.sampled_from(["", "a", "b", "1"]), st.integers(0, 2), st.text(max_size=3))
VALUES = st.one_of(IDS, st.floats(allow_nan=False), st.booleans())


def _old_sources_of(output: Any) -> list[SourceRef]:
    """``sources_of`` as it was before ``_source_pairs`` (3aaebf5's copy)."""
    docs: list[Document] = []
    values = output.values() if isinstance(output, dict) else [output]
    for value in values:
        if isinstance(value, Document):
            docs.append(value)
        elif isinstance(value, list | tuple):
            docs.extend(v for v in value if isinstance(v, Document))
    refs: list[SourceRef] = []
    for doc in docs:
        doc_hash = str(doc.metadata.get("content_hash") or source_fingerprint(doc.page_content, doc.metadata))
        ids = [doc.id] + [doc.metadata.get(k) for k in ("doc_id", "source")]
        refs.extend(SourceRef(str(i), doc_hash) for i in dict.fromkeys(ids) if i not in (None, ""))
    return refs


@st.composite
def documents(draw: st.DrawFn) -> Document:
    metadata: dict[str, Any] = {}
    for name in ("doc_id", "source", "content_hash", "title"):
        if draw(st.booleans()):
            metadata[name] = draw(VALUES)
    doc_id = draw(st.one_of(st.none(), st.sampled_from(["", "a", "b", "1"])))
    return Document(page_content=draw(st.text(max_size=20)), metadata=metadata, id=doc_id)


@settings(max_examples=400, deadline=None)
@given(docs=st.lists(st.one_of(documents(), st.just("not a document")), max_size=6))
def test_source_json_is_sources_of_as_json(docs: list[Any]) -> None:
    refs = sources_of(docs)
    assert refs == _old_sources_of(docs)
    assert source_json(docs) == [r.to_json() for r in refs]
    assert sources_of({"context": docs, "answer": "x"}) == _old_sources_of({"context": docs, "answer": "x"})
