"""One command for every benchmark: ``python -m benchmarks.run --mode quick|full [--out DIR] [--update-readme]``.

Starts ONE embedded Redis (or uses ``REDIS_URL``), records the machine, runs every section on that server one after
the other, and writes ``results.json`` (figures and raw samples), ``results.md`` and PNG plots into ``--out``
(default ``benchmarks/results/<mode>-<timestamp>``); ``--update-readme`` regenerates the README's performance section
between its ``<!-- benchmarks:start/end -->`` markers. Modes: ``quick`` (minutes on 2 busy cores), ``full`` (the big
figures: 10k chunks, longer loops), ``smoke`` (seconds; what the test suite runs).

A section that is missing or raises is recorded as an error in the report and the run goes on: one broken section
must not hide the figures of the others. ``make bench`` / ``make bench MODE=full`` run this with
``--update-readme``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make ``benchmarks`` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks import machine, plots
from benchmarks.profiles import PROFILES, RESULTS, Profile
from benchmarks.report import readme_markdown, results_markdown, section_markdown, splice_readme, validate

ROOT = Path(__file__).resolve().parent.parent
_NUMBER_LIST = re.compile(r"\[(?:\s*-?[0-9][0-9.eE+-]*,)*\s*-?[0-9][0-9.eE+-]*\s*\]")
README = ROOT / "README.md"
#: Run order: the cheap, embedding-free sections first, so a broken embedder still leaves Redis figures behind.
SECTIONS: tuple[str, ...] = (
    "store_latency",
    "adapter_overhead",
    "ingest_speed",
    "store_recall",
    "scale",
    "backends",
    "retrieval_quality",
    "query_int8",
    "question_path",
    "cache_quality",
    "bench_cache",
    "bench_history",
    "ingest_freshness",
    "load",
    # last: it starts its own local Redis Cluster and a node without persistence beside the harness's server
    "cluster",
)


#: Smoke-mode sizes for sections that take a size of their own instead of a profile (``benchmarks/scale.py``:
#: vectors and held-out queries). A section with neither is skipped in smoke mode.
SMOKE_KWARGS: dict[str, dict[str, Any]] = {"scale": {"size": (2_000, 20)}, "backends": {"size": (1_000, 10)}}


def _accepts(fn: Callable[..., Any], names: Sequence[str]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return all(n in params for n in names)


def run_section(name: str, profile: Profile, redis_url: str) -> dict[str, Any]:
    """Import ``benchmarks.<name>`` and run it; the result wrapped with status, timing and load, never raising."""
    entry: dict[str, Any] = {"module": name, "title": name, "figures": [], "series": {}, "notes": []}
    load_before = machine.load()[0]
    began = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        fn = getattr(module, "run", None)
        if not callable(fn):
            raise TypeError(f"benchmarks/{name}.py has no run(quick: bool, redis_url: str) function")
        smoke_kwargs = SMOKE_KWARGS.get(name, {})
        if _accepts(fn, ["profile"]):
            result = fn(profile.quick, redis_url, profile=profile)
        elif profile.name == "smoke" and smoke_kwargs and _accepts(fn, list(smoke_kwargs)):
            result = fn(True, redis_url, **smoke_kwargs)
        elif profile.name == "smoke":
            entry.update(status="skipped", error="smoke mode: run(quick, redis_url) has no size to shrink to seconds")
            return entry
        else:
            result = fn(profile.quick, redis_url)
        entry.update(validate(result, f"benchmarks.{name}"), status="ok", error=None)
    except BaseException as exc:  # a section's failure is a figure of the report, not the end of the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        tail = "".join(traceback.format_exception(exc)).strip()[-3000:]  # enough frames to reach the section's own
        entry.update(status="error", error=f"{type(exc).__name__}: {exc}".strip()[:500], traceback=tail)
    finally:
        entry.update(
            seconds=round(time.perf_counter() - began, 1), load_before=load_before, load_after=machine.load()[0]
        )
    return entry


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """``url`` (or ``REDIS_URL``) when given, else one embedded Redis for the whole run, stopped afterwards."""
    url = url or os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from redis_rag_integrations import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url


def _summary_line(entry: dict[str, Any]) -> str:
    checked = [f for f in entry["figures"] if f["passed"] is not None]
    passed = sum(f["passed"] for f in checked)
    extra = f", {passed}/{len(checked)} targets met" if checked else ""
    return f"[{entry['status']}] {entry['module']}: {entry['seconds']} s{extra}"


def run_all(
    mode: str,
    out: Path,
    *,
    redis_url: str | None = None,
    sections: Sequence[str] = SECTIONS,
    cache_dir: Path | None = None,
    update_readme: bool = False,
    command: str = "python -m benchmarks.run",
) -> dict[str, Any]:
    """Run ``sections`` in ``mode`` and write the report into ``out``; returns the run as written to JSON."""
    if mode not in PROFILES:
        raise ValueError(f"mode must be one of {sorted(PROFILES)}, got {mode!r}")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    profile = PROFILES[mode] if cache_dir is None else replace(PROFILES[mode], cache_dir=cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with redis_server(redis_url) as url:
        run: dict[str, Any] = {
            "mode": mode,
            "started": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": command,
            "redis": "REDIS_URL" if (redis_url or os.environ.get("REDIS_URL")) else "embedded Redis",
            "machine": machine.describe(url),
            "sections": [],
        }
        for name in sections:
            print(f"--- {name} ({mode})", flush=True)
            entry = run_section(name, profile, url)
            run["sections"].append(entry)
            print(_summary_line(entry), flush=True)
            if entry["status"] == "error":
                print(entry.get("traceback", ""), flush=True)
    run["machine"]["load_after"] = machine.load()
    run["seconds"] = round(time.perf_counter() - began, 1)
    pngs = plots.write_all(run["sections"], out)
    (out / "results.json").write_text(to_json(run), encoding="utf-8")
    (out / "results.md").write_text(results_markdown(run, pngs), encoding="utf-8")
    if update_readme:
        rel = out.resolve().relative_to(ROOT).as_posix() if out.resolve().is_relative_to(ROOT) else str(out)
        README.write_text(
            splice_readme(README.read_text(encoding="utf-8"), readme_markdown(run, rel, pngs)), encoding="utf-8"
        )
    return run


def _rounded(value: Any) -> Any:
    """Floats to 4 significant digits: finer than any machine's noise, and the JSON stays small."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def to_json(run: dict[str, Any]) -> str:
    """Indented for reading, but each list of numbers (raw samples) on one line: a tenth of the size."""
    text = json.dumps(_rounded(run), indent=1)
    return _NUMBER_LIST.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text) + "\n"


