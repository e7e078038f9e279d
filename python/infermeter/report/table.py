"""The summary table of a report: one row per measured point, with its cost
against the baseline (the first results given) where both are priced."""

from __future__ import annotations

import pandas as pd

from infermeter.frame import POINT_COLUMNS, measured

HEADERS = {"instance": "instance", "model": "model", "variant": "variant", "precision": "precision",
           "batch_size": "batch", "threads": "threads", "inferences_per_s": "inferences/s", "p50_ms": "p50 ms",
           "p95_ms": "p95 ms", "launch_p50_ms": "launch p50 ms", "cost_per_million": "$/1M", "benefit": "cost vs baseline", "weights": "weights"}


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
    return table.sort_values([HEADERS[c] for c in ("model", "variant", "precision", "batch_size", "threads")
                              if HEADERS[c] in table], ignore_index=True, kind="stable")


def failures(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame[frame["status"] != "ok"]
    shown = bad[["model", "variant", "precision", "batch_size", "threads", "status", "error"]].rename(
        columns={"batch_size": "batch"})
    # The full message stays in the results file.
    return shown.assign(error=shown["error"].map(lambda e: e if len(e) <= 160 else e[:157] + "..."))


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers rounded as they are read: throughput to 0.1, latency to µs,
    cost to 5 significant digits."""
    out = table.copy()
    for column, fmt in (("inferences/s", "{:.1f}"), ("p50 ms", "{:.3f}"), ("p95 ms", "{:.3f}"),
                        ("launch p50 ms", "{:.3f}"), ("$/1M", "{:.5g}"),
                        ("cost vs baseline", "{:.3f}")):
        if column in out:
            out[column] = out[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    return out
