"""Measures one point of a sweep and turns any outcome into a record: a
result, an out-of-memory, or a failure with its message. A point runs in a
closed loop, with requests arriving at its rate (straight to the threads, or
to a dynamic batcher), or as a search for the highest such rate meeting the
sweep's SLA."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import platform
import socket
import tempfile
import time
from pathlib import Path

import torch

from infermeter import _native, fresh_process
from infermeter.bench import benchmark
from infermeter.export import export
from infermeter.find_rate import find_rate, find_rate_repeated
from infermeter.options import SEARCH_OPTIONS, STEP_OPTIONS
from infermeter.sweep.config import SweepConfig
from infermeter.sweep.grid import Point
from infermeter.sweep.store import RECORD_SCHEMA

OUT_OF_MEMORY = (_native.OutOfMemoryError, torch.OutOfMemoryError)


def host_facts(device: str) -> dict:
    """What ran the point, for records whose point produced no engine result."""
    facts = {"host": socket.gethostname(), "python_version": platform.python_version(),
             "torch_build": torch.__version__}
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return facts


# The runners that measure an AOTInductor package.
AOTI_RUNNERS = ("aoti", "aoti-graph")


def _exported_model(config: SweepConfig, point: Point, model_dir: Path, timing: dict) -> Path:
    """The model file for `point` (TorchScript, or an AOTInductor package for
    the aoti runners), exported once per variant and reused by every batch
    size when its graph allows, else once per batch size. Adds the export's
    time (and the package's compile time, cached or not) to `timing`."""
    m = config.models[point.entry]
    if m.is_file:
        return Path(m.name)
    backend = config.backend_config()
    model_format = "aoti" if point.runner in AOTI_RUNNERS else "torchscript"
    aoti = {"static_batch": m.static_batch, "max_autotune": m.max_autotune} if model_format == "aoti" else {}
    recipe = {"model": m.name, "variant": dict(point.variant), "precision": point.precision, "method": m.method,
              "freeze": m.freeze, "weights": m.weights, "options": m.options, "device": config.device,
              "backend": backend.model_dump(), **({"format": model_format, **aoti} if aoti else {})}
    stem = f"{m.name.replace(':', '_').replace('/', '_')}-" + hashlib.sha1(
        json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    suffix = ".pt2" if model_format == "aoti" else ".pt"
    for candidate in (model_dir / f"{stem}{suffix}", model_dir / f"{stem}-b{point.batch_size}{suffix}"):
        if candidate.is_file():
            return candidate
    scratch = model_dir / f"{stem}.{os.getpid()}.exporting{suffix}"  # concurrent workers may export the same variant
    started = time.perf_counter()
    try:
        report = export(m.name, scratch, precision=point.precision, batch_size=point.batch_size, method=m.method,
                        freeze=m.freeze, format=model_format, device=config.device, backend=backend, **aoti,
                        **m.options, **dict(point.variant), **({"weights": m.weights} if m.weights else {}))
        final = model_dir / (f"{stem}{suffix}" if report.info["batch_dynamic"] else
                             f"{stem}-b{point.batch_size}{suffix}")
        scratch.replace(final)
    except BaseException:
        # Ctrl-C or a failed rename: the scratch export would stay in the results folder, and fill its disk.
        scratch.unlink(missing_ok=True)
        raise
    timing["export_s"] = round(time.perf_counter() - started, 3)
    if "compile_s" in report.info:
        timing |= {"compile_s": report.info["compile_s"], "compile_cache": report.info["compile_cache"]}
    return final


def _release_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def new_record(config: SweepConfig, point: Point, instance: str | None, status: str = "ok",
               error: str | None = None) -> dict:
    return {"schema": RECORD_SCHEMA, "key": point.key, "series": point.series, "point": point.to_dict(),
            "sweep": {"name": config.name, "settings": config.model_dump(exclude={"models"})},
            "instance": instance, "status": status, "error": error, "result": None}


def skipped_record(config: SweepConfig, point: Point, instance: str | None, oom_batch: int) -> dict:
    return new_record(config, point, instance, "skipped", f"not run: batch {oom_batch} of this series ran out of memory")


def _result_doc(config: SweepConfig, point: Point, path: Path, fresh: bool) -> dict:
    """The point's result document, from the sweep's options and the point's
    own, measured in a fresh process when `fresh` (a round of a sweep whose
    repeat runs as rounds: its runs are then as independent as `repeat`'s).
    A find-rate point's is its search's best step (or, when no rate met the
    SLA, its lowest-rate step), with the whole search under "rate_search"."""
    given = {k: v for k, v in config.given_options().items() if k not in SEARCH_OPTIONS}
    options = given | point.options() | {"calibrate": False}
    backend = config.backend_config()
    if point.find_rate:
        # Each step measures at least the sweep's duration, longer when its percentile needs more samples;
        # the point's load (open or dynamic-batching) is among its options. `repeat` makes the whole search
        # that many times, and the record states the spread of the answers.
        how = dict(sla=config.sla, precision=config.rate_precision, min_step_s=config.step_duration, backend=backend,
                   **{k: v for k, v in options.items() if k not in STEP_OPTIONS})
        searches = options.get("repeat", 1)
        search = find_rate_repeated(path, searches=searches, **how) if searches > 1 else find_rate(path, **how)
        answered = search.median if searches > 1 else search
        shown = answered.best or min(answered.steps, key=lambda s: s.offered_rate_per_s)
        return shown.result.to_dict() | {"rate_search": search.to_dict()}
    if fresh:
        with tempfile.TemporaryDirectory(prefix="infermeter-round-") as scratch:
            return fresh_process.measure(path, backend, options, None, Path(scratch))
    return benchmark(path, backend=backend, **options).to_dict()


def measure_point(config: SweepConfig, point: Point, model_dir: Path, instance: str | None,
                  fresh: bool = False) -> dict:
    """Exports (when needed) and measures `point` (in a fresh process when
    `fresh`: _result_doc). Never raises for a problem of the point itself;
    KeyboardInterrupt passes through."""
    record = new_record(config, point, instance) | {
        "started_at": time.time(), "worker": {"host": socket.gethostname(), "pid": os.getpid(),
                                              "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}}
    timing = record["timing"] = {}
    try:
        path = _exported_model(config, point, model_dir, timing)
        started = time.perf_counter()
        record["result"] = _result_doc(config, point, path, fresh)
        timing["measure_s"] = round(time.perf_counter() - started, 3)
    except OUT_OF_MEMORY as e:
        record |= {"status": "oom", "error": str(e).strip().splitlines()[0]}
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - one point's failure is recorded; the sweep goes on
        record |= {"status": "failed", "error": f"{type(e).__name__}: {str(e).strip()}"}
    finally:
        _release_memory(config.device)
    record["finished_at"] = time.time()
    if record["result"] is None:
        record["environment"] = host_facts(config.device)
    return record
