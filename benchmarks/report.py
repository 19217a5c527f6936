"""The one interface every benchmark section speaks, and the markdown written from it.

A section module has ``run(quick: bool, redis_url: str) -> SectionResult``:

``{"title": str, "figures": [Figure, ...], "series": {name: [float, ...]}, "notes": [str, ...]}``

where a :class:`Figure` is ``{"name", "value", "unit", "ratio", "target", "passed"}``. ``ratio`` is the value
against the baseline measured *in the same run* (raw redis-py, the embedder alone...), because absolute times on a
shared 2-core machine move with the neighbours while ratios measured side by side do not. ``target`` says what is
promised (``"<= 1.15x raw p50"``) and ``passed`` whether this run kept the promise; both are ``None`` for figures
that only inform. An optional ``summary: bool`` puts an informative figure into the README table too (figures with a
target always go there).

``series`` carries raw samples for the plots, by name prefix (see :mod:`benchmarks.plots`):
``latency_ms:<label>`` latencies (a CDF per section), ``qps:<label>`` ``[1 process, 2 processes]``,
``ingest_per_s:<label>`` ``[records/s]``. Other names are kept in the JSON but not plotted.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from typing_extensions import NotRequired


class Figure(TypedDict):
    name: str
    value: float
    unit: str
    ratio: float | None
    target: str | None
    passed: bool | None
    summary: NotRequired[bool]


class SectionResult(TypedDict):
    title: str
    figures: list[Figure]
    series: dict[str, list[float]]
    notes: list[str]


README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    ratio: float | None = None,
    target: str | None = None,
    passed: bool | None = None,
    summary: bool = False,
) -> Figure:
    """An informative figure (or one whose verdict the caller computed)."""
    out = Figure(
        name=name,
        value=float(value),
        unit=unit,
        ratio=None if ratio is None else float(ratio),
        target=target,
        passed=passed,
    )
    if summary:
        out["summary"] = True
    return out


def at_most(name: str, value: float, unit: str, ratio: float, limit: float, baseline: str) -> Figure:
    """A figure whose ratio to ``baseline`` must stay at or below ``limit`` (e.g. latency vs raw)."""
    return figure(name, value, unit, ratio=ratio, target=f"<= {limit:g}x {baseline}", passed=bool(ratio <= limit))


def at_least(name: str, value: float, unit: str, ratio: float, limit: float, baseline: str) -> Figure:
    """A figure whose ratio to ``baseline`` must reach ``limit`` (e.g. throughput vs raw)."""
    return figure(name, value, unit, ratio=ratio, target=f">= {limit:g}x {baseline}", passed=bool(ratio >= limit))


def section(
    title: str,
    figures: Sequence[Figure],
    series: Mapping[str, Sequence[float]] | None = None,
    notes: Iterable[str] = (),
) -> SectionResult:
    return SectionResult(
        title=title,
        figures=list(figures),
        series={k: [float(x) for x in v] for k, v in (series or {}).items()},
        notes=list(notes),
    )


def validate(result: Any, module: str) -> SectionResult:
    """``result`` checked against the interface; a clear ``ValueError`` naming ``module`` otherwise.

    Sections written by other people land in one report: a malformed one must fail loudly in the report, not
    silently drop figures or crash the markdown writer halfway.
    """
    if not isinstance(result, Mapping):
        raise ValueError(f"{module}.run() returned {type(result).__name__}, expected a dict")
    missing = {"title", "figures"} - set(result)
    if missing:
        raise ValueError(f"{module}.run() result lacks {sorted(missing)}")
    figures = []
    for i, f in enumerate(result["figures"]):
        lacking = {"name", "value", "unit"} - set(f)
        if lacking:
            raise ValueError(f"{module}.run() figure {i} lacks {sorted(lacking)}")
        try:
            value = float(f["value"])
            ratio = None if f.get("ratio") is None else float(f["ratio"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{module}.run() figure {f['name']!r}: value / ratio must be numbers: {exc}") from exc
        passed = f.get("passed")
        if passed is not None and not isinstance(passed, bool):
            raise ValueError(f"{module}.run() figure {f['name']!r}: passed must be a bool or None, got {passed!r}")
        fig = figure(str(f["name"]), value, str(f["unit"]), ratio=ratio, target=f.get("target"), passed=passed)
        if f.get("summary"):
            fig["summary"] = True
        figures.append(fig)
    series = result.get("series") or {}
    if not isinstance(series, Mapping):
        raise ValueError(f"{module}.run() series must be a dict of lists of numbers")
    return section(str(result["title"]), figures, series, [str(n) for n in result.get("notes") or []])


# --- markdown -------------------------------------------------------------------------------------------------


def fmt(x: float | None) -> str:
    """Three significant digits, no exponent for the magnitudes we report."""
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{min(digits, 4)}f}"


def verdict(passed: bool | None) -> str:
    return "" if passed is None else ("PASS" if passed else "**FAIL**")


def _value(f: Figure) -> str:
    return f"{fmt(f['value'])} {f['unit']}".strip()


def _ratio(f: Figure) -> str:
    return "" if f["ratio"] is None else f"{fmt(f['ratio'])}x"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def machine_line(machine: Mapping[str, Any]) -> str:
    load = machine.get("load_before", [0.0])[0], machine.get("load_after", [0.0])[0]
    redis = machine.get("redis", {})
    modules = ", ".join(f"{m} {v}" for m, v in sorted(redis.get("modules", {}).items()))
    return (
        f"{machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores, "
        f"{fmt(machine.get('ram_gib'))} GiB RAM, load (1 min) {load[0]:.2f} before / {load[1]:.2f} after; "
        f"Redis {redis.get('version', '?')} ({modules}); Python {machine.get('python', '?')}; "
        f"commit {machine.get('git_commit', '?')}"
    )


def section_markdown(s: Mapping[str, Any]) -> list[str]:
    """One section of the full report: where it came from, its figures table, its notes, or its error."""
    load = s.get("load_before", 0.0), s.get("load_after", 0.0)
    lines = [
        f"## {s['title']}",
        "",
        f"`benchmarks/{s['module']}.py`, {fmt(s.get('seconds'))} s, load {load[0]:.2f} -> {load[1]:.2f}.",
        "",
    ]
    if s["status"] != "ok":
        lines += [f"**{s['status'].upper()}**: {s.get('error') or ''}".rstrip(), ""]
    if s.get("figures"):
        lines += ["| figure | value | ratio | target | verdict |", "|---|---|---|---|---|"]
        for f in s["figures"]:
            target = _cell(f["target"] or "")
            lines.append(f"| {_cell(f['name'])} | {_value(f)} | {_ratio(f)} | {target} | {verdict(f['passed'])} |")
        lines.append("")
    lines += [f"- {n}" for n in s.get("notes", [])]
    if s.get("notes"):
        lines.append("")
    return lines


def results_markdown(run: Mapping[str, Any], plots: Sequence[Path]) -> str:
    """The full report: every section's figures, notes, errors and the machine it ran on."""
    machine = run["machine"]
    lines = [
        f"# Benchmarks: {run['mode']} mode, {run['started']}",
        "",
        f"Command: `{run['command']}`; {fmt(run['seconds'])} s in all. Every engine ran side by side on one "
        f"Redis ({run['redis']}); ratios compare figures measured in the same run, so machine noise hits both sides.",
        "",
        f"Machine: {machine_line(machine)}.",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in sorted(machine.get("packages", {}).items())) + ".",
        "",
    ]
    failed = [(s["title"], f["name"]) for s in run["sections"] for f in s.get("figures", []) if f["passed"] is False]
    checked = sum(1 for s in run["sections"] for f in s.get("figures", []) if f["passed"] is not None)
    lines += [f"**Targets: {checked - len(failed)} of {checked} met.**", ""]
    for s in run["sections"]:
        lines += section_markdown(s)
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    return "\n".join(lines)


