"""Tools and output schemas that calls differ by in the cache-identity tests of both frameworks."""

from __future__ import annotations

from pydantic import BaseModel


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Answer(BaseModel):
    text: str


class Verdict(BaseModel):
    text: str
    confident: bool
