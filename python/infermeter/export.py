"""`infermeter.export`: a zoo model or nn.Module to a TorchScript file or an
AOTInductor package in a chosen precision, checked numerically against eager
fp32 before it is saved."""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from infermeter import aoti_export, zoo
from infermeter.backends import COMPILING, BackendConfig, as_backend, backend_context
from infermeter.export_check import (TOLERANCE, ExportCheckError, check_outputs, input_dependence, output_errors,
                                     output_tensors, require_input_dependence, tf32_mode, tolerance_for)
from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, ModelInputs
from infermeter.precisions import PRECISIONS
from infermeter.torchscript_export import (WriteError, check_writable, freeze_for_inference, quiet_torchscript,
                                          save_atomically)

FORMATS = ("torchscript", "aoti")
__all__ = ["FORMATS", "PRECISIONS", "TOLERANCE", "ExportCheckError", "ExportReport", "export"]


@dataclass(frozen=True)
class ExportReport:
    path: Path
    info: dict

    def __str__(self) -> str:
        i = self.info
        how = "AOTInductor" if i["format"] == "aoti" else i["method"] + (", frozen" if i["frozen"] else "")
        return (f"{i['model']} -> {self.path} ({i['precision']}, {how}, "
                f"{i['weights']} weights, batch {'any' if i['batch_dynamic'] else i['batch_size']}, "
                f"error {i['max_rel_error']:.2e} <= {i['tolerance']:.0e})")


def _compile(module, inputs, method: str, autocast_dtype, device_type: str, expected_warnings):
    """Traces or scripts `module`; warnings the architecture is known to raise
    are dropped, any other is shown to the user."""
    with warnings.catch_warnings(record=True) as caught, quiet_torchscript():
        warnings.simplefilter("always")
        with torch.no_grad(), torch.autocast(device_type, dtype=autocast_dtype or torch.float32,
                                             enabled=autocast_dtype is not None):
            if method == "trace":
                compiled = torch.jit.trace(module, inputs, check_trace=False, strict=False)
            elif method == "script":
                compiled = torch.jit.script(module)
            else:
                raise ValueError(f"method must be 'trace' or 'script', got {method!r}")
    quiet = [re.compile(p) for p in (*expected_warnings, r"`torch\.jit\.\w+` is deprecated")]
    for w in caught:
        if not any(p.search(str(w.message)) for p in quiet):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return compiled


def _runs_at_other_batch(compiled, built: zoo.BuiltModel, batch_size: int, device, dtype) -> bool:
    other = _cast(_other_inputs(built, batch_size + 1, device), dtype)
    try:
        with torch.no_grad():
            outputs = output_tensors(compiled(*other))
    except Exception:  # noqa: BLE001 - any failure means the graph is fixed to its batch
        return False
    return bool(outputs) and all(t.dim() > 0 and t.shape[0] == batch_size + 1 for t in outputs)


