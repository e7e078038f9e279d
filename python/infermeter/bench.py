"""`infermeter.benchmark`: measure a TorchScript file, an AOTInductor package or an nn.Module."""

from __future__ import annotations

import json
import platform
import tempfile
import zipfile
from pathlib import Path

import torch

from infermeter import _native
from infermeter.aoti_export import models_link_cxx_runtime
from infermeter.backends import COMPILING, BackendConfig, as_backend, eia, python_loop
from infermeter.input_spec import EXPORT_INFO_FILE, dtype_name
from infermeter.result import Interrupted, Result
from infermeter.torchscript_export import as_tuple, save_torchscript


def _explicit(inputs) -> list:
    out = []
    for i, t in enumerate(as_tuple(inputs)):
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        out.append(_native.ExplicitInput(f"input{i}", list(t.shape), dtype_name(t.dtype), raw))
    return out


def export_facts(path: str | Path) -> dict:
    """The export facts stored in a model file, read without loading it."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/" + EXPORT_INFO_FILE)), None)
            facts = json.loads(archive.read(name)) if name else {}
            return facts if isinstance(facts, dict) else {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}  # the engine reports a missing or corrupt file itself


def run_config(path: str | Path, **options) -> _native.RunConfig:
    """The engine's RunConfig for `path`, its fields set from `options`
    (RunConfig's own names); without `duration_s`, the engine's default for
    the stop asked for. Validated, so a bad option is a ValueError."""
    config = _native.RunConfig()
    config.model_path = str(path)
    for name, value in options.items():
        if not hasattr(config, name):
            raise TypeError(f"unknown run option {name!r}")
        try:
            setattr(config, name, value)
        except TypeError:
            raise TypeError(f"run option {name}={value!r} has the wrong type") from None
    if "duration_s" not in options:
        config.apply_default_duration()
    config.validate()
    return config


def _with_environment(doc: dict) -> Result:
    doc["environment"] = {"runner": "python", "python_version": platform.python_version(),
                          "torch_build": torch.__version__} | doc["environment"]
    return Result(doc)


_DEFAULT = object()  # duration left out: the engine's default for the stop asked for


def benchmark(model, *, inputs=None, batch_size: int | None = None, threads: int = 1, device: str = "cpu",
              runner: str = "torchscript", replicas: str = "per-thread", intra_op_threads: int | None = None,
              warmup: float = 1.0, warmup_min_requests: int = 2, duration=_DEFAULT,
              requests: int | None = None, ci: float | None = None, ci_percentile: float = 99.0,
              min_duration: float = 1.0, rate: float | None = None, arrival: str = "poisson",
              window: float = 0.1, seed: int = 0, calibrate: bool = True, repeat: int = 1,
              backend: BackendConfig | str | None = None) -> Result:
    """Measures `model` with `threads` native clients, in a closed loop or,
    given a `rate`, an open one.

    model: a TorchScript file, an AOTInductor package (.pt2, runner "aoti"),
        or an nn.Module (traced on `inputs` and measured as traced: not
        frozen, as freezing would fold the attributes a stateful module
        changes; `export()` freezes by default, as deployments ship).
    runner: what runs the model: "torchscript" (the interpreter),
        "cuda-graph" (each request replays a CUDA graph captured from the
        TorchScript forward) or "aoti" (an AOTInductor package).
    inputs: tensors to send with every request; by default they are generated
        from the spec stored in the model file, with `batch_size` applied
        to the leading dimension (default 1, or the batch a model was exported
        for when its graph is fixed to it). With explicit inputs the batch
        size is their leading dimension.
    intra_op_threads: torch's intra-op threads on each client thread; by
        default the cores shared out among the client threads.
    duration / requests: measuring stops at whichever comes first (5 s by
        default, none when only `requests` is given); pass duration=None to
        stop on the request count alone.
    ci: stop once throughput and the `ci_percentile` latency are both known
        to +-ci (relative, 95% confidence: 0.02 for +-2%), after at least
        `min_duration` s; `duration` is then the most it may take (default
        60 s). The result says whether it converged and, if not, about how
        many requests it would have needed.
    rate: open loop: requests arrive at this mean rate (per second) whether
        or not the clients have finished the last ones; `threads` caps how
        many run at once, and a request that finds them all busy waits. Its
        response time (`Result.response_latency`) counts from when it was due,
        so queueing delay shows. arrival: "poisson" (seeded by `seed`) or
        "constant" spacing.
    repeat: K independent measurements (each with fresh replicas). The
        result is the run of median throughput, with every run, their mean,
        CV and 95% interval under `Result.repeats`.
    backend: for a model compiled for neuron / neuronx / eia, that backend
        (with its options): its runtime is set up before the model loads.

    Ctrl-C raises `infermeter.Interrupted` (a KeyboardInterrupt) whose
    `result` holds what was measured until then.
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a whole number >= 1, got {repeat!r}")
    if repeat > 1:
        options = {k: v for k, v in locals().items() if k not in ("model", "repeat")}
        return _repeated(model, repeat, options)
    backend = as_backend(backend, device)
    explicit = _explicit(inputs) if inputs is not None else []
    durations = {} if duration is _DEFAULT else {"duration_s": duration}

    with tempfile.TemporaryDirectory(prefix="infermeter-") as tmp:
        if isinstance(model, torch.nn.Module):
            if inputs is None:
                raise ValueError("an nn.Module needs example inputs to be traced: pass inputs=...")
            path = save_torchscript(model, inputs, Path(tmp) / "model.pt",
                                    info={"source": type(model).__qualname__})
        elif isinstance(model, (str, Path)):
            path = Path(model)
        else:
            raise TypeError(f"model must be a model file path or an nn.Module, not {type(model).__name__}")
        replicas = backend.engine_replicas(replicas, threads, export_facts(path).get("parameters", 0))
        config = run_config(path, device=device, runner=runner, batch_size=batch_size, threads=threads,
                            replicas=replicas, intra_op_threads=intra_op_threads, warmup_s=warmup,
                            warmup_min_requests=warmup_min_requests, requests=requests, ci=ci,
                            ci_percentile=ci_percentile, min_duration_s=min_duration, rate_per_s=rate,
                            arrival=arrival, window_s=window, seed=seed, inputs=explicit, **durations)
        if runner == "aoti":
            _refuse_static_cxx_runtime(path)
        if backend.name in COMPILING:
            backend.start_runtime(export_facts(path).get("parameters", 0))
        if backend.name == "eia":
            if (inputs is not None or config.duration_s is None or runner != "torchscript" or rate is not None
                    or ci is not None or requests is not None):
                raise ValueError("backend 'eia' measures generated inputs for a duration in a closed loop, with the "
                                 "torchscript runner: leave out inputs, rate, ci and requests")
            ordinal = backend.ordinal()
            doc = python_loop.measure(config, lambda: eia.on_accelerator(ordinal), backend=f"eia:{ordinal}")
            if doc["measurement"]["interrupted"]:
                raise Interrupted(_with_environment(doc))
        else:
            try:
                doc = json.loads(_native.run(config, calibrate))
            except _native._Interrupted as interrupted:
                raise Interrupted(_with_environment(json.loads(interrupted.args[0]))) from None
    return _with_environment(doc)


def _refuse_static_cxx_runtime(path: Path) -> None:
    """An AOTInductor package whose model carries a static libstdc++ segfaults
    when loaded into this (a Python) process (docs/aoti.md): refuse it first.
    A file that is not a readable package is left to the engine to report."""
    try:
        links = models_link_cxx_runtime(path)
    except (OSError, zipfile.BadZipFile, ValueError):
        return
    if not links:
        raise ValueError(f"{path}: its compiled model links libstdc++ statically, which crashes a Python process "
                         "that loads it; measure it with infermeter-bench, or export it again with `infermeter "
                         "export --format aoti` (which compiles with a dynamically linked runtime)")


def _repeated(model, repeat: int, options: dict) -> Result:
    """`repeat` independent runs, summarised by the engine (repeat_summary).
    Ctrl-C keeps the runs finished so far, summarised alone: the run it cut
    short is shorter than the others and would skew their spread (it is the
    result only when no run had finished)."""
    docs = []
    for _ in range(repeat):
        try:
            docs.append(benchmark(model, repeat=1, **options).to_dict())
        except Interrupted as interrupted:
            raise Interrupted(_summarised(docs) if docs else interrupted.result) from None
    return _summarised(docs)


def _summarised(docs: list[dict]) -> Result:
    summary = json.loads(_native.repeat_summary([json.dumps(d) for d in docs]))
    doc = docs[summary["reported_run"]]
    doc["repeats"] = summary
    return Result(doc)
