"""LlamaIndex adapters: thin translations between LlamaIndex types and the framework-neutral cores."""

from .embeddings import RagEmbedding

__all__ = ["RagEmbedding"]
