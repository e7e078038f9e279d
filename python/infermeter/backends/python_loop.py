"""A closed loop driven from Python threads, for backends whose runtime state
lives in a Python context (Elastic Inference). It keeps the engine's result
schema so results compare and report alike; its timing includes the Python
call overhead (a few µs) that the native engine avoids."""

from __future__ import annotations

import json
import math
import threading
import time
from contextlib import AbstractContextManager
from typing import Callable

import torch
from hdrh.histogram import HdrHistogram

from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, ModelInputs
from infermeter.result import PERCENTILES, SCHEMA
from infermeter.torchscript_export import quiet_torchscript
from infermeter.zoo.registry import example_inputs

HIGHEST_NS = 3_600_000_000_000


def latency_summary(h: HdrHistogram) -> dict:
    """The engine's latency summary fields, from a Python HdrHistogram."""
    at = {p: h.get_value_at_percentile(float(p[1:].replace("_", "."))) for p in PERCENTILES}
    return {"count": h.get_total_count(), "histogram": h.encode().decode(), "mean_ns": h.get_mean_value(),
            "stddev_ns": h.get_stddev(), "min_ns": h.get_min_value(), "max_ns": h.get_max_value(), "saturated": 0,
            **{f"{p}_ns": v for p, v in at.items()}}


def measure(path: str, context: Callable[[], AbstractContextManager], *, batch_size: int | None, threads: int,
            warmup: float, duration: float, window: float = 0.1, seed: int = 0, backend: str) -> dict:
    extra = {INPUT_SPEC_FILE: "", EXPORT_INFO_FILE: ""}
    with quiet_torchscript():
        model = torch.jit.load(path, _extra_files=extra)
    if not extra[INPUT_SPEC_FILE]:
        raise ValueError(f"{path} has no input spec: export it with infermeter")
    specs = ModelInputs.from_json(extra[INPUT_SPEC_FILE]).specs
    fixed = [s.shape[0] for s in specs if s.shape and s.shape[0] != -1]
    batch = batch_size or (fixed[0] if fixed else 1)
    inputs = example_inputs(specs, batch, seed)
    histograms = [HdrHistogram(1, HIGHEST_NS, 3) for _ in range(threads)]
    window_ns = int(window * 1e9)
    last_window = int(math.ceil((duration + 60) / window))
    windows = [[0] * (last_window + 1) for _ in range(threads)]
    clock = {}

    def start_clock() -> None:  # run once, before any thread passes the barrier
        now = time.perf_counter_ns()
        clock.update(measure_from=now + int(warmup * 1e9), stop_at=now + int((warmup + duration) * 1e9))

    start_barrier = threading.Barrier(threads + 1, action=start_clock)
    errors = []

    def client(i: int) -> None:
        try:
            with context(), torch.no_grad():
                model(*inputs)  # the first call compiles for the accelerator
                start_barrier.wait()
                while time.perf_counter_ns() < clock["measure_from"]:
                    model(*inputs)
                histogram, counts, measure_from = histograms[i], windows[i], clock["measure_from"]
                while True:
                    t0 = time.perf_counter_ns()
                    if t0 >= clock["stop_at"]:  # read each time: an interrupt moves it
                        break
                    model(*inputs)
                    t1 = time.perf_counter_ns()
                    histogram.record_value(max(1, t1 - t0))
                    counts[min(last_window, (t1 - measure_from) // window_ns)] += 1
        except Exception as e:  # noqa: BLE001 - reported once all threads are joined
            errors.append(e)
            start_barrier.abort()

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    try:
        start_barrier.wait()
        for w in workers:
            w.join()
    except threading.BrokenBarrierError:
        pass  # a client failed; its error is raised below
    except BaseException:  # Ctrl-C: stop the clients before leaving
        start_barrier.abort()
        clock["stop_at"] = clock["measure_from"] = 0
        raise
    finally:
        for w in workers:
            w.join()
    if errors:
        raise RuntimeError(f"model '{path}' failed on backend {backend}: {errors[0]}") from errors[0]
    merged = HdrHistogram(1, HIGHEST_NS, 3)
    for h in histograms:
        merged.add(h)
    requests = merged.get_total_count()
    completions = [sum(col) for col in zip(*windows)]
    while len(completions) > 1 and completions[-1] == 0:
        completions.pop()
    rate = requests / duration
    return {"schema": SCHEMA,
            "model": {"path": path, "format": "torchscript",
                      "export": json.loads(extra[EXPORT_INFO_FILE]) if extra[EXPORT_INFO_FILE] else None},
            "config": {"batch_size": batch, "threads": threads, "device": backend, "replicas": "shared",
                       "warmup_s": warmup, "duration_s": duration, "window_s": window, "seed": seed},
            "measurement": {"requests": requests, "inferences": requests * batch, "warmup_requests": None,
                            "elapsed_s": duration, "interrupted": False, "requests_per_s": rate,
                            "inferences_per_s": rate * batch},
            "latency": {"host": latency_summary(merged), "launch": None, "device": None},
            "timeline": {"window_s": window, "completions": completions},
            "calibration": None,
            "environment": {"runner": "python-loop", "backend": backend, "torch_build": torch.__version__}}