def standalone(section_run: Callable[..., Any]) -> None:
    """``python -m benchmarks.<section> [--full|--smoke]``: one section on its own server, printed as markdown."""
    parser = argparse.ArgumentParser(description=(sys.modules[section_run.__module__].__doc__ or "").split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true", help="full-size run (default: quick)")
    group.add_argument("--smoke", action="store_true", help="tiny run, seconds")
    args = parser.parse_args()
    profile = PROFILES["full" if args.full else "smoke" if args.smoke else "quick"]
    module = sys.modules[section_run.__module__]
    spec = getattr(module, "__spec__", None)  # under ``python -m`` the module is ``__main__``; its spec knows better
    name = (spec.name if spec is not None else section_run.__module__).rsplit(".", 1)[-1]
    with redis_server(None) as url:
        entry = run_section(name, profile, url)
    if entry["status"] != "ok":
        print(entry.get("traceback") or entry.get("error"), file=sys.stderr)
        raise SystemExit(1)
    print("\n".join(section_markdown(entry)))
    raise SystemExit(1 if any(f.get("passed") is False for f in entry["figures"]) else 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--mode", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmarks/results/<mode>-<timestamp>)")
    parser.add_argument("--update-readme", action="store_true", help="regenerate the README's performance section")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION", help="run only these sections")
    parser.add_argument("--cache-dir", type=Path, help="embedding cache (default: benchmarks/results/cache)")
    args = parser.parse_args(argv)
    if args.update_readme and args.only:
        parser.error("--update-readme needs every section (the README section is the whole picture)")
    out = args.out or RESULTS / f"{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    run = run_all(
        args.mode,
        out,
        sections=args.only or SECTIONS,
        cache_dir=args.cache_dir,
        update_readme=args.update_readme,
        command=command.strip(),
    )
    failed = [f"{s['module']}: {f['name']}" for s in run["sections"] for f in s["figures"] if f["passed"] is False]
    errors = [s["module"] for s in run["sections"] if s["status"] == "error"]
    print(f"wrote {out}/results.md ({run['seconds']} s); targets missed: {len(failed)}; section errors: {errors or 0}")
    for line in failed:
        print(f"  FAIL {line}")
    return 1 if errors else 0  # a missed target is a finding; a section that could not run is a broken harness


if __name__ == "__main__":
    sys.exit(main())
