"""Option values shared by the caches: the "use the settings' default" marker, and range checks that fail early.

They live apart from the caches so that the exact cache, the semantic cache and the adapters share them without
importing each other's internals.
"""

from __future__ import annotations

from typing import Any

#: "Not given": take the settings' default (``None`` is a real value for a TTL: no expiry).
UNSET: Any = object()


def validate_threshold(value: float) -> float:
    """A cosine DISTANCE threshold must lie in [0, 2]; similarity-style values like 0.95 are almost always a
    mistake, but they are valid distances, so only the range is enforced."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 2.0:
        raise ValueError(
            f"distance_threshold is a cosine DISTANCE in [0, 2] (0 = identical, 2 = opposite), got {value!r}"
        )
    return float(value)


def validate_ttl(value: int | None) -> int | None:
    """A TTL is a positive whole number of seconds, or ``None`` for entries that never expire."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"ttl must be a positive number of seconds or None (= no expiry), got {value!r}")
    return value
