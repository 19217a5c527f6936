"""Kept only for tests/faults/components.py, which imports it by this name: the fakes live in tests/fakes.py."""

from fakes import WordsEmbedder as HashEmbedder

__all__ = ["HashEmbedder"]
