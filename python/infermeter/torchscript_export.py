"""Turns an nn.Module into a TorchScript file the engine can run, with its
input spec and export facts embedded."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, InputSpec, ModelInputs


@contextmanager
def quiet_torchscript():
    """TorchScript is deprecated from torch 2.10 but is what the engine runs;
    its deprecation notices are expected and not the user's concern. Tracer
    warnings about the model itself still show."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


def as_tuple(inputs: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    tensors = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError("inputs must be a tensor or a sequence of tensors")
    return tensors


def save_torchscript(module: torch.nn.Module, example_inputs, path: str | Path, *, method: str = "trace",
                     input_names: Sequence[str] | None = None, info: dict | None = None) -> Path:
    """Compiles `module` with `method` ("trace" or "script") on `example_inputs`
    and saves it to `path` with the spec of those inputs embedded."""
    tensors = as_tuple(example_inputs)
    names = list(input_names) if input_names else [f"input{i}" for i in range(len(tensors))]
    if len(names) != len(tensors):
        raise ValueError(f"{len(names)} input names for {len(tensors)} inputs")
    module = module.eval()
    with quiet_torchscript(), torch.inference_mode(False), torch.no_grad():
        if method == "trace":
            compiled = torch.jit.trace(module, tensors)
        elif method == "script":
            compiled = torch.jit.script(module)
        else:
            raise ValueError(f"method must be 'trace' or 'script', got {method!r}")
        spec = ModelInputs([InputSpec.from_tensor(n, t) for n, t in zip(names, tensors)])
        extra = {INPUT_SPEC_FILE: spec.to_json(),
                 EXPORT_INFO_FILE: json.dumps({"method": method, "torch_version": torch.__version__, **(info or {})})}
        path = Path(path)
        torch.jit.save(compiled, str(path), _extra_files=extra)
    return path


def freeze_for_inference(compiled: torch.jit.ScriptModule, example_inputs,
                         device) -> tuple[torch.jit.ScriptModule, dict]:
    """Freezes `compiled` (weights become constants, conv+batch-norm folds) and
    applies torch.jit.optimize_for_inference when the optimized graph survives
    a save/load round trip and runs: on the CPU that pass swaps in MKLDNN
    constants that TorchScript cannot serialize, so CPU exports usually stay
    frozen only. Returns the module as it loads back from a file, which is what
    the engine will run, and facts saying which passes were applied."""
    with quiet_torchscript():
        frozen = torch.jit.freeze(compiled.eval())
        try:
            optimized = _round_trip(torch.jit.optimize_for_inference(torch.jit.freeze(compiled.eval())), device)
            with torch.no_grad():
                optimized(*example_inputs)
            return optimized, {"frozen": True, "optimized_for_inference": True}
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return _round_trip(frozen, device), {"frozen": True, "optimized_for_inference": False,
                                                 "optimize_for_inference_skipped": reason}


def _round_trip(module: torch.jit.ScriptModule, device) -> torch.jit.ScriptModule:
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer, map_location=device)
