"""Several worker processes, SIGKILLs mid-batch, stalled workers whose events are reclaimed, and documents upserted,
shrunk and deleted in random order: afterwards every chunk equals the latest published version of its document.

Each seed runs a few seconds; ``benchmarks/ingest_kills.py`` runs the same harness many more times.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chaos import Config, run


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_index_ends_equal_to_the_latest_versions_despite_kills_and_reclaims(redis_url: str, seed: int) -> None:
    outcome = run(redis_url, seed, Config(docs=10, events=90, workers=3, kills=5))
    assert outcome.kills == 5, "every kill should have landed on a worker in the middle of a batch"
    assert outcome.chunks_checked > 0
    assert outcome.mismatches == [], "\n".join(outcome.mismatches[:20])
