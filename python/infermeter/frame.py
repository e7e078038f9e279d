"""Sweep results as a pandas DataFrame: one row per point (its newest record),
with throughput, latency percentiles and, where the instance is known, cost:
by default the share of the instance the run held (one GPU of a p4d.24xlarge
is 1/8 of its price), or whole instances with pricing="instance"."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from infermeter.cost import PRICINGS, cost_per_million, devices_used, load_catalog
from infermeter.reporters import DEFAULT_RUNNER
from infermeter.result import Result
from infermeter.sweep.store import ResultsFile, results_path

POINT_COLUMNS = ["model", "variant", "runner", "precision", "batch_size", "threads"]
WHOLE = "whole instance"


def _model_label(model: str) -> str:
    return Path(model).name if model.endswith((".pt", ".pth", ".ts")) else model


def _priced(row: dict, record: dict, catalog, pricing: str) -> dict:
    """Hourly price of what the run held, and how it was priced."""
    share = None
    if pricing == "share" and row["instance"] and record["result"] is not None:
        share = catalog.share(row["instance"], devices_used(record["result"], record["sweep"]["settings"]))
    fraction = share.fraction if share else 1.0
    return {"priced_as": (str(share) if share else WHOLE) if row["instance"] else None, "share": fraction,
            "share_price_per_hour": row["price_per_hour"] * fraction}


def _row(record: dict, source: Path, catalog, pricing: str) -> dict:
    p = record["point"]
    row = {"source": str(source), "sweep": record["sweep"]["name"], "key": record["key"],
           "series": record["series"], "status": record["status"], "error": record["error"],
           "model": _model_label(p["model"]), "variant": " ".join(f"{k} {v}" for k, v in sorted(p["variant"].items())),
           "runner": p.get("runner") or DEFAULT_RUNNER, "precision": p["precision"], "batch_size": p["batch_size"],
           "threads": p["threads"], "instance": record.get("instance"), "device": record["sweep"]["settings"]["device"],
           "sla": record["sweep"]["settings"].get("sla"), "result": None}
    row["price_per_hour"] = catalog.price(row["instance"]) if row["instance"] else math.nan
    row |= _priced(row, record, catalog, pricing)
    if record["status"] != "ok":
        return row
    result = Result(record["result"])
    export = result.model.get("export") or {}
    if row["precision"] == "as-exported" and export.get("precision"):
        row["precision"] = export["precision"]
    row |= {"result": result, "runner": result.config.get("runner") or row["runner"],
            "device_name": result.environment.get("device_name"), "weights": export.get("weights"),
            "inferences_per_s": result.inferences_per_s}
    # A run that measured no request (it stopped first) has no latencies and no cost.
    if record["result"]["latency"]["host"] is not None:
        lat = result.latency
        row |= {"mean_ms": lat.mean, "p50_ms": lat.p50, "p90_ms": lat.p90, "p95_ms": lat.p95, "p99_ms": lat.p99,
                "launch_p50_ms": result.launch_latency.p50 if result.launch_latency else math.nan}
    price = row["share_price_per_hour"]
    if result.inferences_per_s > 0 and not math.isnan(price):
        row["cost_per_million"] = cost_per_million(result.inferences_per_s, price)
    return row


def load_results(*paths: str | Path, prices: tuple[str | Path, ...] = (), pricing: str = "share") -> pd.DataFrame:
    """Reads sweep results (results files or sweep folders) into a DataFrame.
    `prices`: price files that override the shipped catalog. `pricing`:
    "share" prices each point by the share of its instance the run held
    (`priced_as` says which, e.g. "1 of 8 GPUs"; see cost.devices_used),
    "instance" by the whole instance."""
    if not paths:
        raise ValueError("give at least one results file or sweep folder")
    if pricing not in PRICINGS:
        raise ValueError(f"pricing must be one of {', '.join(PRICINGS)}, got {pricing!r}")
    catalog = load_catalog(*prices)
    rows = []
    for given in paths:
        path = results_path(given)
        if not path.is_file():
            raise ValueError(f"no sweep results at {given} (looked for {path})")
        rows += [_row(r, path, catalog, pricing) for r in ResultsFile(path).latest().values()]
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
    runner = row.get("runner", DEFAULT_RUNNER)
    parts = [row["instance"] or row["device"], row["model"], row["variant"], "" if runner == DEFAULT_RUNNER else runner,
             row["precision"], f"{row['threads']} thr"]
    return " ".join(str(p) for p in parts if p)
