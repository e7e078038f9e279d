"""`infermeter.benchmark`: measure a TorchScript file, an AOTInductor package or an nn.Module."""

from __future__ import annotations

import json
import platform
import tempfile
import zipfile
from pathlib import Path

import torch

from infermeter import _native, fresh_process
from infermeter.aoti_export import models_link_cxx_runtime
from infermeter.backends import COMPILING, BackendConfig, as_backend, eia
from infermeter.backends.python_runner import PythonModel
from infermeter.input_spec import EXPORT_INFO_FILE, dtype_name
from infermeter.options import PYTHON, document, normalise, refuse_left_out, run_options
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
    if not Path(path).is_file():
        return {}  # a pipe would block the read; the engine names what the path is
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/" + EXPORT_INFO_FILE)), None)
            facts = json.loads(archive.read(name)) if name else {}
            return facts if isinstance(facts, dict) else {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}  # the engine reports a missing or corrupt file itself


def front_end(**facts) -> dict:
    """What the result's environment says of this front end."""
    return {"front_end": "python", "python_version": platform.python_version(), "torch_build": torch.__version__,
            **facts}


def benchmark(model, *, inputs=None, backend: BackendConfig | str | None = None, **options) -> Result:
    """Measures `model` with native client threads, in a closed loop or,
    given a `rate`, an open one.

    model: a TorchScript file, an AOTInductor package (.pt2, runner "aoti"),
        or an nn.Module (traced on `inputs` and measured as traced: not
        frozen, as freezing would fold the attributes a stateful module
        changes; `export()` freezes by default, as deployments ship).
    inputs: tensors to send with every request; by default they are generated
        from the spec stored in the model file, with `batch_size` applied
        to the leading dimension. With explicit inputs the batch size is
        their leading dimension.
    backend: for a model compiled for neuron / neuronx / eia, that backend
        (with its options): its runtime is set up before the model loads.

    options, the engine's option table (the names `infermeter run` and sweep
    configs use; `duration=None` stops on `requests` alone):
    {options}

    Ctrl-C raises `infermeter.Interrupted` (a KeyboardInterrupt) whose
    `result` holds what was measured until then.
    """
    refuse_left_out(options, PYTHON)
    normalised = normalise(options)
    if normalised["repeat"] > 1:
        return _repeated(model, inputs, backend, options, normalised["repeat"])
    backend = as_backend(backend, normalised["device"])
    for library in normalised["load_library"]:
        torch.ops.load_library(library)
    with tempfile.TemporaryDirectory(prefix="infermeter-") as tmp:
        path = _model_file(model, inputs, Path(tmp))
        facts = export_facts(path)
        given = run_options(options) | {"replicas": backend.engine_replicas(normalised["replicas"],
                                                                            normalised["threads"],
                                                                            facts.get("parameters", 0))}
        if normalised["runner"] == "aoti":
            _refuse_static_cxx_runtime(path, trusted=normalised["trust"])
        if backend.name in COMPILING:
            backend.start_runtime(facts.get("parameters", 0))
        try:
            if backend.name == "eia":
                doc = _run_on_eia(path, inputs, backend, given, normalised)
            else:
                doc = _native.run(str(path), given, _explicit(inputs) if inputs is not None else [], front_end())
        except _native._Interrupted as interrupted:
            raise Interrupted(Result(json.loads(interrupted.args[0]))) from None
    return Result(json.loads(doc))


benchmark.__doc__ = benchmark.__doc__.replace("    {options}", document(PYTHON))


def _model_file(model, inputs, folder: Path) -> Path:
    if isinstance(model, torch.nn.Module):
        if inputs is None:
            raise ValueError("an nn.Module needs example inputs to be traced: pass inputs=...")
        return save_torchscript(model, inputs, folder / "model.pt", info={"source": type(model).__qualname__})
    if isinstance(model, (str, Path)):
        return Path(model)
    raise TypeError(f"model must be a model file path or an nn.Module, not {type(model).__name__}")


def _run_on_eia(path: Path, inputs, backend: BackendConfig, given: dict, normalised: dict) -> str:
    """Elastic Inference's context is per Python thread, so its requests are
    Python calls made by the engine's workers (backends/python_runner.py),
    each worker inside the context on its own thread; one module serves them."""
    if normalised["runner"] != "torchscript":
        raise ValueError("backend 'eia' runs a TorchScript model compiled for the accelerator: use runner "
                         "torchscript")
    ordinal = backend.ordinal()
    target = f"eia:{ordinal}"
    model = PythonModel(str(path), normalised["batch_size"], normalised["seed"], lambda: eia.on_accelerator(ordinal),
                        inputs=as_tuple(inputs) if inputs is not None else None, facts={"target_device": target})
    return _native.run_python_model(str(path), given | {"replicas": "shared"}, model, front_end(backend=target))


def _refuse_static_cxx_runtime(path: Path, trusted: bool) -> None:
    """An AOTInductor package whose model carries a static libstdc++ segfaults
    when loaded into this (a Python) process (docs/aoti.md): refuse it first,
    after the engine's trust check (a package from elsewhere is refused for
    that, whatever it links). A file that is not a readable package is left
    to the engine to report."""
    if not path.is_file():
        return
    problem = "" if trusted else _native.untrusted_package_reason(str(path))
    if problem:
        raise ValueError(problem)
    try:
        links = models_link_cxx_runtime(path)
    except (OSError, zipfile.BadZipFile, ValueError):
        return
    if not links:
        raise ValueError(f"{path}: its compiled model links libstdc++ statically, which crashes a Python process "
                         "that loads it; measure it with infermeter-bench, or export it again with `infermeter "
                         "export --format aoti` (which compiles with a dynamically linked runtime)")


def _repeated(model, inputs, backend, options: dict, repeat: int) -> Result:
    """`repeat` independent runs, each in a fresh process (fresh_process.py),
    as one document (the engine's combine_repeats): its intervals are the
    runs' agreement (a t interval for their mean). A module is traced once,
    here, and each child measures the file. Ctrl-C keeps the runs finished
    so far, combined alone: the run it cut short is shorter than the others
    and would skew their spread (it is the result only when no run had
    finished)."""
    docs = []
    once = options | {"repeat": 1}
    with tempfile.TemporaryDirectory(prefix="infermeter-repeat-") as tmp:
        path = _model_file(model, inputs, Path(tmp))
        for _ in range(repeat):
            try:
                docs.append(fresh_process.measure(path, backend, once, inputs, Path(tmp)))
            except fresh_process.ChildInterrupted as stopped:
                if docs:
                    raise Interrupted(_combined(docs)) from None
                if stopped.doc is None:
                    raise KeyboardInterrupt("interrupted before the first repeat measured anything") from None
                raise Interrupted(Result(stopped.doc)) from None
    return _combined(docs)


def _combined(docs: list[dict]) -> Result:
    return Result(json.loads(_native.combine_repeats([json.dumps(d) for d in docs], _native.BACK_TO_BACK)))