def readme_markdown(run: Mapping[str, Any], results_dir: str, plots: Sequence[Path]) -> str:
    """The README's performance section: every figure with a target, plus the ones a section marked ``summary``."""
    machine = run["machine"]
    intro = (
        f"Generated by `make bench` ({run['mode']} mode, {run['started']}); regenerate with "
        "`make bench` (quick, minutes) or `make bench MODE=full` (the big figures). Every engine ran side by side "
        "on one Redis, interleaved query by query: read the **ratios**, measured within one run, not the absolute "
        f"times of a shared machine. Machine: {machine_line(machine)}. Full report, raw samples and plots: "
        f"[`{results_dir}/results.md`]({results_dir}/results.md)."
    )
    lines = [README_START, "## Performance", "", *_wrap(intro), ""]
    lines += [
        "| section | figure | value | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for s in run["sections"]:
        shown = [f for f in s.get("figures", []) if f["target"] is not None or f.get("summary")]
        if s["status"] != "ok" and not shown:
            reason = _cell((s.get("error") or "").splitlines()[0][:140] if s.get("error") else "")
            lines.append(
                f"| **{_cell(s['title'])}** | {s['status']} (`benchmarks/{s['module']}.py`) | {reason} | | | |"
            )
        for i, f in enumerate(shown):
            title = f"**{_cell(s['title'])}**" if i == 0 else ""
            lines.append(
                f"| {title} | {_cell(f['name'])} | {_value(f)} | {_ratio(f)} | "
                f"{_cell(f['target'] or '')} | {verdict(f['passed'])} |"
            )
    checked = [f for s in run["sections"] for f in s.get("figures", []) if f["passed"] is not None]
    outro = (
        f"{sum(bool(f['passed']) for f in checked)} of {len(checked)} targets met. The ratio is to the baseline the "
        "target or the figure names, measured in the same run (raw FT.SEARCH on the same index, raw pipelined "
        "HSET, the embedder alone, vector R@1...); for recall and precision it is the fraction itself."
    )
    lines += ["", *_wrap(outro)]
    if plots:
        lines += ["", *_wrap("Plots: " + ", ".join(f"[{p.stem}]({results_dir}/{p.name})" for p in plots) + ".")]
    lines += ["", README_END]
    return "\n".join(lines)


def _wrap(text: str) -> list[str]:
    """README prose wrapped as the hand-written parts are (120 columns), never breaking a link or a code span."""
    glued = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\x00"), text)  # code spans stay on one line
    lines = textwrap.wrap(glued, width=118, break_long_words=False, break_on_hyphens=False)
    return [line.replace("\x00", " ") for line in lines]


def splice_readme(readme: str, section_md: str) -> str:
    """``readme`` with the text between the markers replaced by ``section_md`` (which includes the markers).

    Without markers, the hand-written ``## Performance`` section (up to the next ``## `` heading) is replaced, once:
    after that the markers are there. Anything else in the README is left alone.
    """
    if README_START in readme and README_END in readme:
        head, rest = readme.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        return head + section_md + tail
    match = re.search(r"^## Performance.*?(?=^## )", readme, flags=re.S | re.M)
    if match is None:
        raise ValueError(f"README has neither {README_START} markers nor a '## Performance' section to replace")
    return readme[: match.start()] + section_md + "\n\n" + readme[match.end() :]
