"""Load and soak benchmarks at a tiny size (seconds) on the session's Redis: they must run clean.

No speed or memory figure is asserted here (those are benchmark targets, judged in benchmarks/results/): the load
run must see zero errors and zero cross-talk with 64 threads and 512 coroutines sharing one store, cache and
history, and the soak must produce every field of its report with zero errors.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import load, soak  # noqa: E402
from benchmarks.profiles import SMOKE  # noqa: E402


def test_load_smoke_has_no_errors_and_no_crosstalk(redis_url: str) -> None:
    result = load.run(True, redis_url, profile=SMOKE)
    figures = {f["name"]: f for f in result["figures"]}
    for phase in (f"{load.THREADS} threads", f"{load.COROUTINES} coroutines"):
        assert figures[f"{phase}: errors"]["value"] == 0, result["notes"]
        assert figures[f"{phase}: cross-talk (foreign items read)"]["value"] == 0
        assert figures[f"{phase}: items read back and checked"]["value"] > 0  # the check really ran
        assert figures[f"{phase}: throughput (all operations)"]["value"] > 0
        for op in load.OPS:
            assert math.isfinite(figures[f"{phase}: {op} p99"]["value"])


def test_soak_smoke_reports_every_field(redis_url: str) -> None:
    report = soak.run_soak(redis_url, 4.0, interval=1.0, threads=2, rate=10.0)
    for name in (
        "used_memory_start",
        "used_memory_end",
        "used_memory_max",
        "slope_second_half_bytes_per_min",
        "slope_pct_per_10min",
        "keys_start",
        "keys_end",
        "keys_max",
        "target",
        "flat",
        "load1_mean",
        "doc_ids_end",
        "bytes_per_new_doc_id",
        "rest_slope_bytes_per_min",
        "doc_table",
    ):
        assert name in report, name
    assert report["doc_ids_end"] > report["doc_ids_start"] >= 0  # churn hands out new doc ids
    assert report["doc_table"] == soak.DEFAULT_DOC_TABLE
    assert report["errors"] == 0, report["error_examples"]
    assert report["ops"] > 0 and len(report["samples"]) >= 3
    assert report["used_memory_max"] >= report["used_memory_end"] > 0
    assert "used_memory" in soak.markdown(report)


@pytest.mark.parametrize("argv", [["--max-doc-table", "0"], ["--max-doc-table", "5", "--redis-url", "redis://x:1"]])
def test_soak_refuses_a_doc_table_it_cannot_set(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        soak.main(["--minutes", "0.01", *argv])
    assert exited.value.code == 2
