"""The demo from start to end, and its command line (``python -m redis_rag_integrations.demo --help``)."""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from llama_index.core import VectorStoreIndex
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from ..connection import mask_url
from ..errors import RedisRagError
from ..history import ChatHistoryStore
from ..host import configure_entry_point
from ..langchain import CachedRAGChain, RagEmbeddings
from ..langchain import RedisVectorStore as LangChainStore
from ..langchain.models import chat_model
from ..llama_index import RagEmbedding
from ..llama_index import RedisVectorStore as LlamaIndexStore
from ..llama_index.models import llm as llama_index_llm
from ..llm import LLMEndpoint, llm_endpoint
from ..settings import Settings, get_settings
from ..urls import redis_url as resolve_redis_url
from . import conversation, corpus, langchain_rag, llama_index_rag
from .display import summary_table
from .summary import DemoSummary, LLMInfo


@dataclass
class DemoConfig:
    """What the demo asks and how much it ingests; the defaults finish in a few minutes on two busy cores."""

    index: str = "demo-python-docs"
    html_pages: corpus.PageChoice = corpus.HTML_PAGES
    topic_pages: corpus.PageChoice = corpus.TOPIC_PAGES
    k: int = 3  # chunks per answer: 3 x ~150 tokens keeps the small model's prompt short
    max_tokens: int = 96
    langchain_questions: tuple[str, ...] = ("How do I handle exceptions in Python?", "What is a lambda expression?")
    # a paraphrase of the first LangChain question (cosine distance 0.046 with MiniLM; the verifier's radius is 0.25)
    langchain_paraphrase: str = "How can exceptions be handled in Python?"
    llama_index_questions: tuple[str, ...] = (
        "What is a list comprehension?",
        "What is the difference between a list and a tuple?",
    )
    # distance 0.019 ("Can you explain list comprehensions?", 0.071, hits too: the learned gate reads an added
    # framing word as a rewording; see README, cache section).
    llama_index_paraphrase: str = "What are list comprehensions?"
    conversation: tuple[str, ...] = ("How do I open a file for reading?", "And how do I close it?")
    session_id: str = "demo-session"
    settings: Settings | None = field(default=None, repr=False)

    @property
    def cache_name(self) -> str:
        """Not ``{index}-...``: an index's key prefix is matched as a plain string prefix, so the vector index
        would index the cache's entries too."""
        return f"answer-cache-{self.index}"


def describe_llm(endpoint: LLMEndpoint) -> str:
    where = {"local": "the bundled SmolLM2-135M on llama.cpp (loopback)", "openai": "OpenAI",
             "compatible": "an OpenAI-compatible server"}[endpoint.kind]  # fmt: skip
    return f"{endpoint.model} at {endpoint.base_url}: {where}"


