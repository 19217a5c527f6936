"""Checks of the numbers a history call takes (an index, a count, a window), done before any command is sent.

Why: these values go into Lua scripts and LIST commands. Unchecked, ``"1"`` deleted message 1 and only then failed
decoding (the message was lost), ``1.5`` and ``None`` surfaced as raw Redis errors, and a negative count read as
"nothing" where SQL's ``LIMIT -1`` means "everything". A value is a whole number (an ``int`` or anything with
``__index__``, like a numpy integer, never a ``bool``) or the call is refused with a clear error, nothing changed.
"""

from __future__ import annotations

import operator
from typing import Any


def whole_number(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an ``int``; ``TypeError`` for a non-integer (``"1"``, ``1.5``, ``None``, ``True``),
    ``ValueError`` below ``minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def optional_count(name: str, value: Any) -> int | None:
    """None, or a count >= 0 (a window's ``last`` / ``limit`` / ``offset``)."""
    return None if value is None else whole_number(name, value, minimum=0)
