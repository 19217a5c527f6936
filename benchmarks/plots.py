"""PNG plots of a run, from the sections' ``series`` (names by prefix, see :mod:`benchmarks.report`):

- ``latency_cdf_<section>.png``: one CDF per section that has ``latency_ms:<label>`` series (log-scaled time axis:
  the tail is the interesting part);
- ``qps_<section>.png``: ``qps:<label>`` as grouped bars at 1 and 2 client processes;
- ``ingest_<section>.png``: ``ingest_per_s:<label>`` as bars.

Small on purpose (low dpi, no embedded fonts beyond the default) so a run's plots can be committed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI or benchmark machines

import matplotlib.pyplot as plt
import numpy as np

DPI = 72


def _save(fig: Any, path: Path) -> None:
    """A palette PNG (64 colours): line plots lose nothing visible and shrink about three-fold, so runs can be
    committed."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=64).save(path, optimize=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def _by_prefix(series: Mapping[str, Sequence[float]], prefix: str) -> dict[str, Sequence[float]]:
    return {name[len(prefix) :]: values for name, values in series.items() if name.startswith(prefix) and values}


def latency_cdf(title: str, series: Mapping[str, Sequence[float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (label, values) in enumerate(sorted(series.items(), key=lambda kv: float(np.median(kv[1])))):
        x = np.sort(np.asarray(values, dtype=float))
        style = ("-", "--", ":")[i // 10 % 3]  # the colour cycle has 10 colours: tell the 11th from the 1st
        y = np.arange(1, len(x) + 1) / len(x)
        ax.step(x, y, where="post", linestyle=style, label=f"{label} (p50 {np.median(x):.3g} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of calls")
    ax.set_title(f"{title}: latency CDF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, path)


def qps_bars(title: str, series: Mapping[str, Sequence[float]], path: Path) -> None:
    labels = list(series)
    y = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    for i, procs in enumerate((1, 2)):
        values = [series[label][i] if len(series[label]) > i else 0.0 for label in labels]
        bars = ax.barh(y + (i - 0.5) * 0.4, values, height=0.4, label=f"{procs} client process{'es' * (procs > 1)}")
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("queries per second")
    ax.set_title(f"{title}: queries per second (one Redis, 2 shared cores)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def ingest_bars(title: str, series: Mapping[str, Sequence[float]], path: Path) -> None:
    labels = list(series)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5))
    bars = ax.barh(labels, [series[label][0] for label in labels], height=0.6)
    ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("records per second")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def write_all(sections: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """Every plot the sections' series allow, one per section and kind (figures of different sections were
    measured differently and do not share an axis), into ``out``; returns their paths."""
    paths: list[Path] = []
    for s in sections:
        series = s.get("series") or {}
        slug = _slug(s["module"])
        latencies = {k: v for k, v in _by_prefix(series, "latency_ms:").items() if len(v) >= 5}
        if latencies:
            paths.append(out / f"latency_cdf_{slug}.png")
            latency_cdf(s["title"], latencies, paths[-1])
        qps = _by_prefix(series, "qps:")
        if qps:
            paths.append(out / f"qps_{slug}.png")
            qps_bars(s["title"], qps, paths[-1])
        ingest = _by_prefix(series, "ingest_per_s:")
        if ingest:
            paths.append(out / f"ingest_{slug}.png")
            ingest_bars(s["title"], ingest, paths[-1])
    return paths
