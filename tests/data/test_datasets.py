"""The Python docs corpus and the FAQ evaluation pairs, read from the real installed HTML (or the fallbacks)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from redis_rag_integrations.datasets import (
    ATTRIBUTION,
    docs_available,
    faq_snapshot,
    python_docs,
    python_faq_pairs,
)

needs_html = pytest.mark.skipif(not docs_available(), reason="Debian python3.11-doc is not installed")


def test_faq_pairs_are_real_questions_with_answer_passages() -> None:
    pairs = python_faq_pairs()
    assert len(pairs) >= 150
    assert sum(q.endswith("?") for q, _, _ in pairs) >= 0.95 * len(pairs)
    for question, answer, source in pairs:
        assert question and answer.strip()
        assert source.startswith("faq/") and ".html#" in source
    assert len({source for _, _, source in pairs}) == len(pairs)


def test_faq_snapshot_carries_psf_attribution() -> None:
    raw = json.loads(resources.files("redis_rag_integrations").joinpath("data", "python_faq.json").read_text())
    assert raw["attribution"] == ATTRIBUTION and "Python Software Foundation" in ATTRIBUTION


@needs_html
def test_faq_snapshot_matches_the_installed_html() -> None:
    assert faq_snapshot() == python_faq_pairs("html")


def test_faq_pairs_come_from_the_snapshot_without_html(tmp_path: Path) -> None:
    assert python_faq_pairs(root=tmp_path) == faq_snapshot()
    with pytest.raises(FileNotFoundError, match=r"python3\.11-doc"):
        python_faq_pairs("html", root=tmp_path)


@needs_html
def test_faq_answers_keep_code_layout() -> None:
    answers = {q: a for q, a, _ in python_faq_pairs("html")}
    answer = answers["Why are default values shared between objects?"]
    assert "def foo(mydict=None):\n    if mydict is None:" in answer


@needs_html
def test_doc_pages_are_text_without_navigation_or_permalinks() -> None:
    docs = python_docs(sections=("faq", "tutorial"))
    assert len(docs) > 20
    for doc in docs:
        text = doc["text"]
        assert "Quick search" not in text and "\u00b6" not in text and "Previous topic" not in text
        meta = doc["metadata"]
        assert doc["id"] == meta["source"] and meta["url"].endswith(meta["source"]) and meta["title"]
    general = next(d for d in docs if d["id"] == "faq/general.html")
    assert general["metadata"]["title"] == "General Python FAQ"
    assert "### What is Python?" in general["text"]


@needs_html
def test_limit_and_sections_select_pages() -> None:
    assert len(python_docs(limit=3, sections=("library",))) == 3
    assert {d["metadata"]["section"] for d in python_docs(sections=("howto",))} == {"howto"}
    with pytest.raises(ValueError, match="no section 'nope'"):
        python_docs(sections=("nope",))
    with pytest.raises(TypeError):
        python_docs(sections="faq")


def test_docs_fall_back_to_stdlib_topics_without_html(tmp_path: Path) -> None:
    docs = python_docs(root=tmp_path)
    assert len(docs) > 50
    assert {d["metadata"]["section"] for d in docs} == {"topics"}
    assert all(d["text"] for d in docs)
