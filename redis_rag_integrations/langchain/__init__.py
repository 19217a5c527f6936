"""LangChain adapters: thin translations between LangChain types and the framework-neutral cores."""

from .embeddings import RagEmbeddings

__all__ = ["RagEmbeddings"]
