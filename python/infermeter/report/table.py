"""The summary table of a report: one row per measured point, with its cost
against the baseline (the first results given) where both are priced."""

from __future__ import annotations

import re

import pandas as pd

from infermeter.frame import BATCHER_COLUMNS, POINT_COLUMNS, SETUP_COLUMNS, informative, measured
from infermeter.units import format_duration_ms

HEADERS = {"instance": "instance", "model": "model", "variant": "variant", "runner": "runner",
           "precision": "precision", "batch_size": "batch", "threads": "threads", "load_point": "load",
           "max_batch": "max batch", "max_queue_delay_ms": "max delay ms",
           "offered_rate": "offered /s", "achieved_rate": "achieved /s", "sustained": "sustained",
           "mean_batch": "mean batch", "padding": "padding",
           "inferences_per_s": "inferences/s", "throughput_lo": "inf/s lo", "throughput_hi": "inf/s hi",
           "interval": "interval", "repeat_cv": "run CV", "converged": "converged",
           "sla_inferences_per_s": "inf/s within SLA",
           "p50_ms": "p50 ms", "p95_ms": "p95 ms", "launch_p50_ms": "launch p50 ms", "launch_bound": "launch-bound",
           "cost_per_million": "$/1M", "priced_as": "priced as", "benefit": "cost vs baseline",
           "host_peak_mb": "host peak MiB", "device_peak_mb": "device peak MiB", "lower_bound_mb": "lower bound MiB",
           "joules_per_inference": "J/inference", "inferences_per_kwh": "inferences/kWh", "mean_watts": "mean W",
           "energy_meter": "energy from", "weights": "weights"}
# Latency columns ("p95 ms", "p95 ms A" in compare's table) hold milliseconds.
LATENCY_COLUMN = re.compile(r"^(?P<name>.+) ms(?P<side> [AB])?$")
NUMBER_FORMATS = {"inferences/s": "{:.1f}", "inf/s lo": "{:.1f}", "inf/s hi": "{:.1f}", "inf/s within SLA": "{:.1f}",
                  "offered /s": "{:.1f}", "achieved /s": "{:.1f}", "run CV": "{:.1%}", "$/1M": "{:.5g}",
                  "cost vs baseline": "{:.3f}", "cost B/A": "{:.3f}", "max batch": "{:.0f}", "mean batch": "{:.2f}",
                  "padding": "{:.1%}", "host peak MiB": "{:.1f}", "device peak MiB": "{:.1f}",
                  "lower bound MiB": "{:.1f}", "J/inference": "{:.3g}", "inferences/kWh": "{:.3g}", "mean W": "{:.1f}"}
YES_NO = ("sustained", "converged", "launch-bound")
MISSING = "-"  # how formatted shows a value that is not there
# Within a setup: the closed loop, then rates ascending, then the rate search;
# fixed batches before dynamic batchers, these by their settings.
ORDER = ["model", "variant", "runner", "precision", "batch_size", "threads", *BATCHER_COLUMNS, "find_rate",
         "offered_rate"]


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per measured point. Latencies are response time for points
    whose requests arrive at a rate (see frame.load_results). Columns with
    nothing to show (no instance, no price, no GPU launch time, no open loop,
    no dynamic batcher, no repeats, no memory or energy reading) are left out."""
    ok = measured(frame).copy()
    sources = list(dict.fromkeys(ok["source"]))
    if len(sources) > 1:
        baseline = ok[ok["source"] == sources[0]].set_index(POINT_COLUMNS)["cost_per_million"]
        ok["benefit"] = [row.cost_per_million / baseline.get(tuple(row[c] for c in POINT_COLUMNS), float("nan"))
                         for _, row in ok.iterrows()]
    ok = ok.sort_values(ORDER, kind="stable", na_position="first")
    columns = [c for c in HEADERS if c in ok and (c in SETUP_COLUMNS or informative(ok[c]))]
    return ok[columns].rename(columns=HEADERS).reset_index(drop=True)


def failures(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame[frame["status"] != "ok"]
    batcher = [c for c in BATCHER_COLUMNS if informative(bad[c])]
    shown = bad[["model", "variant", "runner", "precision", "batch_size", "threads", "load_point", *batcher, "status",
                 "error"]].rename(columns=HEADERS)
    # The full message stays in the results file.
    return shown.assign(error=shown["error"].map(lambda e: e if len(e) <= 160 else e[:157] + "..."))


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers as they are read: latencies with three significant digits in
    their own unit (the column loses its "ms"), throughput and rates to 0.1,
    CV in percent, cost to 5 significant digits, ratios to 0.001, memory to
    0.1 MiB, energy per inference and per kWh to 3 significant digits, flags as
    yes/no, and a missing value of any column as "-" (as the engine's summary
    shows a percentile its samples cannot state). Works on the summary table
    and on compare's table."""
    out = table.copy()
    renamed = {}
    for column in out.columns:
        latency = LATENCY_COLUMN.match(str(column))
        base = re.sub(r" [AB]$", "", str(column))
        if latency:
            shown = format_duration_ms
            renamed[column] = latency["name"] + (latency["side"] or "")
        elif base in NUMBER_FORMATS:
            shown = NUMBER_FORMATS[base].format
        elif base in YES_NO:
            shown = _yes_no
        else:
            shown = _as_is
        out[column] = out[column].map(lambda v, shown=shown: MISSING if pd.isna(v) else shown(v))
    return out.rename(columns=renamed)


def _yes_no(flag) -> str:
    return "yes" if flag else "no"


def _as_is(value):
    return value
