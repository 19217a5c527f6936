"""The benchmark harness end to end at a tiny size (``--mode smoke``) on the test session's embedded Redis.

No timing is asserted (figures on a shared machine are not test material): the harness must run every section,
write results.json / results.md / plots, report finite ratios, and record a broken section instead of dying.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.profiles import SMOKE  # noqa: E402
from benchmarks.run import SECTIONS, run_all, run_section  # noqa: E402

#: Written and owned separately (LLM cache latency, 100k-vector scale); the harness records them whatever their
#: state, so the test demands only that they appear in the report.
SEPARATE = {"scale", "bench_cache"}


def test_smoke_run_writes_every_section_with_finite_ratios(redis_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = run_all("smoke", out, redis_url=redis_url, cache_dir=tmp_path / "cache")

    on_disk = json.loads((out / "results.json").read_text())
    assert [s["module"] for s in on_disk["sections"]] == list(SECTIONS)
    assert on_disk["machine"]["cores"] >= 1 and on_disk["machine"]["redis"]["version"]
    markdown = (out / "results.md").read_text()
    for s in run["sections"]:
        assert f"## {s['title']}" in markdown
        if s["module"] in SEPARATE:
            assert s["status"] in ("ok", "skipped", "error")
            continue
        assert s["status"] == "ok", f"{s['module']}: {s.get('error')}\n{s.get('traceback', '')}"
        assert s["figures"], s["module"]
        for f in s["figures"]:
            assert math.isfinite(f["value"]), (s["module"], f)
            assert f["ratio"] is None or math.isfinite(f["ratio"]), (s["module"], f)
            assert (f["target"] is None) == (f["passed"] is None), (s["module"], f)
    targets = [f for s in run["sections"] for f in s["figures"] if f["target"]]
    assert any("FT.SEARCH" in f["target"] for f in targets)  # the adapters' latency target is checked
    latency = next(s for s in run["sections"] if s["module"] == "store_latency")
    engines = {name.split(":", 1)[1] for name in latency["series"] if name.startswith("qps:")}
    assert {
        "raw FT.SEARCH (bare execute_command)",
        "ours: LangChain store",
        "ours: LlamaIndex store",
        "langchain-redis",
    } <= engines
    for png in ("latency_cdf_store_latency.png", "qps_store_latency.png", "ingest_ingest_speed.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_a_failing_section_is_recorded_and_the_run_goes_on(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = types.ModuleType("benchmarks._broken_for_test")

    def run(quick: bool, redis_url: str, *, profile: object = None) -> dict:
        raise RuntimeError("the section blew up")

    broken.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks._broken_for_test", broken)
    entry = run_section("_broken_for_test", SMOKE, redis_url)
    assert entry["status"] == "error" and "the section blew up" in entry["error"]
    missing = run_section("_no_such_section", SMOKE, redis_url)
    assert missing["status"] == "error" and "No module named" in missing["error"]


def test_malformed_section_results_are_rejected_with_the_module_named() -> None:
    with pytest.raises(ValueError, match=r"scale.*lacks"):
        report.validate({"title": "x"}, "scale")
    with pytest.raises(ValueError, match="value / ratio must be numbers"):
        report.validate({"title": "x", "figures": [{"name": "a", "value": "fast", "unit": "ms"}]}, "scale")
    ok = report.validate({"title": "x", "figures": [{"name": "a", "value": 1, "unit": "ms", "ratio": 2}]}, "s")
    assert ok["figures"][0]["ratio"] == 2.0 and ok["figures"][0]["passed"] is None and ok["series"] == {}


def test_readme_section_is_replaced_between_markers_and_nothing_else() -> None:
    first = "# T\n\nintro\n\n## Performance\n\nold table\n\n## Use\n\nrest\n"
    section = f"{report.README_START}\n## Performance\n\nnew\n{report.README_END}"
    once = report.splice_readme(first, section)
    assert once.startswith("# T\n\nintro\n\n") and once.endswith("## Use\n\nrest\n")
    assert "old table" not in once and "new" in once
    again = report.splice_readme(once, section.replace("new", "newer"))
    assert "newer" in again and again.count(report.README_START) == 1 and again.endswith("## Use\n\nrest\n")
    with pytest.raises(ValueError, match="markers"):
        report.splice_readme("# no section here\n", section)


def test_scale_full_mode_path_at_a_tiny_size(redis_url: str) -> None:
    """``make bench MODE=full`` runs scale with 1M vectors; the same code (full mode: ingest, memory, recall, p99,
    QPS at 1 and 2 processes, the published reference) runs here on 1,500 vectors."""
    from benchmarks import scale

    assert scale.SIZES["full"][0] == 1_000_000
    result = report.validate(scale.run(False, redis_url, size=(1_500, 10)), "benchmarks.scale")
    names = [f["name"] for f in result["figures"]]
    assert "clustered synthetic" in result["title"] and "full" in result["title"]
    for wanted in ("recall@10, float32", "query p99", "load, float32", "memory per vector, float32", "published"):
        assert any(wanted in n for n in names), wanted
    qps = [f for f in result["figures"] if f["name"].startswith("QPS, float32")]
    assert len(qps) == 2 and all(f["value"] > 0 for f in qps)
