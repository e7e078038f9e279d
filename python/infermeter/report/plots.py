"""The report's figures, drawn with matplotlib off-screen; each comes back
as PNG bytes with its title."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from infermeter.analysis import knee_batch  # noqa: E402
from infermeter.frame import measured, series_label  # noqa: E402
from infermeter.units import duration_unit  # noqa: E402

PERCENTILES = np.array([0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99])
# Completions per plotted point of throughput over time: a count of n varies by
# about sqrt(n) from chance alone (±18% at 30), so fewer would plot noise.
MIN_COMPLETIONS = 30


def _finished(fig, ax, xlabel: str, ylabel: str) -> bytes:
    """Labels, grid and legend as every figure has them, as PNG bytes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _series(frame: pd.DataFrame):
    ok = measured(frame)
    for label, group in ok.groupby(ok.apply(series_label, axis=1), sort=False):
        yield label, group.sort_values("batch_size")


def _per_batch(frame: pd.DataFrame, column: str, ylabel: str, mark_knee: bool = False, scale: float = 1.0) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, g in _series(frame):
        if g[column].isna().all():
            continue
        (line,) = ax.plot(g["batch_size"], g[column] / scale, marker="o", label=label)
        knee = knee_batch(g["batch_size"], g["inferences_per_s"]) if mark_knee else None
        if knee is not None:
            y = g.loc[g["batch_size"] == knee, column].iloc[0] / scale
            ax.plot([knee], [y], marker="*", markersize=16, color=line.get_color(), linestyle="none")
            ax.annotate(f"knee: batch {knee}", (knee, y), textcoords="offset points", xytext=(6, -14), fontsize=8)
    batches = sorted(measured(frame)["batch_size"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    return _finished(fig, ax, "batch size", ylabel)


def _latency_scale(frame: pd.DataFrame, column: str) -> tuple[str, float]:
    """(unit, divisor from ms) for an axis of the column's latencies."""
    slowest = measured(frame)[column].max()
    if pd.isna(slowest):
        return "ms", 1.0
    unit, scale_ns = duration_unit(float(slowest) * 1e6)
    return unit, scale_ns / 1e6


def throughput_vs_latency(frame: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    unit, scale = _latency_scale(frame, "p95_ms")
    for label, g in _series(frame):
        ax.plot(g["p95_ms"] / scale, g["inferences_per_s"], marker="o", label=label)
        for _, row in g.iterrows():
            ax.annotate(f"b{row['batch_size']}", (row["p95_ms"] / scale, row["inferences_per_s"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    return _finished(fig, ax, f"p95 latency ({unit})", "inferences/s")


def latency_distribution(chosen: pd.DataFrame) -> bytes:
    """Latency by percentile on HdrHistogram's usual axis, 1 / (1 - p), in
    the unit that suits the slowest point drawn."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = 1.0 / (1.0 - PERCENTILES / 100.0)
    curves = [(f"{series_label(row)} b{row['batch_size']}",
               np.array([row["result"].histogram.get_value_at_percentile(p) for p in PERCENTILES], dtype=float))
              for _, row in chosen.iterrows()]
    unit, scale = duration_unit(max(float(ns.max()) for _, ns in curves))
    for label, ns in curves:
        ax.plot(x, ns / scale, marker=".", label=label)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{p:g}%" for p in PERCENTILES], fontsize=7)
    ax.minorticks_off()
    return _finished(fig, ax, "percentile", f"latency ({unit})")


def throughput_timeline(completions, window_s: float, batch_size: int,
                        min_completions: int = MIN_COMPLETIONS) -> tuple[np.ndarray, np.ndarray]:
    """(time of each bin's middle in s, inferences/s in it): the engine's
    fixed windows merged k at a time, k the fewest windows that hold
    `min_completions` requests at the run's mean rate. A last, shorter bin
    is divided by its own length."""
    counts = np.asarray(completions, dtype=float)
    if counts.size == 0 or counts.sum() == 0:
        return np.zeros(0), np.zeros(0)
    k = max(1, int(np.ceil(min_completions / counts.mean())))
    starts = np.arange(0, counts.size, k)
    sums = np.add.reduceat(counts, starts)
    widths = np.minimum(k, counts.size - starts) * window_s
    return starts * window_s + widths / 2, sums * batch_size / widths


def throughput_over_time(chosen: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for _, row in chosen.iterrows():
        r = row["result"]
        t, rate = throughput_timeline(r.completions, r.window_s, row["batch_size"])
        ax.plot(t, rate, marker=".", label=f"{series_label(row)} b{row['batch_size']}")
    ax.set_ylim(bottom=0)
    return _finished(fig, ax, f"time since measuring began (s; about {MIN_COMPLETIONS} requests a point)",
                     "inferences/s")


def figures(frame: pd.DataFrame, chosen: pd.DataFrame) -> list[tuple[str, str, bytes]]:
    """(file stem, title, PNG) of every figure the data allows."""
    unit, scale = _latency_scale(frame, "p95_ms")
    out = [("throughput_vs_latency", "Throughput against p95 latency (each point a batch size)",
            throughput_vs_latency(frame)),
           ("throughput_vs_batch", "Throughput against batch size, knee marked",
            _per_batch(frame, "inferences_per_s", "inferences/s", mark_knee=True)),
           ("latency_vs_batch", "p95 latency against batch size",
            _per_batch(frame, "p95_ms", f"p95 latency ({unit})", scale=scale))]
    if measured(frame)["cost_per_million"].notna().any():
        out.append(("cost_vs_batch", "Cost per million inferences against batch size (priced as in the table)",
                    _per_batch(frame, "cost_per_million", "$ per million inferences")))
    if not chosen.empty:
        out += [("latency_distribution", "Latency percentile distribution of the chosen points",
                 latency_distribution(chosen)),
                ("throughput_over_time", "Throughput over time of the chosen points", throughput_over_time(chosen))]
    return out
