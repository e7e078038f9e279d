"""Sweep results as a pandas DataFrame: one row per point (its newest record),
with throughput, latency percentiles and, where the instance is known, cost."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from infermeter.cost import cost_per_million, load_catalog
from infermeter.result import Result
from infermeter.sweep.store import ResultsFile, results_path

POINT_COLUMNS = ["model", "variant", "precision", "batch_size", "threads"]


def _model_label(model: str) -> str:
    return Path(model).name if model.endswith((".pt", ".pth", ".ts")) else model


def _row(record: dict, source: Path, catalog) -> dict:
    p = record["point"]
    row = {"source": str(source), "sweep": record["sweep"]["name"], "key": record["key"],
           "series": record["series"], "status": record["status"], "error": record["error"],
           "model": _model_label(p["model"]), "variant": " ".join(f"{k} {v}" for k, v in sorted(p["variant"].items())),
           "precision": p["precision"], "batch_size": p["batch_size"], "threads": p["threads"],
           "instance": record.get("instance"), "device": record["sweep"]["settings"]["device"],
           "sla": record["sweep"]["settings"].get("sla"), "result": None}
    price = catalog.price(row["instance"]) if row["instance"] else math.nan
    row["price_per_hour"] = price
    if record["status"] != "ok":
        return row
    result = Result(record["result"])
    lat = result.latency
    export = result.model.get("export") or {}
    if row["precision"] == "as-exported" and export.get("precision"):
        row["precision"] = export["precision"]
    row |= {"result": result, "device_name": result.environment.get("device_name"), "weights": export.get("weights"),
            "inferences_per_s": result.inferences_per_s, "mean_ms": lat.mean, "p50_ms": lat.p50, "p90_ms": lat.p90,
            "p95_ms": lat.p95, "p99_ms": lat.p99,
            "launch_p50_ms": result.launch_latency.p50 if result.launch_latency else math.nan,
            "cost_per_million": math.nan if math.isnan(price) else cost_per_million(result.inferences_per_s, price)}
    return row


def load_results(*paths: str | Path, prices: tuple[str | Path, ...] = ()) -> pd.DataFrame:
    """Reads sweep results (results files or sweep folders) into a DataFrame.
    `prices`: price files that override the shipped catalog."""
    if not paths:
        raise ValueError("give at least one results file or sweep folder")
    catalog = load_catalog(*prices)
    rows = []
    for given in paths:
        path = results_path(given)
        if not path.is_file():
            raise ValueError(f"no sweep results at {given} (looked for {path})")
        rows += [_row(r, path, catalog) for r in ResultsFile(path).latest().values()]
    frame = pd.DataFrame(rows)
    for column in ("inferences_per_s", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "launch_p50_ms",
                   "cost_per_million",
                   "device_name", "weights"):
        if column not in frame:
            frame[column] = math.nan
    return frame


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"]


def series_label(row) -> str:
    parts = [row["instance"] or row["device"], row["model"], row["variant"], row["precision"], f"{row['threads']} thr"]
    return " ".join(str(p) for p in parts if p)
