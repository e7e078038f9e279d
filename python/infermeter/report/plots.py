"""The report's figures, drawn with matplotlib off-screen; each comes back
as PNG bytes with its title. The figures against batch size draw capacities
(closed-loop peaks, fixed-batch find-rate answers; per_batch), memory and
energy among them (resource_plot); runs at chosen rates and dynamic batchers
have their own figures against offered load (load_plot) and of the batches
formed (batch_plot)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from infermeter.frame import capacity_points, point_label
from infermeter.report.batch_plot import batch_distributions, batch_size_distribution
from infermeter.report.canvas import finished, new_figure
from infermeter.report.load_plot import latency_vs_load, load_figure
from infermeter.report.per_batch import per_batch, series
from infermeter.report.resource_plot import resource_figures
from infermeter.units import duration_unit

PERCENTILES = np.array([0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99])
# Completions per plotted point of throughput over time: a count of n varies by
# about sqrt(n) from chance alone (±18% at 30), so fewer would plot noise.
MIN_COMPLETIONS = 30


def _latency_scale(frame: pd.DataFrame, column: str) -> tuple[str, float]:
    """(unit, divisor from ms) for an axis of the column's latencies."""
    slowest = frame[column].max()
    if pd.isna(slowest):
        return "ms", 1.0
    unit, scale_ns = duration_unit(float(slowest) * 1e6)
    return unit, scale_ns / 1e6


def interval_kinds(capacity: pd.DataFrame) -> str:
    """What the error bars are: within one run (how precisely that run is
    known) or across repeated runs (where their mean lies, the figure runs scatter around)."""
    kinds = capacity["interval"].dropna().unique()
    if len(kinds) == 0:
        return "none stated"
    across = [k for k in kinds if str(k).startswith("across")]
    if not across:
        return "within each run: they leave out how far a figure moves from one run to the next"
    return "across repeated runs" if len(across) == len(kinds) else "across runs where repeated, else within the run"


def throughput_vs_latency(capacity: pd.DataFrame) -> bytes:
    fig, ax = new_figure()
    unit, scale = _latency_scale(capacity, "p95_ms")
    for label, g in series(capacity):
        ax.plot(g["p95_ms"] / scale, g["inferences_per_s"], marker="o", label=label)
        for _, row in g.iterrows():
            ax.annotate(f"b{row['batch_size']}", (row["p95_ms"] / scale, row["inferences_per_s"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    return finished(fig, ax, f"p95 latency ({unit})", "inferences/s")


def latency_distribution(chosen: pd.DataFrame) -> bytes:
    """Latency by percentile on HdrHistogram's usual axis, 1 / (1 - p), in
    the unit that suits the slowest point drawn: response time for an
    open-loop point, host latency for a closed-loop one (`Result.judged`).
    Every chosen point must have latencies (see report.chosen_points)."""
    fig, ax = new_figure()
    x = 1.0 / (1.0 - PERCENTILES / 100.0)
    curves = [(point_label(row),
               np.array([row["result"].judged_histogram.get_value_at_percentile(p) for p in PERCENTILES], dtype=float))
              for _, row in chosen.iterrows()]
    unit, scale = duration_unit(max(float(ns.max()) for _, ns in curves))
    for label, ns in curves:
        ax.plot(x, ns / scale, marker=".", label=label)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{p:g}%" for p in PERCENTILES], fontsize=7)
    ax.minorticks_off()
    return finished(fig, ax, "percentile", f"latency ({unit})")


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
    fig, ax = new_figure()
    for _, row in chosen.iterrows():
        r = row["result"]
        t, rate = throughput_timeline(r.completions, r.window_s, row["batch_size"])
        ax.plot(t, rate, marker=".", label=point_label(row))
    ax.set_ylim(bottom=0)
    return finished(fig, ax, f"time since measuring began (s; about {MIN_COMPLETIONS} requests a point)",
                     "inferences/s")


def figures(frame: pd.DataFrame, chosen: pd.DataFrame) -> list[tuple[str, str, bytes]]:
    """(file stem, title, PNG) of every figure the data allows."""
    out = []
    capacity = capacity_points(frame)
    if not capacity.empty:
        unit, scale = _latency_scale(capacity, "p95_ms")
        out += [("throughput_vs_latency", "Throughput against p95 latency (each point a batch size)",
                 throughput_vs_latency(capacity)),
                ("throughput_vs_batch", "Throughput against batch size, knee marked; error bars: the 95% "
                 f"interval each point states ({interval_kinds(capacity)})",
                 per_batch(capacity, {"inferences_per_s": ""}, "inferences/s", mark_knee=True,
                           error_bars=("throughput_lo", "throughput_hi"))),
                ("latency_vs_batch", "p95 latency against batch size",
                 per_batch(capacity, {"p95_ms": ""}, f"p95 latency ({unit})", scale=scale))]
        if capacity["cost_per_million"].notna().any():
            out.append(("cost_vs_batch", "Cost per million inferences against batch size (priced as in the table)",
                        per_batch(capacity, {"cost_per_million": ""}, "$ per million inferences")))
        out += resource_figures(capacity)
    load = load_figure(frame)
    if load.curves:
        out.append(("latency_vs_load", f"Latency against offered load: response {load.percentile_label} at each "
                    "offered rate (fixed batches in an open loop, and dynamic batchers), closed-loop points at 100% "
                    "load", latency_vs_load(load)))
    distributions = batch_distributions(frame)
    if distributions:
        out.append(("batch_sizes", "Batch sizes the dynamic batcher formed: the share of batches of each size "
                    "(items) at each dynamic-batching point", batch_size_distribution(distributions)))
    if not chosen.empty:
        out += [("latency_distribution", "Latency percentile distribution of the chosen points",
                 latency_distribution(chosen)),
                ("throughput_over_time", "Throughput over time of the chosen points", throughput_over_time(chosen))]
    return out
