"""`infermeter.export`: a zoo model or nn.Module to a TorchScript file in a
chosen precision, checked numerically against eager fp32 before it is saved."""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from infermeter import zoo
from infermeter.backends import COMPILING, BackendConfig, as_backend, backend_context
from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, ModelInputs
from infermeter.torchscript_export import quiet_torchscript

PRECISIONS = ("fp32", "fp16", "bf16", "mixed")
# Relative L2 error of the exported outputs against eager fp32: fp32 sees only
# reordering; fp16 and bf16 carry 11 and 8 mantissa bits through every layer.
TOLERANCE = {"fp32": 1e-4, "fp16": 3e-2, "bf16": 1e-1, "mixed": 1e-1}


class ExportCheckError(ValueError):
    """The exported variant does not reproduce the eager fp32 outputs."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    info: dict

    def __str__(self) -> str:
        i = self.info
        return (f"{i['model']} -> {self.path} ({i['precision']}, {i['method']}{', frozen' if i['freeze'] else ''}, "
                f"{i['weights']} weights, batch {'any' if i['batch_dynamic'] else i['batch_size']}, "
                f"error {i['max_rel_error']:.2e} <= {i['tolerance']:.0e})")


def _tensors(output) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors(item)]
    return []


def relative_error(output, reference) -> float:
    """Largest relative L2 error over the floating-point output tensors."""
    worst = 0.0
    for out, ref in zip(_tensors(output), _tensors(reference), strict=True):
        if not ref.is_floating_point():
            worst = max(worst, float((out != ref).any()))
            continue
        out, ref = out.double(), ref.double()
        if not torch.isfinite(out).all():
            return float("inf")
        worst = max(worst, float((out - ref).norm() / ref.norm().clamp_min(1e-30)))
    return worst


def _cast_inputs(inputs, dtype):
    return tuple(t.to(dtype) if t.is_floating_point() else t for t in inputs)


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
    other = zoo.example_inputs(built.specs, batch_size + 1, seed=1)
    other = _cast_inputs(tuple(t.to(device) for t in other), dtype) if dtype else tuple(t.to(device) for t in other)
    try:
        with torch.no_grad():
            outputs = _tensors(compiled(*other))
    except Exception:  # noqa: BLE001 - any failure means the graph is fixed to its batch
        return False
    return bool(outputs) and all(t.dim() > 0 and t.shape[0] == batch_size + 1 for t in outputs)


def export(model: str | torch.nn.Module, output: str | Path, *, precision: str = "fp32", batch_size: int | None = None,
           method: str = "trace", freeze: bool = False, device: str = "cpu", inputs=None,
           input_names=None, backend: BackendConfig | str | None = None, **options) -> ExportReport:
    """Builds `model` (a zoo name, or an nn.Module with example `inputs`),
    converts it to `precision`, compiles it, checks it against eager fp32 on
    the same inputs and saves it with its input spec and export facts.

    precision: fp32; fp16 / bf16 cast the whole model; mixed traces under
        autocast (fp16 on GPUs, bf16 on the CPU).
    batch_size: the batch to trace at: 1 for zoo models by default; for a
        module, the leading dimension of `inputs`.
    options: the zoo model's own (seq_len, resolution, weights, ...).
    backend: neuron, neuronx or eia compile with that SDK (fp32 in, the
        compiler picks its own casts); cpu and cuda (the default) trace.
    Raises ExportCheckError when the variant's outputs are off by more than
    its precision allows.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    backend = as_backend(backend, device)
    if backend.name in COMPILING:
        backend.check()
        if precision != "fp32":
            raise ValueError(f"backend {backend.name!r} compiles from fp32 and chooses its own casts: "
                             f"export with precision fp32, not {precision}")
    target = torch.device(device)
    built = _built(model, batch_size, inputs, input_names, options)
    batch_size = built.inputs[0].shape[0] if built.inputs[0].dim() else 1

    module = built.module.to(target).eval()
    example = tuple(t.to(target) for t in built.inputs)
    with torch.no_grad():
        reference = module(*example)

    cast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    autocast_dtype = None
    if precision == "mixed":
        autocast_dtype = torch.float16 if target.type == "cuda" else torch.bfloat16
    variant = copy.deepcopy(module).to(cast_dtype) if cast_dtype else module
    variant_inputs = _cast_inputs(example, cast_dtype) if cast_dtype else example

    backend_facts = None
    if backend.name in COMPILING:
        compiled, backend_facts = backend.compile(variant, variant_inputs, built.parameters)
    else:
        compiled = _compile(variant, variant_inputs, method, autocast_dtype, target.type, built.expected_warnings)
    if freeze:
        compiled = torch.jit.freeze(compiled.eval())
    tolerance = TOLERANCE["bf16"] if backend.name in ("neuron", "neuronx") else TOLERANCE[precision]
    with torch.no_grad(), backend_context(backend, backend_facts):
        error = relative_error(compiled(*variant_inputs), reference)
    if not error <= tolerance:
        raise ExportCheckError(f"{built.name} in {precision}: outputs differ from eager fp32 by {error:.3g} "
                               f"(relative L2), more than the {tolerance:.0e} this precision allows")

    with backend_context(backend, backend_facts):
        dynamic = _runs_at_other_batch(compiled, built, batch_size, target, cast_dtype)
    specs = [replace(s, dtype=_spec_dtype(s.dtype, cast_dtype),
                     shape=s.shape if dynamic else tuple(batch_size if d == -1 else d for d in s.shape))
             for s in built.specs]
    info = {"model": built.name, "precision": precision, "method": method, "freeze": freeze,
            "weights": built.weights, "parameters": built.parameters, "batch_size": batch_size,
            "batch_dynamic": dynamic, "max_rel_error": error, "tolerance": TOLERANCE[precision],
            "exported_on": str(target), "options": built.options, "torch_version": torch.__version__,
            "backend": backend.name, "backend_facts": backend_facts}
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    with quiet_torchscript():
        torch.jit.save(compiled, str(path), _extra_files={INPUT_SPEC_FILE: ModelInputs(specs).to_json(),
                                                           EXPORT_INFO_FILE: json.dumps(info)})
    return ExportReport(path, info)


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
