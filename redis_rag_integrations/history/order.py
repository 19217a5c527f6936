"""Insertion order across a session's two lists (active, archived): every entry carries its write's ``seq``.

Why: LlamaIndex's ``AsyncDBChatStore`` contract (``SQLAlchemyChatStore``) orders a session's messages by when they
were written, whatever their status. A message added as archived after active ones, or active messages archived
into an archive that already holds newer ones, must keep that place: ``get_messages(status=None)`` and the archive
are read in insertion order, not "archive, then active".

Each entry written gets ``"seq"`` as its last JSON key (``time.time_ns()``, strictly increasing in this process, as
the reference's ``time.time_ns() + i``), so the archive script (:data:`.keys.ARCHIVE_OLDEST_LUA`) and reads can
merge the lists with a regex on the entry's tail, no JSON parse. Entries without one (written before, or by other
code) take the seq of the entry before them in their list (or -1), so old sessions still read archive first.
Within one list the LIST order stays the truth: the merge never reorders a list, it only interleaves the two.
"""

from __future__ import annotations

import re
import threading
import time

SEQ_FIELD = "seq"
_TAIL = re.compile(rb',"seq":(\d+)\}$')
_lock = threading.Lock()
_last = 0


def next_seqs(n: int) -> list[int]:
    """``n`` increasing sequence numbers, above every one this process gave before (the clock never steps back)."""
    global _last
    with _lock:
        first = max(time.time_ns(), _last + 1)
        _last = first + max(n, 1) - 1
    return list(range(first, first + n))


def seq_of(raw: bytes | str) -> int | None:
    """The ``seq`` of an entry written by :func:`.message.encode` with one, else None."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    found = _TAIL.search(data)
    return int(found.group(1)) if found else None


def _keyed(raws: list[bytes]) -> list[int]:
    """Each entry's sort key: its seq, or the one before it in the list (-1 at the start)."""
    out: list[int] = []
    previous = -1
    for raw in raws:
        seq = seq_of(raw)
        previous = previous if seq is None else seq
        out.append(previous)
    return out


def merge(first: tuple[str, list[bytes]], second: tuple[str, list[bytes]]) -> list[tuple[str, int, bytes]]:
    """The entries of two lists as ``(key, index in its list, raw)`` in insertion order; on a tie (or no seqs)
    ``first`` (the archive) comes first."""
    (key_a, raws_a), (key_b, raws_b) = first, second
    seq_a, seq_b = _keyed(raws_a), _keyed(raws_b)
    out: list[tuple[str, int, bytes]] = []
    i = j = 0
    while i < len(raws_a) or j < len(raws_b):
        if j >= len(raws_b) or (i < len(raws_a) and seq_a[i] <= seq_b[j]):
            out.append((key_a, i, raws_a[i]))
            i += 1
        else:
            out.append((key_b, j, raws_b[j]))
            j += 1
    return out
