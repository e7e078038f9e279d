"""Turns an nn.Module into a TorchScript file the engine can run, with its
input spec and export facts embedded."""

from __future__ import annotations

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