def export(model: str | torch.nn.Module, output: str | Path, *, precision: str = "fp32", batch_size: int | None = None,
           method: str = "trace", freeze: bool = True, format: str = "torchscript", device: str = "cpu",
           inputs=None, input_names=None, backend: BackendConfig | str | None = None,
           check_input_dependence: bool = True, static_batch: bool = False, max_autotune: bool = False,
           cache: bool = True, **options) -> ExportReport:
    """Builds `model` (a zoo name, or an nn.Module with example `inputs`),
    converts it to `precision`, compiles it, checks it against eager fp32 on
    the same inputs and saves it with its input spec and export facts.

    precision: fp32 (IEEE: TF32 off); tf32 keeps fp32 weights and runs matrix
        products and convolutions in TF32 (GPUs of compute capability 8.0 and
        later; the engine turns TF32 on for the run); fp16 / bf16 cast the
        whole model; mixed traces under autocast (fp16 on GPUs, bf16 on the CPU).
    batch_size: the batch to trace at: 1 for zoo models by default; for a
        module, the leading dimension of `inputs`.
    format: torchscript (a .pt file for the engine) or aoti (an AOTInductor
        .pt2 package compiled for `device`).
    freeze: TorchScript: torch.jit.freeze, then optimize_for_inference
        where its graph can be saved (the facts say which was applied);
        aoti: Inductor's freezing (weights folded in as constants).
    static_batch: aoti only: compile for `batch_size` alone (Inductor picks
        layouts and kernels for that shape, as a TensorRT engine is built per
        profile) instead of a dynamic batch dimension.
    max_autotune: aoti only: Inductor's max-autotune (benchmarks kernel
        choices while compiling: much longer compiles).
    cache: aoti only: reuse a package compiled before with the same program,
        options, torch and device (compile_cache.py; $INFERMETER_CACHE).
    check_input_dependence: refuse a model whose outputs hardly change between
        two inputs, on which the numeric check would pass vacuously.
    options: the zoo model's own (seq_len, resolution, weights, ...).
    backend: neuron, neuronx or eia compile with that SDK (fp32 in, the
        compiler picks its own casts); cpu and cuda (the default) trace.
    Raises ExportCheckError when an output of the variant is off by more than
    its precision allows, or does not depend on the input.
    """
    _check_arguments(precision, format, static_batch, max_autotune)
    # Before the model is built and compiled (minutes, for a package), not when it is written.
    weights = options.get("weights")
    check_writable(output, [weights] if isinstance(weights, (str, Path)) and weights != "random" else [])
    backend = as_backend(backend, device)
    _check_backend(backend, precision, format)
    target = torch.device(device)
    _check_device(precision, target)
    built = _built(model, batch_size, inputs, input_names, options)
    batch_size = built.inputs[0].shape[0] if built.inputs[0].dim() else 1

    module = built.module.to(target).eval()
    example = tuple(t.to(target) for t in built.inputs)
    with torch.no_grad(), tf32_mode(False):
        reference = module(*example)
        changes = input_dependence(reference, module(*_other_inputs(built, batch_size, target)))
    if check_input_dependence:
        require_input_dependence(built.name, changes)

    cast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    variant = copy.deepcopy(module).to(cast_dtype) if cast_dtype else module
    variant_inputs = _cast(example, cast_dtype)

    aoti_options = {"static_batch": static_batch, "cache": cache,
                    "inductor": {"freezing": freeze, **({"max_autotune": True} if max_autotune else {})}}
    with tempfile.TemporaryDirectory(prefix="infermeter-export-") as scratch, tf32_mode(precision == "tf32"):
        compiled, compiled_facts, backend_facts, package = _compiled_variant(
            variant, variant_inputs, built, batch_size, target, precision, cast_dtype, format, method, freeze,
            backend, Path(scratch), aoti_options)
        tolerance, tolerance_reason = tolerance_for(precision, backend.name)
        with torch.no_grad(), backend_context(backend, backend_facts):
            errors = output_errors(compiled(*variant_inputs), reference, changes)
        check_outputs(built.name, precision, tolerance, errors)

        # A static package is not probed: on the CPU it runs at another batch
        # and reads past its inputs instead of refusing.
        with backend_context(backend, backend_facts):
            dynamic = not static_batch and _runs_at_other_batch(compiled, built, batch_size, target, cast_dtype)
        specs = [replace(s, dtype=_spec_dtype(s.dtype, cast_dtype),
                         shape=s.shape if dynamic else tuple(batch_size if d == -1 else d for d in s.shape))
                 for s in built.specs]
        info = {"model": built.name, "format": format, "precision": precision, **compiled_facts,
                "weights": built.weights, "parameters": built.parameters, "batch_size": batch_size,
                "batch_dynamic": dynamic, "max_rel_error": max(errors, default=0.0), "output_errors": errors,
                "output_input_dependence": changes, "tolerance": tolerance, "tolerance_reason": tolerance_reason,
                "exported_on": str(target), "options": built.options, "torch_version": torch.__version__,
                "backend": backend.name, "backend_facts": backend_facts}
        path = _save(Path(output), format, compiled, package, ModelInputs(specs).to_json(), json.dumps(info))
    return ExportReport(path, info)


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`; None when there is none (or it cannot be seen)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def written_since(path: str | Path, before: tuple[int, int] | None) -> bool:
    """Whether an export has put its file at `path` since `path` had identity
    `before` (file_identity). An export writes a scratch file and renames it
    over `path` once it is whole, so another identity there is the new file,
    complete: what an interruption still stops after that (removing scratch
    folders) loses nothing."""
    now = file_identity(path)
    return now is not None and now != before


def _check_arguments(precision: str, format: str, static_batch: bool, max_autotune: bool) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    for name, given in (("static_batch", static_batch), ("max_autotune", max_autotune)):
        if given and format != "aoti":
            raise ValueError(f"{name} applies to AOTInductor packages: export with format aoti")
    if format == "aoti" and precision == "mixed":
        # torch.export drops the autocast region here: the package would run in fp32 and be mislabelled.
        raise ValueError("format aoti exports fp32, fp16 or bf16; mixed (autocast) precision needs format torchscript")


def _check_device(precision: str, target: torch.device) -> None:
    if precision != "tf32":
        return
    if target.type != "cuda":
        raise ValueError(f"tf32 needs a CUDA device (TF32 is a tensor-core mode of GPUs of compute capability 8.0 "
                         f"and later), got {target}; on the CPU export fp32 or bf16")
    major, minor = torch.cuda.get_device_capability(target)
    if major < 8:
        raise ValueError(f"tf32 needs a GPU of compute capability 8.0 or later (Ampere); {target} is {major}.{minor}")


def _check_backend(backend: BackendConfig, precision: str, format: str) -> None:
    if backend.name not in COMPILING:
        return
    if format == "aoti":
        raise ValueError(f"backend {backend.name!r} compiles with its own SDK to TorchScript: "
                         f"export it with format torchscript, not aoti")
    backend.check()
    if precision != "fp32":
        raise ValueError(f"backend {backend.name!r} compiles from fp32 and chooses its own casts: "
                         f"export with precision fp32, not {precision}")


def _compiled_variant(variant, variant_inputs, built, batch_size, target, precision, cast_dtype, format, method,
                      freeze, backend, scratch: Path, aoti_options: dict):
    """The variant compiled as `format` asks: (callable, facts, backend facts, AOTI package or None)."""
    if format == "aoti":
        batch_inputs = _cast(_other_inputs(built, max(batch_size, 2), target), cast_dtype)
        program = aoti_export.export_program(variant, variant_inputs, batch_inputs, aoti_options["static_batch"])
        package, compile_facts = aoti_export.compile_package(program, scratch, aoti_options["inductor"], target,
                                                             aoti_options["cache"])
        compiled = aoti_export.load_package(package, target, scratch / "unpacked")
        facts = {"method": "torch.export", "frozen": freeze, "inductor_options": aoti_options["inductor"],
                 **compile_facts}
        return compiled, facts, None, package
    if backend.name in COMPILING:
        compiled, backend_facts = backend.compile(variant, variant_inputs, built.parameters)
        return compiled, {"method": method, "frozen": False}, backend_facts, None  # saved as the SDK compiled it
    autocast_dtype = None
    if precision == "mixed":
        autocast_dtype = torch.float16 if target.type == "cuda" else torch.bfloat16
    compiled = _compile(variant, variant_inputs, method, autocast_dtype, target.type, built.expected_warnings)
    facts = {"method": method, "frozen": False}
    if freeze:
        compiled, frozen_facts = freeze_for_inference(compiled, variant_inputs, target)
        facts |= frozen_facts
    return compiled, facts, None, None


def _save(path: Path, format: str, compiled, package, spec_json: str, info_json: str) -> Path:
    """Writes the export whole or not at all (a scratch file beside `path`,
    renamed over it): on a full disk or any other I/O error a WriteError names
    `path`, a file already there is untouched and no scratch file remains."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if format == "aoti":
            aoti_export.write_package(package, path, spec_json, info_json)
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(path, e, existed) from e
    if format != "aoti":
        save_atomically(compiled, path, {INPUT_SPEC_FILE: spec_json, EXPORT_INFO_FILE: info_json})
    return path


def _other_inputs(built: zoo.BuiltModel, batch_size: int, device) -> tuple[torch.Tensor, ...]:
    """Inputs drawn from the model's specs with another seed than its example."""
    return tuple(t.to(device) for t in zoo.example_inputs(built.specs, batch_size, seed=1))


def _cast(inputs, dtype):
    """The floating inputs cast to `dtype` (none cast when it is None)."""
    if dtype is None:
        return inputs
    return tuple(t.to(dtype) if t.is_floating_point() else t for t in inputs)


def _spec_dtype(dtype: str, cast_dtype) -> str:
    is_float = getattr(torch, dtype).is_floating_point
    return str(cast_dtype).removeprefix("torch.") if cast_dtype and is_float else dtype


def _built(model, batch_size, inputs, input_names, options) -> zoo.BuiltModel:
    if isinstance(model, str):
        if inputs is not None:
            raise ValueError("zoo models generate their own inputs; pass seq_len/resolution instead of inputs")
        return zoo.build(model, batch_size=batch_size or 1, **options)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a zoo name or an nn.Module, not {type(model).__name__}")
    if inputs is None:
        raise ValueError("an nn.Module needs example inputs: pass inputs=...")
    from infermeter.input_spec import InputSpec
    from infermeter.torchscript_export import as_tuple

    tensors = as_tuple(inputs)
    if batch_size is not None and tensors[0].dim() and batch_size != tensors[0].shape[0]:
        raise ValueError(f"batch_size={batch_size} but the example inputs have leading dimension {tensors[0].shape[0]}")
    names = list(input_names) if input_names else [f"input{i}" for i in range(len(tensors))]
    specs = [InputSpec.from_tensor(n, t) for n, t in zip(names, tensors, strict=True)]
    return zoo.BuiltModel(type(model).__qualname__, model, tensors, specs, "given", {})
