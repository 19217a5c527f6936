"""Exact TAG values: what we store for a tag and how a filter names it, so every string matches exactly itself.

Why this exists: the search engine does not keep a tag value byte for byte. Measured on search 2.10.5 (every ASCII
character and a sample of every Unicode category, alone, leading, trailing and inside a value):

* an ASCII space at either end is trimmed when the value is indexed, so ``"a "`` and ``"a"`` become one tag (a
  filter for one returns the other) and a filter for ``" "`` finds nothing;
* a C0 control character (``\\x00``-``\\x1f``: tab, newline...) anywhere makes the value unmatchable or match others;
* the empty string and ``"_"`` alone make the query a syntax error;
* only the first 4096 bytes of a value are indexed: a longer value is stored as a digest (:data:`MAX_TAG_BYTES`);
* in a query, ASCII punctuation and spaces must be backslash-escaped, while a backslash before a non-ASCII
  character breaks the match (so escaping everything that is not alphanumeric is wrong for some values).

So a value is stored as it is when the engine keeps it intact (almost every real value: ``faq``, ``guide.md``,
``Über uns``, ``a/b#c``), and otherwise as :data:`ENCODED_MARK` followed by the hex of its UTF-8 bytes. A value
that itself starts with the mark is encoded too, so the mapping stays one-to-one and :func:`decode` inverts it.
Queries escape exactly the ASCII punctuation and spaces of the stored form. The property tests in
``tests/store/test_exact_filters.py`` check "a filter for any string finds exactly the records holding it".

Indexes written by other packages (``langchain-redis``, ``llama-index-vector-stores-redis``) store tags raw: for
those, :func:`query_value` refuses a value the engine cannot match instead of returning a wrong answer.
"""

from __future__ import annotations

import hashlib
import re

#: Starts every encoded value. ``~`` survives indexing and querying, and real values rarely start with it.
ENCODED_MARK = "~"
#: The engine keeps the first 4096 bytes of a tag value (measured: a 4097-byte value is found by its 4096-byte prefix
#: and not by itself). A value whose stored form is longer is stored as :data:`DIGEST_MARK` + its SHA-256, which a
#: filter for the same value computes too: exact (to SHA-256 collisions), where the cut value would match others.
MAX_TAG_BYTES = 4096
#: ``#`` is no hex digit, so no hex-encoded value starts with ``~#``: digests are apart from every other stored form.
DIGEST_MARK = ENCODED_MARK + "#"
_ENGINE_UNSAFE = re.compile(r"[\x00-\x1f\x7f]|^ | $")
#: ASCII punctuation and the space, except ``_``: what the query syntax needs escaped.
_ESCAPE = re.compile(r"([\x20-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7e])")
_HEX = re.compile(r"(?:[0-9a-f]{2})*")


class UnmatchableTagError(ValueError):
    """A tag value that an index storing raw tags (a legacy layout) can never match exactly."""


def _size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def engine_keeps(value: str) -> bool:
    """Whether the engine indexes ``value`` unchanged and a query can name it."""
    return bool(value) and value != "_" and _ENGINE_UNSAFE.search(value) is None and _size(value) <= MAX_TAG_BYTES


def encode(value: str) -> str:
    """The form of ``value`` stored in a TAG field of our layout (``value`` itself for almost every real value)."""
    if engine_keeps(value) and not value.startswith(ENCODED_MARK):
        return value
    stored = ENCODED_MARK + value.encode("utf-8", "surrogatepass").hex()
    if len(stored) > MAX_TAG_BYTES:
        return DIGEST_MARK + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return stored


def is_digest(stored: str) -> bool:
    """Whether ``stored`` is the digest of a value too long to index whole (:func:`decode` cannot give it back)."""
    return stored.startswith(DIGEST_MARK)


def decode(stored: str) -> str:
    """The caller's value from its stored form (a value stored raw by an older version comes back unchanged)."""
    body = stored[len(ENCODED_MARK) :]
    if stored.startswith(ENCODED_MARK) and _HEX.fullmatch(body):
        try:
            return bytes.fromhex(body).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            pass
    return stored


def escape(text: str) -> str:
    """``text`` written for the query syntax (a stored tag value or a field name): ASCII punctuation escaped."""
    return _ESCAPE.sub(r"\\\1", text)


def query_value(value: str, *, encoded: bool) -> str:
    """``value`` as it goes between the braces of ``@field:{...}``.

    ``encoded``: the index stores values through :func:`encode` (our layout). Otherwise it stores them raw, and a
    value the engine cannot keep intact is refused: a filter that silently matched nothing would be worse.
    """
    if encoded:
        return escape(encode(value))
    if not engine_keeps(value):
        raise UnmatchableTagError(
            f"tag value {value!r} cannot be matched exactly in an index that stores tags raw (written by another "
            "package): the search engine trims spaces at the ends and drops control characters. Re-ingest into an "
            "index of this package, which encodes such values."
        )
    return escape(value)


def tag_clause(field: str, values: list[str], *, encoded: bool = True) -> str:
    """``@field:{v1 | v2 ...}``: records whose tag ``field`` holds any of ``values`` exactly."""
    if not values:
        raise ValueError(f"a tag filter on {field!r} needs at least one value")
    inner = "|".join(query_value(v, encoded=encoded) for v in values)
    return f"@{escape(field)}:{{{inner}}}"
