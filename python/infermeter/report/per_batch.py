"""Figures against batch size: one line per capacity series (closed-loop
peaks and fixed-batch find-rate answers, named by frame.curve_label), batch
sizes on a log2 axis."""

from __future__ import annotations

import pandas as pd

from infermeter.analysis import knee_batch
from infermeter.frame import curve_label
from infermeter.report.canvas import finished, new_figure

# A series' second column (peak memory: host beside device) is dashed, in the series' colour.
LINE_STYLES = ("-", "--", ":")


def series(capacity: pd.DataFrame):
    for label, group in capacity.groupby(capacity.apply(curve_label, axis=1), sort=False):
        yield label, group.sort_values("batch_size")


def per_batch(capacity: pd.DataFrame, columns: dict[str, str], ylabel: str, mark_knee: bool = False,
              scale: float = 1.0, error_bars: tuple[str, str] | None = None) -> bytes:
    """`columns` (column -> what follows the series label in the legend)
    against batch size, each divided by `scale`; a column a series never
    measured draws nothing. With `mark_knee`, each series' throughput knee is
    starred on its first column. `error_bars`: the (lo, hi) columns of the
    first column's interval, drawn where a point states one."""
    fig, ax = new_figure()
    for label, g in series(capacity):
        color = None
        for i, ((column, suffix), style) in enumerate(zip(columns.items(), LINE_STYLES)):
            if g[column].isna().all():
                continue
            (line,) = ax.plot(g["batch_size"], g[column] / scale, marker="o", linestyle=style, color=color,
                              label=label + suffix)
            color = line.get_color()
            if error_bars and i == 0:
                _error_bars(ax, g, column, error_bars, scale, color)
        knee = knee_batch(g["batch_size"], g["inferences_per_s"]) if mark_knee and color else None
        if knee is not None:
            y = g.loc[g["batch_size"] == knee, next(iter(columns))].iloc[0] / scale
            ax.plot([knee], [y], marker="*", markersize=16, color=color, linestyle="none")
            ax.annotate(f"knee: batch {knee}", (knee, y), textcoords="offset points", xytext=(6, -14), fontsize=8)
    batches = sorted(capacity["batch_size"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    return finished(fig, ax, "batch size", ylabel)


def _error_bars(ax, g: pd.DataFrame, column: str, bounds: tuple[str, str], scale: float, color) -> None:
    # Drawn from the bounds themselves: a repeated point's interval is for the runs' mean, while its
    # figure is the median run, which need not sit at the interval's centre (or inside it).
    stated = g.dropna(subset=list(bounds))
    if stated.empty:
        return
    ax.vlines(stated["batch_size"], stated[bounds[0]] / scale, stated[bounds[1]] / scale, colors=color)
    for end in bounds:
        ax.plot(stated["batch_size"], stated[end] / scale, marker="_", markersize=8, linestyle="none", color=color)
