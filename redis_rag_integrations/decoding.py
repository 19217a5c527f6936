"""One way to read a Redis reply as text.

Why: clients are built without ``decode_responses`` (vectors travel as raw bytes), so every module that reads a
string back gets ``bytes``, while tests and some callers hand in ``str``. Each module had its own two-line helper
for this; one shared function keeps the error handling the same everywhere.
"""

from __future__ import annotations

from typing import Any


def as_str(value: Any, errors: str = "strict") -> str:
    """``value`` as ``str``: bytes decoded as UTF-8 (``errors`` as in :meth:`bytes.decode`), anything else ``str()``.

    ``errors="surrogateescape"`` keeps arbitrary key bytes round-trippable (for keys read back and deleted).
    """
    return value.decode("utf-8", errors) if isinstance(value, bytes) else str(value)
