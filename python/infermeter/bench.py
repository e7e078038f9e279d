"""`infermeter.benchmark`: measure a TorchScript file or an nn.Module."""

from __future__ import annotations

import json
import platform
import tempfile
import zipfile
from pathlib import Path

import torch

from infermeter import _native
from infermeter.backends import COMPILING, BackendConfig, as_backend, eia, python_loop
from infermeter.input_spec import EXPORT_INFO_FILE, dtype_name
from infermeter.result import Result
from infermeter.torchscript_export import as_tuple, save_torchscript


def _explicit(inputs) -> list[tuple[str, list[int], str, bytes]]:
    out = []
    for i, t in enumerate(as_tuple(inputs)):
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        out.append((f"input{i}", list(t.shape), dtype_name(t.dtype), raw))
    return out


def export_facts(path: str | Path) -> dict:
    """The export facts stored in a TorchScript file, read without loading it."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/extra/" + EXPORT_INFO_FILE)), None)
            return json.loads(archive.read(name)) if name else {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}  # the engine reports a missing or corrupt file itself


def benchmark(model, *, inputs=None, batch_size: int | None = None, threads: int = 1, device: str = "cpu",
              replicas: str = "per-thread", warmup: float = 1.0, warmup_min_requests: int = 2,
              duration: float | None = 5.0, requests: int | None = None, window: float = 0.1, seed: int = 0,
              calibrate: bool = True, backend: BackendConfig | str | None = None) -> Result:
    """Measures `model` with `threads` native clients in a closed loop.

    model: a TorchScript file path, or an nn.Module (traced on `inputs`).
    inputs: tensors to send with every request; by default they are generated
        from the spec stored in the TorchScript file, with `batch_size` applied
        to the leading dimension (default 1, or the batch a model was exported
        for when its graph is fixed to it). With explicit inputs the batch
        size is their leading dimension.
    duration / requests: measuring stops at whichever comes first; pass
        duration=None to stop on the request count alone.
    backend: for a model compiled for neuron / neuronx / eia, that backend
        (with its options): its runtime is set up before the model loads.
    """
    backend = as_backend(backend, device)
    explicit = _explicit(inputs) if inputs is not None else []

    with tempfile.TemporaryDirectory(prefix="infermeter-") as tmp:
        if isinstance(model, torch.nn.Module):
            if inputs is None:
                raise ValueError("an nn.Module needs example inputs to be traced: pass inputs=...")
            path = save_torchscript(model, inputs, Path(tmp) / "model.pt",
                                    info={"source": type(model).__qualname__})
        elif isinstance(model, (str, Path)):
            path = Path(model)
        else:
            raise TypeError(f"model must be a TorchScript file path or an nn.Module, not {type(model).__name__}")
        if backend.name in COMPILING:
            backend.start_runtime(export_facts(path).get("parameters", 0))
        if backend.name == "eia":
            if inputs is not None or duration is None:
                raise ValueError("backend 'eia' measures generated inputs for a duration")
            ordinal = backend.ordinal()
            doc = python_loop.measure(str(path), lambda: eia.on_accelerator(ordinal), batch_size=batch_size,
                                      threads=threads, warmup=warmup, duration=duration, window=window, seed=seed,
                                      backend=f"eia:{ordinal}")
        else:
            doc = json.loads(_native.run(str(path), device, batch_size, threads, replicas, warmup, warmup_min_requests,
                                         duration, requests, window, seed, explicit, calibrate))
    doc["environment"] = {"runner": "python", "python_version": platform.python_version(),
                          "torch_build": torch.__version__} | doc["environment"]
    return Result(doc)
