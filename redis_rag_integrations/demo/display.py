"""How the demo shows things: answers (whatever the model produced), their sources, and where the time went.

A 135M-parameter model answers badly sometimes (empty, cut off, off topic). The demo shows exactly what it got and
says so, instead of hiding it or crashing on it: the plumbing is what is being demonstrated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .summary import AnswerReport, Source

INGESTED_WITH = "ingested_with"


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def sources_from_documents(docs: Iterable[Document]) -> list[Source]:
    """Sources of LangChain documents (chunks written by either framework carry the same metadata)."""
    return [
        Source(
            id=str(doc.id or ""),
            page=str(doc.metadata.get("source") or doc.metadata.get("doc_id") or ""),
            title=str(doc.metadata.get("title") or ""),
            ingested_with=str(doc.metadata.get(INGESTED_WITH) or "?"),
        )
        for doc in docs
    ]


def sources_from_nodes(nodes: Iterable[NodeWithScore]) -> list[Source]:
    """Sources of LlamaIndex nodes, live or restored from the question-level cache."""
    return [
        Source(
            id=item.node.node_id,
            page=str(item.node.metadata.get("source") or item.node.ref_doc_id or ""),
            title=str(item.node.metadata.get("title") or ""),
            ingested_with=str(item.node.metadata.get(INGESTED_WITH) or "?"),
        )
        for item in nodes
    ]


def answer_note(answer: str, truncated: bool) -> str:
    """What to add after an answer so a weak one reads as what it is."""
    if not answer.strip():
        return "[yellow](the model returned no text)[/]"
    if truncated:
        return "[dim]... (cut at max_tokens)[/]"
    return ""


def print_answer(console: Console, answer: str, truncated: bool) -> None:
    """Print a non-streamed answer (LlamaIndex, or a cache hit) with the same notes as a streamed one."""
    console.print(f"[bold green]A:[/] {escape(answer.strip())} {answer_note(answer, truncated)}")


def print_sources(console: Console, sources: Sequence[Source]) -> None:
    table = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
    table.add_column("source", style="cyan")
    table.add_column("title")
    table.add_column("chunk id", style="dim")
    table.add_column("written by", style="magenta")
    for source in sources:
        table.add_row(source.page, source.title, source.id, source.ingested_with)
    console.print(table)


def timing_line(report: AnswerReport) -> str:
    """One line: the steps that ran and their times; on a hit, what the cache saved."""
    if report.cache_hit:
        reused = f" of [italic]{escape(report.cached_question)}[/]" if report.cached_question else ""
        saved = f", saved {fmt_ms(report.saved_ms)}" if report.saved_ms is not None else ""
        return (
            f"[bold magenta]cache HIT[/]: reused the answer{reused}; lookup {fmt_ms(report.cache_lookup_ms)}, "
            f"total {fmt_ms(report.total_ms)}{saved} (no retrieval, no LLM)"
        )
    parts = [] if report.cache_lookup_ms is None else [f"cache lookup {fmt_ms(report.cache_lookup_ms)} (miss)"]
    parts.append(f"retrieve {fmt_ms(report.retrieve_ms)}")
    if report.first_token_ms is not None:
        parts.append(f"first token {fmt_ms(report.first_token_ms)}")
    parts += [f"generate {fmt_ms(report.generate_ms)}", f"total {fmt_ms(report.total_ms)}"]
    return "[dim]" + " | ".join(parts) + "[/]"


def print_report_footer(console: Console, report: AnswerReport) -> None:
    print_sources(console, report.sources)
    console.print(timing_line(report))
    console.print()


def summary_table(reports: Iterable[AnswerReport]) -> Table:
    table = Table(title="Where the time went", show_header=True)
    table.add_column("framework")
    table.add_column("question")
    table.add_column("cache")
    table.add_column("retrieve", justify="right")
    table.add_column("generate", justify="right")
    table.add_column("total", justify="right")
    for r in reports:
        table.add_row(
            r.framework,
            r.question,
            "[magenta]hit[/]" if r.cache_hit else "miss",
            fmt_ms(r.retrieve_ms),
            fmt_ms(r.generate_ms),
            fmt_ms(r.total_ms),
        )
    return table


def note_reuse(hit: AnswerReport, earlier: Iterable[AnswerReport]) -> None:
    """On a cache hit: which earlier question's answer came back (the texts are identical) and the time saved."""
    for report in earlier:
        if not report.cache_hit and report.answer == hit.answer:
            hit.cached_question = report.question
            hit.truncated = report.truncated
            hit.saved_ms = round(report.total_ms - hit.total_ms, 1)
            return
