"""The vector-set indexes on a server, for ``redis-rag stats``: found by their meta hashes, sized by the server.

Why a scan: vector sets have no ``FT._LIST``; every index of this backend keeps its options in ``{base}~vs:meta``
(:class:`.layout.VectorSetKeys`), so a ``SCAN`` for that suffix finds them all (bounded by ``scan_limit`` keys, as
the chat-session count is). ``MEMORY USAGE`` of the set is everything its records cost (vectors, links, attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...decoding import as_str
from .layout import QUANT_INFO

META_SUFFIX = "~vs:meta"


@dataclass
class VectorSetStats:
    name: str
    key: str
    records: int
    dims: int
    quantization: str
    memory_bytes: int | None

    @property
    def bytes_per_record(self) -> float | None:
        return None if self.memory_bytes is None or not self.records else self.memory_bytes / self.records


def vector_sets(client: Any, scan_limit: int = 200_000) -> list[VectorSetStats]:
    """Every vector-set index whose meta hash a ``SCAN`` of at most ``scan_limit`` keys finds, by name."""
    found = []
    for n, meta_key in enumerate(client.scan_iter(match=f"*{META_SUFFIX}", count=1000, _type="hash")):
        if n >= scan_limit:
            break
        meta = {as_str(k): as_str(v) for k, v in client.hgetall(meta_key).items()}
        if "dims" not in meta:
            continue  # not one of ours
        key = as_str(meta_key)[: -len(":meta")]
        try:
            memory = client.memory_usage(key, samples=0)
        except Exception:  # MEMORY denied by an ACL role: the size stays unknown, the rest is still true
            memory = None
        info = client.execute_command("VINFO", key) or {}
        pairs = dict(info.items()) if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=False))
        quant = as_str(pairs.get(b"quant-type", pairs.get("quant-type", b""))) or meta.get("quantization", "")
        found.append(
            VectorSetStats(
                name=meta.get("name", key),
                key=key,
                records=int(client.execute_command("VCARD", key) or 0),
                dims=int(meta["dims"]),
                quantization=QUANT_INFO.get(quant, quant),
                memory_bytes=None if memory is None else int(memory),
            )
        )
    return sorted(found, key=lambda s: s.name)
