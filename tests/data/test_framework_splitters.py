"""The corpus through LangChain's and LlamaIndex's own splitters: stable ids, page metadata kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from redis_rag_integrations.datasets import TextDocument, python_docs


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[TextDocument]:
    """A handful of real pages; the stdlib topics when the HTML is absent, so the test runs everywhere."""
    docs = python_docs(limit=6, sections=("faq",))
    return docs if len(docs) >= 6 else python_docs(limit=6, root=Path(tmp_path_factory.mktemp("nohtml")))


def test_langchain_chunks_have_stable_ids_and_page_metadata(pages: list[TextDocument]) -> None:
    from redis_rag_integrations.langchain.datasets import split_documents

    chunks = split_documents(pages, chunk_size=800, chunk_overlap=80)
    assert len(chunks) > len(pages)
    assert len({c.id for c in chunks}) == len(chunks)
    assert [c.id for c in split_documents(pages, chunk_size=800, chunk_overlap=80)] == [c.id for c in chunks]
    by_id = {p["id"]: p for p in pages}
    for chunk in chunks:
        page = by_id[chunk.metadata["doc_id"]]
        assert len(chunk.page_content) <= 800
        assert chunk.id == f"{page['id']}#{chunk.metadata['chunk']}"
        assert chunk.metadata["title"] == page["metadata"]["title"]
        start = chunk.metadata["start_index"]
        assert page["text"][start : start + len(chunk.page_content)] == chunk.page_content


def test_llama_index_nodes_have_stable_ids_and_reference_their_page(pages: list[TextDocument]) -> None:
    from redis_rag_integrations.llama_index.datasets import split_documents

    nodes = split_documents(pages, chunk_size=200, chunk_overlap=20)
    assert len(nodes) > len(pages)
    assert len({n.node_id for n in nodes}) == len(nodes)
    assert [n.node_id for n in split_documents(pages, chunk_size=200, chunk_overlap=20)] == [n.node_id for n in nodes]
    by_id = {p["id"]: p for p in pages}
    for node in nodes:
        page = by_id[node.ref_doc_id]
        assert node.node_id.startswith(page["id"] + "#")
        assert node.metadata["source"] == page["metadata"]["source"]
        assert node.get_content() in page["text"]