def run(config: DemoConfig | None = None, *, console: Console | None = None) -> DemoSummary:
    """Run the whole demo and return what happened; errors (LLM or Redis unavailable) propagate."""
    config = config or DemoConfig()
    console = console or Console()
    settings = config.settings or get_settings()
    started = time.perf_counter()
    console.print(Panel.fit("[bold]redis-rag-integrations[/]: one Redis for LangChain and LlamaIndex", style="red"))

    url = resolve_redis_url(settings)
    where = "REDIS_URL" if settings.redis_url else "embedded, started for this run"
    console.print(f"[bold]Redis[/]  {escape(mask_url(url))}  ({where})")
    with console.status("choosing the LLM (starting the bundled one if no OPENAI_* variable is set)..."):
        endpoint = llm_endpoint(settings)
    console.print(f"[bold]LLM[/]    {escape(describe_llm(endpoint))}; timeout {endpoint.timeout:g}s")
    lc_model = chat_model(endpoint=endpoint, streaming=True, temperature=0, max_tokens=config.max_tokens)
    li_model = llama_index_llm(endpoint=endpoint, temperature=0, max_tokens=config.max_tokens)

    with console.status("loading the embedding model (all-MiniLM-L6-v2, offline)..."):
        embeddings = RagEmbeddings()
        embed_model = RagEmbedding(embeddings.embedder)
        lc_store = LangChainStore(embeddings, config.index, redis_url=url, settings=settings)
        lc_store.clear()  # a re-run ingests from scratch, so the progress bar shows real work
        li_store = LlamaIndexStore(config.index, redis_url=url, settings=settings)
        li_index = VectorStoreIndex.from_vector_store(li_store, embed_model=embed_model)

    console.rule("[bold]1. Ingest the Python documentation")
    plan = corpus.plan_corpus(config.html_pages, config.topic_pages)
    ingest = corpus.ingest(plan, lc_store, li_index, console)
    console.print(
        f"{ingest.documents_in_index} chunks of {plan.corpus} in the index {ingest.index!r} ({ingest.langchain_chunks} "
        f"via LangChain, {ingest.llama_index_chunks} via LlamaIndex) in {ingest.seconds:.1f} s"
    )
    summary = DemoSummary(
        redis_url=mask_url(url),
        llm=LLMInfo(endpoint.kind, endpoint.base_url, endpoint.model, endpoint.timeout),
        ingest=ingest,
    )

    retriever = lc_store.as_retriever(search_type="hybrid", search_kwargs={"k": config.k})
    rag = CachedRAGChain(
        langchain_rag.answer_and_sources(langchain_rag.rag_chain(retriever, lc_model)),
        embeddings=embeddings,
        redis_url=url,
        name=config.cache_name,
        chain_id="demo-langchain",
        settings=settings,
    )
    rag.cache.clear()  # a re-run shows the miss, then the hit

    console.rule("[bold]2. LangChain: LCEL chain on the hybrid (BM25 + vector) retriever, behind CachedRAGChain")
    for question in (*config.langchain_questions, config.langchain_paraphrase):
        summary.langchain.append(langchain_rag.ask(rag, question, console=console, earlier=summary.langchain))

    console.rule("[bold]3. LlamaIndex: query engine on the same index, behind CachedQueryEngine")
    engine, debug = llama_index_rag.query_engine(
        li_index, li_model, k=config.k, embed_model=embed_model, cache=rag.cache, engine_id="demo-llama-index"
    )
    for question in (*config.llama_index_questions, config.llama_index_paraphrase):
        summary.llama_index.append(
            llama_index_rag.ask(engine, debug, question, console=console, earlier=summary.llama_index)
        )

    console.rule("[bold]4. A follow-up question: RunnableWithMessageHistory + RedisChatMessageHistory")
    store = ChatHistoryStore(url, ttl=3600, settings=settings)
    chat = conversation.conversation_chain(retriever, lc_model, store)
    summary.conversation = conversation.converse(
        chat, retriever, config.conversation, session_id=config.session_id, store=store, console=console
    )

    summary.seconds = round(time.perf_counter() - started, 1)
    console.rule()
    console.print(summary_table([*summary.langchain, *summary.llama_index, *summary.conversation.turns]))
    console.print(f"Demo finished in {summary.seconds:.0f} s.")
    return summary


def parse_args(argv: Sequence[str] | None = None) -> tuple[DemoConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m redis_rag_integrations.demo",
        description="RAG over the Python docs with Redis as vector store, semantic cache and chat history, through "
        "LangChain and LlamaIndex. The LLM: OPENAI_BASE_URL (any OpenAI-compatible server), else OPENAI_API_KEY "
        "(OpenAI), else the bundled local model. Redis: REDIS_URL, else an embedded server.",
    )
    defaults = DemoConfig()
    parser.add_argument("--index", default=defaults.index, help="index name (default %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=defaults.max_tokens, help="answer length limit")
    parser.add_argument("--k", type=int, default=defaults.k, help="chunks retrieved per answer")
    parser.add_argument("--summary-json", default=None, help="also write what happened to this JSON file")
    args = parser.parse_args(argv)
    for name in ("max_tokens", "k"):
        value = getattr(args, name)
        if value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    config = DemoConfig(index=args.index, max_tokens=args.max_tokens, k=args.k)
    return config, args


def quiet_libraries() -> None:
    """Keep the console for the demo: no model-loading bars, no notices about APIs the demo uses on purpose.

    ``RunnableWithMessageHistory`` is deprecated in favour of LangGraph persistence, but it is how most LangChain
    applications keep a chat history today, so that is what the demo shows our history class under.
    """
    warnings.filterwarnings("ignore", message=".*is in beta.*")
    warnings.filterwarnings("ignore", message=".*RunnableWithMessageHistory is deprecated.*")
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: exit 0 when the demo ran, 2 with a clear message when Redis or the LLM is unavailable."""
    configure_entry_point()
    config, args = parse_args(argv)
    quiet_libraries()
    console = Console()
    try:
        summary = run(config, console=console)
    except RedisRagError as exc:  # LLMUnavailableError, Redis unreachable or without the query engine, ...
        console.print(Panel(escape(str(exc)), title=f"[bold red]{type(exc).__name__}", border_style="red"))
        return 2
    if args.summary_json:
        summary.write_json(args.summary_json)
    return 0
