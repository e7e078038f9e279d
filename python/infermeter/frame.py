"""Sweep results as a pandas DataFrame: one row per point (its newest record),
with throughput, latency percentiles, the load, memory and energy and, where
the instance is known, cost: by default the share of the instance the run
held (one GPU of a p4d.24xlarge is 1/8 of its price), or whole instances with
pricing="instance"."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from infermeter.intervals import interval_label
from infermeter.cost import PRICINGS, cost_per_million, devices_used, holds_accelerator, load_catalog
from infermeter.options import DYNAMIC_BATCHING
from infermeter.result import Result
from infermeter.sweep.config import MODEL_FILE_SUFFIXES
from infermeter.sweep.grid import DEFAULT_RUNNER, Point, batcher_label
from infermeter.sweep.store import DAMAGE, BadRecord, damage_text, read_results, warn_skipped

# What was measured, the dynamic batcher's settings (NaN under other loads),
# and how requests arrived ("closed", "open 500/s", "find-rate",
# "dynamic-batching 500/s"): a point of a sweep.
SETUP_COLUMNS = ["model", "variant", "runner", "precision", "batch_size", "threads"]
BATCHER_COLUMNS = ["max_batch", "max_queue_delay_ms"]
POINT_COLUMNS = SETUP_COLUMNS + BATCHER_COLUMNS + ["load_point"]
WHOLE = "whole instance"
NUMBER_COLUMNS = ("inferences_per_s", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "launch_p50_ms",
                  "cost_per_million", "offered_rate", "achieved_rate", "sla_rate", "sla_inferences_per_s",
                  "throughput_lo", "throughput_hi", "repeat_cv", *BATCHER_COLUMNS, "mean_batch", "padding",
                  "host_peak_mb", "device_peak_mb", "lower_bound_mb", "joules_per_inference", "inferences_per_kwh",
                  "mean_watts", "host_memory_gib", "device_memory_gib")
OTHER_COLUMNS = ("device_name", "weights", "sustained", "converged", "launch_bound", "rate_search", "energy_meter",
                 "on_accelerator", "interval")
MIB = 2 ** 20


def _model_label(model: str) -> str:
    return Path(model).name if model.endswith(MODEL_FILE_SUFFIXES) else model


def _unmeasured() -> dict:
    """The measured columns of a point with nothing measured. Every row
    carries every column, so that pandas keeps None as None: a column that
    some rows lack is filled with NaN, which reads as true."""
    return dict.fromkeys(NUMBER_COLUMNS, math.nan) | dict.fromkeys(OTHER_COLUMNS)


def _priced(row: dict, used, catalog, pricing: str) -> dict:
    """Hourly price of what the run held (`used`: cost.devices_used), and how it was priced."""
    share = catalog.share(row["instance"], used) if pricing == "share" and row["instance"] else None
    fraction = share.fraction if share else 1.0
    return {"priced_as": (str(share) if share else WHOLE) if row["instance"] else None, "share": fraction,
            "share_price_per_hour": row["price_per_hour"] * fraction}


def _batcher_settings(point: Point) -> dict:
    """A dynamic-batching point's max_batch and max_queue_delay (in ms), from
    the point itself, so that a point without a result still names them."""
    b = point.batcher
    return {"max_batch": b["max_batch"], "max_queue_delay_ms": b["max_queue_delay"] * 1e3} if b else {}


def _batches(result: Result) -> dict:
    """A dynamic-batching run's mean batch (items) and the share of its
    computed items that were padding."""
    batching = result.batching
    return {"mean_batch": batching.mean_batch_items, "padding": batching.padding_fraction} if batching else {}


def _mib(size: int | None) -> float:
    return math.nan if size is None else size / MIB


def _resources(result: Result) -> dict:
    """Memory peaks and the static bound in MiB, and energy from the GPU's
    counter where it was read, else the CPU packages' (`energy_meter` says
    which): results from before either was measured have neither."""
    out = {}
    memory, energy = result.memory, result.energy
    if memory:
        out |= {"host_peak_mb": _mib(memory.host_peak_rss), "device_peak_mb": _mib(memory.device_peak),
                "lower_bound_mb": _mib(memory.lower_bound)}
    meter, reading = (("GPU", energy.gpu) if energy.gpu else ("CPU", energy.cpu)) if energy else (None, None)
    if reading:
        out |= {"energy_meter": meter, "joules_per_inference": reading.joules_per_inference,
                "mean_watts": reading.mean_watts,
                "inferences_per_kwh": math.nan if reading.inferences_per_kwh is None else reading.inferences_per_kwh}
    return out


def _memory_held(row: dict, used, catalog) -> dict:
    """GiB the run may fill, as it is priced: the host memory of its share
    of the instance (eight runs of one GPU each share a p4d's host memory),
    and the memory of the accelerators it held. NaN where the catalog does
    not give it."""
    if not row["instance"]:
        return {}
    host, device = catalog.host_memory_gib(row["instance"]), catalog.accelerator_memory_gib(row["instance"], used)
    return {"host_memory_gib": math.nan if host is None else host * row["share"],
            "device_memory_gib": math.nan if device is None else device}


def _measurement_facts(doc: dict) -> dict:
    """The open loop's rates, the find-rate answer, the throughput interval,
    the run-to-run CV and the statistical stop, as the document states them."""
    m = doc["measurement"]
    load = m.get("load") or {}
    search = doc.get("rate_search")
    interval = m.get("throughput_ci") or {}
    stop = (m.get("stop") or {}).get("rule") or {}
    facts = {"offered_rate": load.get("offered_rate_per_s", math.nan),
             "achieved_rate": load.get("achieved_rate_per_s", math.nan), "sustained": load.get("sustained"),
             "rate_search": search,
             "throughput_lo": interval.get("lo_inferences_per_s", math.nan),
             "throughput_hi": interval.get("hi_inferences_per_s", math.nan),
             "interval": interval_label(doc),
             "repeat_cv": doc["repeats"]["inferences_per_s"]["cv"] if doc.get("repeats") else math.nan,
             "converged": stop.get("converged") if stop.get("rule") == "ci" else None,
             "launch_bound": (m.get("launch_bound") or {}).get("launch_bound")}
    if search:
        facts |= {"sla_rate": search["best_rate_per_s"], "sla_inferences_per_s": search["best_inferences_per_s"]}
    return {k: math.nan if v is None and k in NUMBER_COLUMNS else v for k, v in facts.items()}


def _row(record: dict, source: Path, catalog, pricing: str) -> dict:
    p = record["point"]
    point = Point.from_dict(p)
    settings = record["sweep"]["settings"]
    row = _unmeasured() | {
        "source": str(source), "sweep": record["sweep"]["name"], "key": record["key"], "series": record["series"],
        "status": record["status"], "error": record["error"], "model": _model_label(p["model"]),
        "variant": " ".join(f"{k} {v}" for k, v in sorted(p["variant"].items())),
        "runner": p.get("runner") or DEFAULT_RUNNER, "precision": p["precision"], "batch_size": p["batch_size"],
        "threads": p["threads"], "load": point.load, "load_point": point.load_label,
        "find_rate": point.find_rate, "instance": record.get("instance"),
        "device": settings["device"], "sla": settings.get("sla"),
        "result": None}
    row |= _batcher_settings(point)
    used = devices_used(record["result"], settings) if record["result"] is not None else None
    row["price_per_hour"] = catalog.price(row["instance"]) if row["instance"] else math.nan
    row |= _priced(row, used, catalog, pricing)
    if record["status"] != "ok":
        return row
    result = Result(record["result"])
    export = result.model.get("export") or {}
    if row["precision"] == "as-exported" and export.get("precision"):
        row["precision"] = export["precision"]
    row |= {"result": result, "runner": result.config.get("runner") or row["runner"],
            "device_name": result.environment.get("device_name"), "weights": export.get("weights"),
            "inferences_per_s": result.inferences_per_s}
    row |= _measurement_facts(record["result"]) | _batches(result) | _resources(result)
    row["on_accelerator"] = holds_accelerator(record["result"], settings)
    row |= _memory_held(row, used, catalog)
    # A run that measured no request (it stopped first) has no latencies and no cost.
    lat = result.judged_latency
    if lat is not None:
        row |= {"mean_ms": lat.mean, "p50_ms": lat.p50, "p90_ms": lat.p90, "p95_ms": lat.p95, "p99_ms": lat.p99,
                "launch_p50_ms": result.launch_latency.p50 if result.launch_latency else math.nan}
    price = row["share_price_per_hour"]
    if result.inferences_per_s > 0 and not math.isnan(price):
        row["cost_per_million"] = cost_per_million(result.inferences_per_s, price)
    return row


def load_results(*paths: str | Path, prices: tuple[str | Path, ...] = (), pricing: str = "share",
                 skip_bad: bool = False) -> pd.DataFrame:
    """Reads sweep results (results files or sweep folders) into a DataFrame.
    A path without results, an empty results file, or a record that is not a
    valid sweep result (another schema, a key missing, a value of the wrong
    type) raises ValueError (store.BadRecord) naming the file and line; with
    `skip_bad=True` each is left out instead, and a SkippedRecords warning
    says how many and where (store.read_results is the reader).
    `prices`: price files that override the shipped catalog. `pricing`:
    "share" prices each point by the share of its instance the run held
    (`priced_as` says which, e.g. "1 of 8 GPUs"; see cost.devices_used),
    "instance" by the whole instance.

    Latency columns (mean_ms, p50_ms ... p99_ms) are host latency in a closed
    loop and, for rows whose requests arrive at a rate (load "open" or
    "dynamic-batching"), response time: from when each request was due, so
    queueing shows. A percentile the sample count cannot support is NaN.
    launch_p50_ms is the GPU launch time either way.
    Load: `load` ("closed"/"open"/"dynamic-batching"), `load_point` (the
    point's own: "closed", "open 500/s", "find-rate", "dynamic-batching
    500/s", "dynamic-batching find-rate"), `offered_rate` / `achieved_rate`
    (requests/s) and `sustained` for arrivals at a rate; for a find-rate
    point `sla_rate`, the highest rate meeting the SLA (NaN when none did),
    `sla_inferences_per_s` (that x batch) and the search in `rate_search`.
    Dynamic batching: `max_batch` and `max_queue_delay_ms`, the batcher's
    settings, `mean_batch`, the items in its mean batch, and `padding`, the
    share of computed items that were padding (NaN under other loads);
    `batch_size` is then the items of one request. `throughput_lo` /
    `throughput_hi`: the 95% throughput interval the result states, and
    `interval` which kind ("within-run", or "across 3 runs" for a repeated
    point: intervals.py); `repeat_cv`: the CV of throughput across repeats; `converged`: whether a statistical stop
    converged (None without one); `launch_bound`: a GPU point whose kernel
    launches bound it.
    Memory, in MiB (2**20 bytes), over the measuring phase: `host_peak_mb`
    (the process's peak RSS), `device_peak_mb` (the process on the device as
    NVML sees it, else the allocator's reserved peak), `lower_bound_mb`
    (weights per replica + one request's inputs and outputs per worker); and
    what the run may fill as priced, in GiB: `host_memory_gib` (of its share
    of the instance), `device_memory_gib` (of the accelerators it held), with
    `on_accelerator` saying whether it computed on one. Energy:
    `joules_per_inference`, `inferences_per_kwh` and `mean_watts` from the
    GPU's counter where read, else the CPU packages' (`energy_meter`: "GPU"
    or "CPU"). NaN where not measured (older results, no GPU, no RAPL)."""
    if not paths:
        raise ValueError("give at least one results file or sweep folder")
    if pricing not in PRICINGS:
        raise ValueError(f"pricing must be one of {', '.join(PRICINGS)}, got {pricing!r}")
    catalog = load_catalog(*prices)
    read = read_results(paths, skip_bad=skip_bad)
    for instance in dict.fromkeys(r.record.get("instance") for r in read.records):
        if instance:
            catalog.price(instance)  # an instance the catalog lacks is the catalog's error, not the record's
    rows, skipped = [], read.skipped
    for located in read.records:
        try:
            row = _row(located.record, located.path, catalog, pricing)
        except DAMAGE as e:  # what the reader's checks leave to the frame
            bad = BadRecord(located.path, located.line, f"not a valid sweep result: {damage_text(e)}")
            if not skip_bad:
                raise bad from None
            skipped.append(bad)
            continue
        rows.append(row)
    warn_skipped(skipped)
    if not rows:
        raise ValueError(f"no valid point in {', '.join(map(str, paths))}: every record was skipped as bad")
    return _frame(rows)


def _frame(rows: list[dict]) -> pd.DataFrame:
    """The rows as a DataFrame in which a missing text is None, as in the
    rows: pandas 3 stores it in a string column as NaN, which reads as true
    (`row["instance"] or row["device"]`)."""
    frame = pd.DataFrame(rows)
    for column in frame.columns[[isinstance(dtype, pd.StringDtype) for dtype in frame.dtypes]]:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"]


def capacity_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Measured points whose throughput is a capacity, to draw against batch
    size: closed-loop peaks and fixed-batch find-rate answers. An open loop
    at a chosen rate serves that rate, whatever the batch size; a dynamic
    batcher computes batches of its own sizes, not the request's."""
    ok = measured(frame)
    return ok[(ok["load"] == "closed") | (ok["sla_rate"].notna() & (ok["load"] != DYNAMIC_BATCHING))]


def curve_label(row) -> str:
    """The series of a capacity point: find-rate answers apart from closed-loop peaks."""
    return series_label(row) + (f" highest rate within {row['sla']}" if row["find_rate"] else "")


def informative(column: pd.Series) -> bool:
    """Whether a column says something: a value somewhere, and for the load
    something other than the closed loop every point had before open loops."""
    return bool(column.notna().any()) and not (column.name == "load_point" and (column == "closed").all())


def load_setting(row) -> str:
    """How a point served its requests, as people name it: "closed loop,
    batch 8", "open loop, batch 8", or "dynamic batching, max_batch 32,
    max_queue_delay 2.00 ms" (with its request's items when more than one)."""
    if row["load"] != DYNAMIC_BATCHING:
        return f"{'closed' if row['load'] == 'closed' else 'open'} loop, batch {row['batch_size']}"
    items = f", requests of {row['batch_size']} items" if row["batch_size"] > 1 else ""
    return f"dynamic batching, {batcher_label(row['max_batch'], row['max_queue_delay_ms'])}{items}"


def point_label(row) -> str:
    """One point as the figures name it: its series, batch and load, and a
    dynamic batcher's settings."""
    label = f"{series_label(row)} b{row['batch_size']}" + ("" if row["load"] == "closed" else f" {row['load_point']}")
    if row["load"] == DYNAMIC_BATCHING:
        label += f" ({batcher_label(row['max_batch'], row['max_queue_delay_ms'])})"
    return label


def series_label(row) -> str:
    runner = row.get("runner", DEFAULT_RUNNER)
    parts = [row["instance"] or row["device"], row["model"], row["variant"], "" if runner == DEFAULT_RUNNER else runner,
             row["precision"], f"{row['threads']} thr"]
    return " ".join(str(p) for p in parts if p)
