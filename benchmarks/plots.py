"""PNG plots of a run, from the sections' ``series`` (names by prefix, see :mod:`benchmarks.report`):

- ``latency_cdf_<section>.png``: one CDF per section that has ``latency_ms:<label>`` series (log-scaled time axis:
  the tail is the interesting part);
- ``qps.png``: ``qps:<label>`` as grouped bars at 1 and 2 client processes;
- ``ingest_throughput.png``: ``ingest_per_s:<label>`` as bars.

Small on purpose (low dpi, no embedded fonts beyond the default) so a run's plots can be committed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI or benchmark machines

import matplotlib.pyplot as plt
import numpy as np

DPI = 72


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def _by_prefix(series: Mapping[str, Sequence[float]], prefix: str) -> dict[str, Sequence[float]]:
    return {name[len(prefix) :]: values for name, values in series.items() if name.startswith(prefix) and values}


def latency_cdf(title: str, series: Mapping[str, Sequence[float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, values in sorted(series.items(), key=lambda kv: float(np.median(kv[1]))):
        x = np.sort(np.asarray(values, dtype=float))
        ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=f"{label} (p50 {np.median(x):.3g} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of calls")
    ax.set_title(f"{title}: latency CDF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def qps_bars(series: Mapping[str, Sequence[float]], path: Path) -> None:
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
    ax.set_title("Query throughput (one Redis, 2 shared cores)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def ingest_bars(series: Mapping[str, Sequence[float]], path: Path) -> None:
    labels = list(series)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5))
    bars = ax.barh(labels, [series[label][0] for label in labels], height=0.6)
    ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("records per second (precomputed vectors)")
    ax.set_title("Ingestion throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def write_all(sections: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """Every plot the sections' series allow, into ``out``; returns their paths."""
    paths: list[Path] = []
    qps: dict[str, Sequence[float]] = {}
    ingest: dict[str, Sequence[float]] = {}
    for s in sections:
        series = s.get("series") or {}
        latencies = {k: v for k, v in _by_prefix(series, "latency_ms:").items() if len(v) >= 5}
        if latencies:
            path = out / f"latency_cdf_{_slug(s['module'])}.png"
            latency_cdf(s["title"], latencies, path)
            paths.append(path)
        qps.update(_by_prefix(series, "qps:"))
        ingest.update(_by_prefix(series, "ingest_per_s:"))
    if qps:
        paths.append(out / "qps.png")
        qps_bars(qps, paths[-1])
    if ingest:
        paths.append(out / "ingest_throughput.png")
        ingest_bars(ingest, paths[-1])
    return paths
