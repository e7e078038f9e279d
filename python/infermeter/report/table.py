"""The summary table of a report: one row per measured point, with its cost
against the baseline (the first results given) where both are priced."""

from __future__ import annotations

import re

import pandas as pd

from infermeter.frame import POINT_COLUMNS, measured
from infermeter.units import format_duration_ms

HEADERS = {"instance": "instance", "model": "model", "variant": "variant", "runner": "runner",
           "precision": "precision", "batch_size": "batch", "threads": "threads", "inferences_per_s": "inferences/s",
           "p50_ms": "p50 ms", "p95_ms": "p95 ms", "launch_p50_ms": "launch p50 ms", "cost_per_million": "$/1M",
           "priced_as": "priced as", "benefit": "cost vs baseline", "weights": "weights"}
# Latency columns ("p95 ms", "p95 ms A" in compare's table) hold milliseconds.
LATENCY_COLUMN = re.compile(r"^(?P<name>.+) ms(?P<side> [AB])?$")
NUMBER_FORMATS = {"inferences/s": "{:.1f}", "$/1M": "{:.5g}", "cost vs baseline": "{:.3f}", "cost B/A": "{:.3f}"}


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    ok = measured(frame).copy()
    sources = list(dict.fromkeys(ok["source"]))
    if len(sources) > 1:
        baseline = ok[ok["source"] == sources[0]].set_index(POINT_COLUMNS)["cost_per_million"]
        ok["benefit"] = [row.cost_per_million / baseline.get(tuple(row[c] for c in POINT_COLUMNS), float("nan"))
                         for _, row in ok.iterrows()]
    # Columns with nothing to show (no instance, no price, no GPU launch time) are left out.
    columns = [c for c in HEADERS if c in ok and (c in POINT_COLUMNS or ok[c].notna().any())]
    table = ok[columns].rename(columns=HEADERS)
    return table.sort_values([HEADERS[c] for c in ("model", "variant", "runner", "precision", "batch_size", "threads")
                              if HEADERS[c] in table], ignore_index=True, kind="stable")


def failures(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame[frame["status"] != "ok"]
    shown = bad[["model", "variant", "runner", "precision", "batch_size", "threads", "status", "error"]].rename(
        columns={"batch_size": "batch"})
    # The full message stays in the results file.
    return shown.assign(error=shown["error"].map(lambda e: e if len(e) <= 160 else e[:157] + "..."))


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers as they are read: latencies with three significant digits in
    their own unit (the column loses its "ms"), throughput to 0.1, cost to 5
    significant digits, ratios to 0.001. Works on the summary table and on
    compare's table."""
    out = table.copy()
    renamed = {}
    for column in out.columns:
        latency = LATENCY_COLUMN.match(str(column))
        if latency:
            out[column] = out[column].map(lambda v: "" if pd.isna(v) else format_duration_ms(v))
            renamed[column] = latency["name"] + (latency["side"] or "")
            continue
        base = re.sub(r" [AB]$", "", str(column))
        if base in NUMBER_FORMATS:
            out[column] = out[column].map(lambda v, f=NUMBER_FORMATS[base]: "" if pd.isna(v) else f.format(v))
    return out.rename(columns=renamed)
