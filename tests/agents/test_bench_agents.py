"""``benchmarks/bench_agents.py`` end to end at a tiny size on the test session's embedded Redis.

No timing is asserted (figures on a shared machine are not test material): the benchmark must run both sections,
report every saver and every middleware case, and give finite numbers for every ratio. The embedder-call counts are
not timings: every middleware case must embed the question exactly once per model call (the request scope shares
the vector between retrieval, lookup and store), which is what the benchmark subtracts; the Redis round trips per
model call are counted the same way.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import agents_floor, bench_agents  # noqa: E402

CASES = ("rag", "cache miss", "cache hit", "rag + cache miss", "rag + cache hit")


def test_bench_agents_runs_at_a_tiny_size_with_every_row_and_numeric_ratios(redis_url: str, tmp_path: Path) -> None:
    # --before: the package at a git revision, imported beside the current one and interleaved with it
    before = bench_agents.load_before("HEAD", str(tmp_path))
    figures = bench_agents.run(redis_url, rounds=1, threads=2, chunks=12, before=before)

    checkpoints = figures["checkpoints"]
    for saver in bench_agents.SAVERS:
        assert math.isfinite(checkpoints[f"turn p50 ms, {saver}"]), saver
    for saver in bench_agents.SAVERS[1:]:
        assert checkpoints[f"put+get_tuple p50 ms, {saver}"] > 0, saver
        assert math.isfinite(checkpoints[f"checkpointing per step ms, {saver}"]), saver
    for baseline in ("in-memory", "sqlite", "sqlite, synchronous=NORMAL"):
        for measure in ("checkpointing per step", "put+get_tuple p50"):
            ratio = checkpoints[f"{measure}, redis / {baseline}"]
            assert isinstance(ratio, float) and math.isfinite(ratio), (measure, baseline, ratio)
    assert checkpoints["checkpoints per turn"] >= 3  # input, model, tools, model: a real tool-calling turn
    assert checkpoints["messages in that checkpoint"] >= 4
    commands = figures["checkpoint commands"]
    for op in ("turn", "put", "put_writes", "get_tuple", "get_tuple (latest)"):
        assert commands[f"{op}: round trips"] >= 1 and commands[f"{op}: commands"] >= 1, op
    assert "json.set" in commands["put: by command"]

    middleware = figures["middleware"]
    for label in ("table embedder", "real embedder"):
        assert middleware[f"{label}: bare agent call p50 ms"] > 0
        assert middleware[f"{label}: query embedding p50 ms"] > 0
        assert middleware[f"{label}: redis PING p50 ms"] > 0
        for case in CASES:
            assert math.isfinite(middleware[f"{label}: added per model call ms, {case}"]), (label, case)
            assert middleware[f"{label}: embedder calls per model call, {case}"] == 1.0, (label, case)
            left = middleware[f"{label}: added minus embeddings and round trips at PING cost ms, {case}"]
            assert math.isfinite(left), (label, case)
        # round trips per model call on the caller's thread: hybrid retrieval one (both searches pipelined), a
        # lookup one; behind the RAG middleware the lookup and the watch of the answer's sources ride with the
        # retrieval; a miss's store is written behind (counted apart, on the worker thread)
        trips = {case: middleware[f"{label}: redis round trips per model call, {case}"] for case in CASES}
        assert trips["cache hit"] == 1 and trips["cache miss"] == 1 and trips["rag"] == 1, trips
        assert trips["rag + cache hit"] == 1 and trips["rag + cache miss"] == 1, trips
        behind = {case: middleware[f"{label}: background round trips per model call, {case}"] for case in CASES}
        # nothing to write on a hit; the watch a RAG + hit took is ended by the next watch sent
        assert behind["rag"] == behind["cache hit"] == behind["rag + cache hit"] == 0, behind
        assert behind["cache miss"] == behind["rag + cache miss"] == 1, behind
        # the floor of RAG + miss: the same one round trip (captured commands, replayed raw) and embedding, two
        # hooks; the no-op pair sends nothing
        floor, noop = agents_floor.FLOOR_CASE, agents_floor.NOOP_CASE
        assert middleware[f"{label}: redis round trips per model call, {floor}"] == 1
        assert middleware[f"{label}: embedder calls per model call, {floor}"] == 1.0
        assert middleware[f"{label}: background round trips per model call, {floor}"] == 0
        assert middleware[f"{label}: redis round trips per model call, {noop}"] == 0
        assert math.isfinite(middleware[f"{label}: rag + cache miss / its floor (added)"])
        assert math.isfinite(middleware[f"{label}: rag + cache miss minus its floor ms"])
    for case in CASES:
        assert math.isfinite(middleware[f"real embedder: added minus embeddings ms, {case}"]), case
        assert middleware[f"table embedder: embedder calls per model call, before: {case}"] == 1.0, case
        assert math.isfinite(middleware[f"table embedder: added, now / before, {case}"]), case
        assert math.isfinite(middleware[f"table embedder: added client CPU per model call ms, {case}"]), case
    assert middleware["before = git revision"] == "HEAD"

    before, after = figures["load average"]["before (1/5/15 min)"], figures["load average"]["after"]
    assert len(before) == len(after) == 3
