"""A closed loop driven from Python threads, for backends whose runtime state
lives in a Python context (Elastic Inference). It only times requests: the
result document is built by the engine's one result builder
(`_core.build_python_loop_result`) from the raw (issued, completed) times, so
its schema and its throughput definition are the engine's. Its timing
includes the Python call overhead (a few µs) that the native engine avoids."""

from __future__ import annotations

import json
import threading
import time
from contextlib import AbstractContextManager
from typing import Callable

import torch

from infermeter import _native
from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, ModelInputs
from infermeter.torchscript_export import quiet_torchscript
from infermeter.zoo.registry import example_inputs


def _model_description(path: str, extra: dict, inputs) -> dict:
    facts = None
    if extra[EXPORT_INFO_FILE]:
        try:
            facts = json.loads(extra[EXPORT_INFO_FILE])
        except ValueError:
            facts = None
    return {"path": path, "format": "torchscript", "runner": "python-loop", "export": facts,
            "inputs": [{"name": f"input{i}", "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
                       for i, t in enumerate(inputs)]}


def measure(config, context: Callable[[], AbstractContextManager], *, backend: str) -> dict:
    """Measures `config` (a RunConfig: model, batch, threads, warm-up,
    duration) with `config.threads` Python threads, each inside `context()`."""
    path = config.model_path
    extra = {INPUT_SPEC_FILE: "", EXPORT_INFO_FILE: ""}
    with quiet_torchscript():
        model = torch.jit.load(path, _extra_files=extra)
    if not extra[INPUT_SPEC_FILE]:
        raise ValueError(f"{path} has no input spec: export it with infermeter")
    specs = ModelInputs.from_json(extra[INPUT_SPEC_FILE]).specs
    fixed = [s.shape[0] for s in specs if s.shape and s.shape[0] != -1]
    batch = config.batch_size or (fixed[0] if fixed else 1)
    inputs = example_inputs(specs, batch, config.seed)
    threads, warmup_ns, duration_ns = config.threads, int(config.warmup_s * 1e9), int(config.duration_s * 1e9)
    timings: list[list[tuple[int, int]]] = [[] for _ in range(threads)]
    warmup_counts = [0] * threads
    clock = {}
    stop = threading.Event()

    def start_clock() -> None:  # run once, before any thread passes the barrier
        now = time.perf_counter_ns()
        clock.update(measure_from=now + warmup_ns, stop_at=now + warmup_ns + duration_ns)

    start_barrier = threading.Barrier(threads + 1, action=start_clock)
    errors = []

    def client(i: int) -> None:
        try:
            with context(), torch.no_grad():
                model(*inputs)  # the first call compiles for the accelerator
                start_barrier.wait()
                measure_from, stop_at, own = clock["measure_from"], clock["stop_at"], timings[i]
                while not stop.is_set() and time.perf_counter_ns() < measure_from:
                    model(*inputs)
                    warmup_counts[i] += 1
                while not stop.is_set():
                    issued = time.perf_counter_ns()
                    if issued >= stop_at:
                        break
                    model(*inputs)
                    own.append((issued - measure_from, time.perf_counter_ns() - measure_from))
        except Exception as e:  # noqa: BLE001 - reported once all threads are joined
            errors.append(e)
            start_barrier.abort()

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    interrupted = False
    try:
        start_barrier.wait()
        for w in workers:
            w.join()
    except threading.BrokenBarrierError:
        pass  # a client failed; its error is raised below
    except KeyboardInterrupt:
        interrupted = True  # stop the clients, then return what they measured
    finally:
        stop.set()
        start_barrier.abort()
        for w in workers:
            w.join()
    if errors:
        raise RuntimeError(f"model '{path}' failed on backend {backend}: {errors[0]}") from errors[0]
    environment = {"runner": "python-loop", "backend": backend, "torch_build": torch.__version__}
    # What this loop did, for the result's config: one module shared by the
    # threads, on the backend, with torch's process-wide intra-op pool.
    config.device, config.replicas, config.intra_op_threads = backend, "shared", torch.get_num_threads()
    return json.loads(_native.build_python_loop_result(
        config, json.dumps(_model_description(path, extra, inputs)), timings, batch, sum(warmup_counts), interrupted,
        "interrupted" if interrupted else "duration reached", json.dumps(environment)))
