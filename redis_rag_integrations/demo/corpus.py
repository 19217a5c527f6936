"""Put a bounded part of the Python docs into ONE Redis index, half through each framework, with a progress bar.

The FAQ goes through LangChain (``RecursiveCharacterTextSplitter`` -> ``RedisVectorStore.add_documents``) and the
tutorial through LlamaIndex (``SentenceSplitter`` -> ``VectorStoreIndex.insert_nodes``). Both land in the same
index with the same record layout, so every later question searches all of it from either framework: that is the
point of the package, and the ``ingested_with`` metadata on each chunk lets the demo show it.

The part ingested is bounded (seven pages, about 200k characters) and chosen to hold the answers to the demo's
questions, so that the whole demo finishes in a few minutes on two busy cores: embedding is the cost there
(roughly 4-25 chunks/s depending on load), not Redis. Chunks are smaller than the frameworks' defaults (600
characters, 160 tokens) because the bundled 135M model reads its prompt slowly: three short chunks make a prompt it
can start answering within seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from langchain_core.documents import Document
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import BaseNode
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..datasets import DOCS_ROOT, TextDocument, docs_available, python_docs
from ..langchain import RedisVectorStore as LangChainStore
from ..langchain.datasets import split_documents as split_for_langchain
from ..llama_index.datasets import split_documents as split_for_llama_index
from .summary import IngestReport

INGESTED_WITH = "ingested_with"
LANGCHAIN = "LangChain"
LLAMA_INDEX = "LlamaIndex"
BATCH = 32  # chunks per write: the embedder's batch size, and a smooth progress bar
T = TypeVar("T")


@dataclass(frozen=True)
class PageChoice:
    """Which pages each framework ingests: page ids as :func:`~redis_rag_integrations.datasets.python_docs` names
    them (``faq/library.html`` for the HTML docs, ``pydoc_data/topics#with`` for the stdlib's topics)."""

    langchain: tuple[str, ...]
    llama_index: tuple[str, ...]


#: From the installed HTML docs: the FAQ pages through LangChain, the tutorial pages through LlamaIndex.
HTML_PAGES = PageChoice(
    langchain=("faq/programming.html", "faq/library.html", "faq/general.html"),
    llama_index=(
        "tutorial/errors.html",
        "tutorial/inputoutput.html",
        "tutorial/controlflow.html",
        "tutorial/datastructures.html",
    ),
)
#: Where the HTML is absent: reference topics on the same subjects (the stdlib has no page about files).
TOPIC_PAGES = PageChoice(
    langchain=tuple(f"pydoc_data/topics#{t}" for t in ("try", "exceptions", "raise", "lambda", "function", "calls")),
    llama_index=tuple(f"pydoc_data/topics#{t}" for t in ("lists", "typesseq", "with", "context-managers", "for")),
)
LANGCHAIN_CHUNK_CHARS = 600
LLAMA_INDEX_CHUNK_TOKENS = 160


@dataclass(frozen=True)
class CorpusPlan:
    """The pages each framework ingests, and where they come from."""

    corpus: str
    langchain_pages: list[TextDocument]
    llama_index_pages: list[TextDocument]


def plan_corpus(
    html: PageChoice = HTML_PAGES, topics: PageChoice = TOPIC_PAGES, *, root: Path | str = DOCS_ROOT
) -> CorpusPlan:
    """The chosen pages of the HTML docs under ``root``, or the chosen reference topics where the HTML is absent."""
    if docs_available(root):
        wanted = (*html.langchain, *html.llama_index)
        sections = tuple(dict.fromkeys(page.split("/", 1)[0] for page in wanted))
        corpus, choice = "python3.11-doc HTML", html
        pages = {doc["id"]: doc for doc in python_docs(sections=sections, root=root)}
    else:
        corpus, choice = "pydoc_data.topics", topics
        pages = {doc["id"]: doc for doc in python_docs(root=root)}
    missing = [page for page in (*choice.langchain, *choice.llama_index) if page not in pages]
    if missing:
        raise ValueError(f"pages not found in {corpus}: {', '.join(missing)}")
    return CorpusPlan(corpus, [pages[p] for p in choice.langchain], [pages[p] for p in choice.llama_index])


def langchain_chunks(pages: Sequence[TextDocument]) -> list[Document]:
    chunks = split_for_langchain(pages, chunk_size=LANGCHAIN_CHUNK_CHARS, chunk_overlap=LANGCHAIN_CHUNK_CHARS // 10)
    for chunk in chunks:
        chunk.metadata[INGESTED_WITH] = LANGCHAIN
    return chunks


def llama_index_nodes(pages: Sequence[TextDocument]) -> list[BaseNode]:
    nodes = split_for_llama_index(
        pages, chunk_size=LLAMA_INDEX_CHUNK_TOKENS, chunk_overlap=LLAMA_INDEX_CHUNK_TOKENS // 10
    )
    for node in nodes:
        node.metadata[INGESTED_WITH] = LLAMA_INDEX
        # only the title helps the embedding and the prompt; urls and bookkeeping would be noise in both
        hidden = [key for key in node.metadata if key != "title"]
        node.excluded_embed_metadata_keys = hidden
        node.excluded_llm_metadata_keys = hidden
    return nodes


def _batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ingest(
    plan: CorpusPlan,
    langchain_store: LangChainStore,
    llama_index_index: VectorStoreIndex,
    console: Console,
) -> IngestReport:
    """Split with each framework's splitter, then embed and write in batches while a progress bar counts chunks."""
    start = time.perf_counter()
    with console.status("splitting pages with each framework's splitter..."):
        chunks = langchain_chunks(plan.langchain_pages)
        nodes = llama_index_nodes(plan.llama_index_pages)
    progress = Progress(
        TextColumn("{task.description:<44}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        lc_pages, li_pages = len(plan.langchain_pages), len(plan.llama_index_pages)
        lc_task = progress.add_task(f"LangChain: {lc_pages} pages -> add_documents", total=len(chunks))
        li_task = progress.add_task(f"LlamaIndex: {li_pages} pages -> insert_nodes", total=len(nodes))
        for batch in _batched(chunks, BATCH):
            langchain_store.add_documents(list(batch))
            progress.advance(lc_task, len(batch))
        for batch in _batched(nodes, BATCH):
            llama_index_index.insert_nodes(list(batch))
            progress.advance(li_task, len(batch))
    return IngestReport(
        corpus=plan.corpus,
        index=langchain_store.index.name,
        langchain_pages=len(plan.langchain_pages),
        langchain_chunks=len(chunks),
        llama_index_pages=len(plan.llama_index_pages),
        llama_index_chunks=len(nodes),
        seconds=time.perf_counter() - start,
        documents_in_index=langchain_store.index.count(),
    )
