"""The README's demo: one Redis index read by LangChain and LlamaIndex, a question-level cache, a chat history.

Run with ``make demo`` (or ``python -m redis_rag_integrations.demo``). No key, no network: the embedded Redis and
the packaged all-MiniLM-L6-v2 model do everything locally. The "answer" is the best retrieved passage (an
extractive stand-in for an LLM) so the demo stays fast on two cores; the notebooks use a real LLM.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda
from llama_index.core import Settings as LISettings
from llama_index.core import VectorStoreIndex
from rich.console import Console
from rich.table import Table

from . import redis_url
from .datasets import python_faq_pairs
from .langchain import CachedRAGChain, RagEmbeddings, RedisChatMessageHistory
from .langchain import RedisVectorStore as LangChainStore
from .llama_index import RagEmbedding
from .llama_index import RedisVectorStore as LlamaIndexStore

console = Console()
INDEX = "demo-python-faq"
QUESTIONS = [
    "How do I copy a file?",
    "Why are default values shared between objects?",
    "How can I find the methods or attributes of an object?",
]
PARAPHRASE = "How can I copy a file?"


def _ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.1f} ms"


def main() -> None:
    warnings.filterwarnings("ignore", message=".*is in beta.*")
    url = redis_url()
    console.print(f"[bold]Redis[/] {url}  (embedded unless REDIS_URL is set)")
    embeddings = RagEmbeddings()
    store = LangChainStore(embeddings, INDEX, redis_url=url)
    store.clear()
    pairs = python_faq_pairs()
    docs = [
        Document(id=p.source, page_content=f"{p.question}\n\n{p.answer[:1200]}", metadata={"source": p.source})
        for p in pairs
    ]
    start = time.perf_counter()
    with console.status(f"embedding and indexing {len(docs)} Python FAQ entries through LangChain..."):
        store.add_documents(docs)
    console.print(f"indexed {len(docs)} documents in {_ms(start)}")

    LISettings.embed_model = RagEmbedding(embeddings.embedder)
    li_retriever = VectorStoreIndex.from_vector_store(LlamaIndexStore(INDEX, redis_url=url)).as_retriever(
        similarity_top_k=3
    )
    lc_retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 3})
    for question in QUESTIONS:
        table = Table(title=question, show_header=True)
        table.add_column("framework")
        table.add_column("top source (same index)")
        table.add_column("time", justify="right")
        start = time.perf_counter()
        lc_docs = lc_retriever.invoke(question)
        table.add_row("LangChain (hybrid)", lc_docs[0].id or "", _ms(start))
        start = time.perf_counter()
        li_nodes = li_retriever.retrieve(question)
        table.add_row("LlamaIndex (vector)", f"{li_nodes[0].node.node_id}  sim {li_nodes[0].score:.3f}", _ms(start))
        console.print(table)

    def answer(question: str) -> dict[str, Any]:
        context = lc_retriever.invoke(question)
        return {"answer": context[0].page_content.split("\n\n")[1][:300], "context": context}

    rag = CachedRAGChain(RunnableLambda(answer), embeddings=embeddings, redis_url=url, name=f"{INDEX}-rag")
    rag.cache.clear()
    for question in (QUESTIONS[0], PARAPHRASE):
        start = time.perf_counter()
        result = rag.invoke(question)
        stats = rag.cache.stats
        console.print(f"[bold]{question}[/] -> {result['answer'][:80]}...  {_ms(start)}, "
                      f"cache hits {stats.hits} / misses {stats.misses}")  # fmt: skip

    history = RedisChatMessageHistory("demo-session", redis_url=url, ttl=600)
    history.clear()
    history.add_user_message("How do I copy a file?")
    history.add_ai_message(rag.invoke("How do I copy a file?")["answer"])
    history.add_user_message("And how do I delete one?")
    relevant = history.get_relevant("copying files", k=1)
    console.print(f"history holds {len(history.messages)} messages; most relevant to 'copying files': "
                  f"{relevant[0].content[:60]!r}")  # fmt: skip


if __name__ == "__main__":
    main()
