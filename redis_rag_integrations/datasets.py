"""The real corpus of the demo, the notebooks, the tests and the benchmarks: the Python documentation.

Toy strings hide the problems RAG has in practice (long pages, code blocks, near-duplicate sections), so everything
here runs on the Python 3.11 documentation (PSF license): the HTML that Debian's ``python3.11-doc`` installs under
``/usr/share/doc/python3.11/html`` (``scripts/setup-venv.sh`` installs it when it can), or, where it is absent, the
reference topics that ship inside the standard library (``pydoc_data.topics``).

The Python FAQ doubles as an evaluation set: every question heading with its answer passage is a real
(question -> relevant passage) pair. A snapshot of those pairs is committed in ``data/python_faq.json`` so that
retrieval quality can be measured on machines without the Debian package too.

Everything here returns plain dicts / tuples: the LangChain and LlamaIndex adapters
(``redis_rag_integrations.langchain.datasets`` / ``redis_rag_integrations.llama_index.datasets``) turn them into
their own document types with their own splitters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypedDict

from ._sphinx_html import parse_page

DOCS_ROOT = Path("/usr/share/doc/python3.11/html")
DOCS_BASE_URL = "https://docs.python.org/3.11/"
DEFAULT_SECTIONS: tuple[str, ...] = ("faq", "tutorial", "howto", "library", "reference", "using")
ALL_SECTIONS: tuple[str, ...] = (*DEFAULT_SECTIONS, "extending", "c-api", "install", "installing", "distributing")
ATTRIBUTION = (
    "Python 3.11 documentation, Copyright (c) 2001-2023 Python Software Foundation; "
    "used under the PSF License Agreement (https://docs.python.org/3/license.html)."
)
_FAQ_SNAPSHOT = "python_faq.json"


class TextDocument(TypedDict):
    """A framework-neutral document: a stable id (re-ingesting the same page overwrites, not duplicates), the text,
    and metadata every framework can carry (``title``, ``source``, ``url``, ``section``)."""

    id: str
    text: str
    metadata: dict[str, Any]


class FaqPair(NamedTuple):
    """One evaluation pair: a real user question, the passage that answers it, and where that passage lives."""

    question: str
    answer: str
    source: str


def docs_available(root: Path | str = DOCS_ROOT) -> bool:
    """True when the HTML documentation is installed (``python3.11-doc``)."""
    return (Path(root) / "faq" / "programming.html").is_file()


def python_docs(
    limit: int | None = None,
    sections: Sequence[str] = DEFAULT_SECTIONS,
    *,
    root: Path | str = DOCS_ROOT,
) -> list[TextDocument]:
    """The Python documentation as one text document per page.

    Args:
        limit: at most this many documents (``None``: all; the default sections give about 400 pages).
        sections: top-level folders of the docs to read, e.g. ``("faq", "tutorial")``; see :data:`ALL_SECTIONS`.
        root: where the HTML lives. When it is absent the stdlib's ``pydoc_data.topics`` are returned instead
            (``metadata["section"] == "topics"``), so callers always get a real corpus.
    """
    return list(iter_python_docs(limit=limit, sections=sections, root=root))


def iter_python_docs(
    limit: int | None = None,
    sections: Sequence[str] = DEFAULT_SECTIONS,
    *,
    root: Path | str = DOCS_ROOT,
) -> Iterator[TextDocument]:
    """Like :func:`python_docs` but lazy: pages are parsed as they are consumed (ingestion can start at once)."""
    if isinstance(sections, str):
        raise TypeError("sections takes a sequence of folder names, e.g. ('faq',), not a single string")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None; got {limit}")
    root = Path(root)
    source = _html_docs(root, sections) if docs_available(root) else _topic_docs()
    for count, doc in enumerate(source):
        if limit is not None and count >= limit:
            return
        yield doc


def _html_docs(root: Path, sections: Sequence[str]) -> Iterator[TextDocument]:
    for section in sections:
        folder = root / section
        if not folder.is_dir():
            raise ValueError(f"no section {section!r} under {root}; known: {', '.join(ALL_SECTIONS)}")
        for path in sorted(folder.rglob("*.html")):
            rel = path.relative_to(root).as_posix()
            page = parse_page(path.read_text(encoding="utf-8", errors="replace"))
            text = page.text()
            if not text.strip():
                continue
            metadata = {"title": page.title, "source": rel, "url": DOCS_BASE_URL + rel, "section": section}
            yield TextDocument(id=rel, text=text, metadata=metadata)


def _topic_docs() -> Iterator[TextDocument]:
    """The ~80 long reference topics behind ``help('TOPIC')``: always present with CPython."""
    from pydoc_data.topics import topics

    for name in sorted(topics):
        source = f"pydoc_data/topics#{name}"
        metadata = {"title": name, "source": source, "url": DOCS_BASE_URL + "reference/", "section": "topics"}
        yield TextDocument(id=source, text=topics[name].strip(), metadata=metadata)


def python_faq_pairs(
    source: Literal["auto", "html", "snapshot"] = "auto", *, root: Path | str = DOCS_ROOT
) -> list[FaqPair]:
    """(question, answer passage, source) for every question of the Python FAQ (about 180).

    ``source="auto"`` reads the installed HTML and falls back to the committed snapshot; ``"snapshot"`` always
    uses the snapshot (byte-identical evaluation across machines); ``"html"`` fails when the docs are absent.
    ``source`` of each pair is ``faq/<page>.html#<anchor>``, the same ``source`` the page documents carry (plus the
    anchor), so a retrieved chunk can be judged relevant by its page or by its passage.
    """
    root = Path(root)
    if source == "snapshot" or (source == "auto" and not docs_available(root)):
        return faq_snapshot()
    if not docs_available(root):
        raise FileNotFoundError(
            f"the Python HTML docs are not under {root}: install Debian's python3.11-doc or use source='snapshot'"
        )
    return list(_html_faq_pairs(root))


def _html_faq_pairs(root: Path) -> Iterator[FaqPair]:
    for path in sorted((root / "faq").glob("*.html")):
        if path.name == "index.html":
            continue
        rel = path.relative_to(root).as_posix()
        for section in parse_page(path.read_text(encoding="utf-8", errors="replace")).sections:
            # A leaf section below the page title is one question; its heading is the question itself.
            if section.depth >= 2 and section.children == 0 and section.heading and section.paragraphs:
                yield FaqPair(section.heading, section.text, f"{rel}#{section.anchor}")


def faq_snapshot() -> list[FaqPair]:
    """The committed FAQ pairs (see :func:`write_faq_snapshot`)."""
    raw = resources.files("redis_rag_integrations").joinpath("data", _FAQ_SNAPSHOT).read_text(encoding="utf-8")
    return [FaqPair(**pair) for pair in json.loads(raw)["pairs"]]


def write_faq_snapshot(path: Path | str, *, root: Path | str = DOCS_ROOT) -> int:
    """Regenerate the snapshot from the installed HTML; returns the number of pairs written."""
    pairs = python_faq_pairs("html", root=root)
    payload = {
        "attribution": ATTRIBUTION,
        "generated_from": "Debian python3.11-doc: html/faq/*.html",
        "pairs": [pair._asdict() for pair in pairs],
    }
    Path(path).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(pairs)


if __name__ == "__main__":  # pragma: no cover - maintenance: python -m redis_rag_integrations.datasets
    target = Path(__file__).with_name("data") / _FAQ_SNAPSHOT
    target.parent.mkdir(exist_ok=True)
    print(f"wrote {write_faq_snapshot(target)} pairs to {target}")
