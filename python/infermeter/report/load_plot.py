"""The figure of latency against offered load: for each configuration whose
requests arrive at a rate (a fixed batch in an open loop, or a dynamic
batcher's settings), response time at one percentile against the offered
rate, from its rates points and its rate search's steps, beside the same
fixed batch's closed-loop points (a closed loop runs at 100% load)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infermeter.frame import BATCHER_COLUMNS, load_setting, measured, series_label
from infermeter.options import DYNAMIC_BATCHING
from infermeter.report.canvas import finished, new_figure
from infermeter.sla import Sla, parse_sla
from infermeter.units import duration_unit

DEFAULT_PERCENTILE = 95.0  # without an SLA to name one
CLOSED_LABEL = "closed loop (100% load)"


@dataclass
class LoadCurve:
    label: str  # the configuration and its load setting ("open loop, batch 8", "dynamic batching, max_batch 8, ...")
    rates: list[float]  # offered requests/s, ascending
    latencies_ms: list[float]  # response time at the percentile; NaN where the samples cannot state it
    closed: list[tuple[float, float]]  # closed-loop runs: (requests/s, host latency at the percentile in ms)
    batching: bool = False  # a dynamic batcher's curve


@dataclass
class LoadFigure:
    percentile: float
    sla: Sla | None  # the one SLA the open-loop points' sweeps name, drawn as a line
    curves: list[LoadCurve]

    @property
    def percentile_label(self) -> str:
        return f"p{self.percentile:g}"


def load_figure(frame: pd.DataFrame) -> LoadFigure:
    """What the figure draws: a curve per fixed batch run in an open loop and
    per dynamic batcher's settings. The percentile is the SLA's when the
    sweeps of the points with arrivals name one SLA, else p95."""
    ok = measured(frame)
    slas = set(ok.loc[ok["load"] != "closed", "sla"].dropna())
    sla = parse_sla(slas.pop()) if len(slas) == 1 else None
    percentile = sla.percentile if sla else DEFAULT_PERCENTILE
    # The percentile as an SLA reads it (response time in an open loop, host
    # latency in a closed one, NaN when unsupported), with no limit to meet.
    at = Sla(percentile, math.inf, True).latency_ms
    curves = []
    if ok.empty:
        return LoadFigure(percentile, sla, curves)
    # A fixed batch's closed and open points share a group (no batcher: NaN settings); each batcher has its own.
    for (label, *_), group in ok.groupby([ok.apply(series_label, axis=1), "batch_size", *BATCHER_COLUMNS],
                                         sort=False, dropna=False):
        opened = group[group["load"] != "closed"]
        if opened.empty:
            continue
        points = []
        for _, row in opened.iterrows():
            search = row["rate_search"]
            if search and parse_sla(search["sla"]).percentile == percentile:
                # Every step of the search, its reported run among them.
                points += [(s["offered_rate_per_s"], math.nan if s["latency_ms"] is None else s["latency_ms"])
                           for s in search["steps"]]
            else:
                points.append((row["offered_rate"], at(row["result"])))
        points.sort()
        closed = [(row["result"].requests_per_s, at(row["result"]))
                  for _, row in group[group["load"] == "closed"].iterrows()]
        curves.append(LoadCurve(f"{label} {load_setting(opened.iloc[0])}", [r for r, _ in points],
                                [ms for _, ms in points], closed, opened.iloc[0]["load"] == DYNAMIC_BATCHING))
    return LoadFigure(percentile, sla, curves)


def latency_vs_load(figure: LoadFigure) -> bytes:
    fig, ax = new_figure()
    values = [ms for c in figure.curves for ms in c.latencies_ms + [ms for _, ms in c.closed]]
    values += [figure.sla.limit_ms] if figure.sla else []
    slowest = max((v for v in values if not math.isnan(v)), default=1.0)
    unit, scale_ns = duration_unit(slowest * 1e6)
    scale = scale_ns / 1e6
    labelled = False
    for c in figure.curves:
        # Dynamic batchers dashed, with squares, so that they read apart from fixed batches.
        (line,) = ax.plot(c.rates, np.array(c.latencies_ms) / scale, label=c.label,
                          **({"marker": "s", "linestyle": "--"} if c.batching else {"marker": "o"}))
        for rate, ms in c.closed:
            ax.plot([rate], [ms / scale], marker="X", markersize=11, linestyle="none", color=line.get_color(),
                    label="_nolegend_" if labelled else CLOSED_LABEL)
            labelled = True
    if figure.sla:
        ax.axhline(figure.sla.limit_ms / scale, color="firebrick", linestyle="--", label=f"SLA {figure.sla}")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    return finished(fig, ax, "offered load (requests/s)", f"response {figure.percentile_label} ({unit})")
