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

PERCENTILES = np.array([0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99])


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


def _per_batch(frame: pd.DataFrame, column: str, ylabel: str, mark_knee: bool = False) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, g in _series(frame):
        if g[column].isna().all():
            continue
        (line,) = ax.plot(g["batch_size"], g[column], marker="o", label=label)
        knee = knee_batch(g["batch_size"], g["inferences_per_s"]) if mark_knee else None
        if knee is not None:
            y = g.loc[g["batch_size"] == knee, column].iloc[0]
            ax.plot([knee], [y], marker="*", markersize=16, color=line.get_color(), linestyle="none")
            ax.annotate(f"knee: batch {knee}", (knee, y), textcoords="offset points", xytext=(6, -14), fontsize=8)
    batches = sorted(measured(frame)["batch_size"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    return _finished(fig, ax, "batch size", ylabel)


def throughput_vs_latency(frame: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, g in _series(frame):
        ax.plot(g["p95_ms"], g["inferences_per_s"], marker="o", label=label)
        for _, row in g.iterrows():
            ax.annotate(f"b{row['batch_size']}", (row["p95_ms"], row["inferences_per_s"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    return _finished(fig, ax, "p95 latency (ms)", "inferences/s")


def latency_distribution(chosen: pd.DataFrame) -> bytes:
    """Latency by percentile on HdrHistogram's usual axis, 1 / (1 - p)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = 1.0 / (1.0 - PERCENTILES / 100.0)
    for _, row in chosen.iterrows():
        values = [row["result"].histogram.get_value_at_percentile(p) / 1e6 for p in PERCENTILES]
        ax.plot(x, values, marker=".", label=f"{series_label(row)} b{row['batch_size']}")
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{p:g}%" for p in PERCENTILES], fontsize=7)
    ax.minorticks_off()
    return _finished(fig, ax, "percentile", "latency (ms)")


def throughput_over_time(chosen: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for _, row in chosen.iterrows():
        r = row["result"]
        rate = np.array(r.completions) * row["batch_size"] / r.window_s
        ax.plot(np.arange(len(rate)) * r.window_s, rate, label=f"{series_label(row)} b{row['batch_size']}")
    return _finished(fig, ax, "time since measuring began (s)", "inferences/s")


def figures(frame: pd.DataFrame, chosen: pd.DataFrame) -> list[tuple[str, str, bytes]]:
    """(file stem, title, PNG) of every figure the data allows."""
    out = [("throughput_vs_latency", "Throughput against p95 latency (each point a batch size)",
            throughput_vs_latency(frame)),
           ("throughput_vs_batch", "Throughput against batch size, knee marked",
            _per_batch(frame, "inferences_per_s", "inferences/s", mark_knee=True)),
           ("latency_vs_batch", "p95 latency against batch size", _per_batch(frame, "p95_ms", "p95 latency (ms)"))]
    if measured(frame)["cost_per_million"].notna().any():
        out.append(("cost_vs_batch", "Cost per million inferences against batch size",
                    _per_batch(frame, "cost_per_million", "$ per million inferences")))
    if not chosen.empty:
        out += [("latency_distribution", "Latency percentile distribution of the chosen points",
                 latency_distribution(chosen)),
                ("throughput_over_time", "Throughput over time of the chosen points", throughput_over_time(chosen))]
    return out
