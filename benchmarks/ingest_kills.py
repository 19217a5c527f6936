"""Streaming ingestion under kills, at length: many runs of worker processes SIGKILLed mid-batch (and stalled past
``claim_idle_ms`` so their events are reclaimed) while documents are upserted, shrunk and deleted; after each run
every chunk of the index is compared with the latest published version of its document.

Target: 0 mismatches. Before versioned writes, about one run in seven lost or resurrected a chunk. The harness is
the test suite's (``tests/ingest/chaos.py``, with its deterministic fake embedder: this measures correctness, not
embedding). Not part of ``make bench``; standalone: ``python -m benchmarks.ingest_kills [--full|--smoke]``
(quick: 20 runs, full: 60; a few seconds per run on 2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.profiles import Profile, resolve
from benchmarks.report import SectionResult, figure, section

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "ingest"))
from chaos import Config, Outcome
from chaos import run as run_once

RUNS = {"smoke": 2, "quick": 20, "full": 60}


def run(quick: bool, redis_url: str, *, profile: Profile | None = None) -> SectionResult:
    p = resolve(quick, profile)
    runs = RUNS.get(p.name, 20)
    cfg = Config(docs=12, events=150, workers=3, kills=8)
    outcomes: list[Outcome] = []
    for seed in range(runs):
        outcome = run_once(redis_url, 1000 + seed, cfg)
        outcomes.append(outcome)
        print(f"run {seed + 1}/{runs}: {outcome.events} events, {outcome.kills} kills, "
              f"{outcome.chunks_checked} chunks checked, {len(outcome.mismatches)} mismatches, "
              f"{outcome.seconds:.1f} s", flush=True)  # fmt: skip
    mismatches = sum(len(o.mismatches) for o in outcomes)
    bad_runs = sum(bool(o.mismatches) for o in outcomes)
    figures = [
        figure("runs", runs, "runs"),
        figure("kills mid-batch", sum(o.kills for o in outcomes), "kills"),
        figure("events published", sum(o.events for o in outcomes), "events"),
        figure("chunks checked", sum(o.chunks_checked for o in outcomes), "chunks"),
        figure("mismatching chunks", mismatches, "chunks", target="0", passed=mismatches == 0, summary=True),
        figure("runs with a mismatch", bad_runs, "runs", ratio=bad_runs / runs),
    ]
    notes = [
        f"{runs} runs of {cfg.workers} worker processes, {cfg.docs} documents, {cfg.events} events each (upserts "
        f"with 0-6 chunks, deletes), {cfg.kills} SIGKILLs per run landing while a worker holds a batch, and a "
        f"{cfg.stall_chance:.0%} chance per batch that a worker stalls past claim_idle_ms={cfg.claim_idle_ms} ms "
        "after its version check, so another worker reclaims and applies its events first.",
        *[m for o in outcomes for m in o.mismatches[:3]],
    ]
    return section("Streaming ingestion under kills", figures, {}, notes)


if __name__ == "__main__":
    from benchmarks.run import standalone

    standalone(run)
