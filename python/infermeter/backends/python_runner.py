"""A TorchScript model whose requests the engine's workers make through
Python (csrc/python_runner.h), for runtimes whose state lives in a Python
context: Elastic Inference's optimized_execution is entered per Python
thread. It runs in the engine's own worker pool, with its loads, stop rules,
recording and result; only its requests cross into Python (each takes the
GIL), which adds a few microseconds that the native runners do not have."""

from __future__ import annotations

import contextlib
import json
from contextlib import AbstractContextManager
from typing import Callable

import torch

from infermeter.input_spec import EXPORT_INFO_FILE, INPUT_SPEC_FILE, ModelInputs
from infermeter.torchscript_export import quiet_torchscript
from infermeter.zoo.registry import example_inputs

RUNNER = "python"  # the model runner's name in results


class _Replica:
    """One worker's requests, made inside the context it entered on its thread."""

    def __init__(self, call: Callable[[], object], stack: contextlib.ExitStack):
        self._call, self._stack = call, stack

    def __call__(self):
        return self._call()

    def close(self) -> None:
        self._stack.close()


class PythonModel:
    """`path`'s TorchScript module, loaded once and shared by the workers;
    each worker calls it inside `context()` (entered on the worker's own
    thread), with inputs generated from the stored spec or given."""

    def __init__(self, path: str, batch_size: int | None, seed: int,
                 context: Callable[[], AbstractContextManager], inputs: tuple[torch.Tensor, ...] | None = None,
                 facts: dict | None = None):
        extra = {INPUT_SPEC_FILE: "", EXPORT_INFO_FILE: ""}
        with quiet_torchscript():
            self._module = torch.jit.load(path, _extra_files=extra)
        if inputs is None:
            if not extra[INPUT_SPEC_FILE]:
                raise ValueError(f"{path} has no input spec: export it with infermeter")
            specs = ModelInputs.from_json(extra[INPUT_SPEC_FILE]).specs
            fixed = [s.shape[0] for s in specs if s.shape and s.shape[0] != -1]
            inputs = example_inputs(specs, batch_size or (fixed[0] if fixed else 1), seed)
        self._inputs = inputs
        self._context = context
        self.batch_size = inputs[0].shape[0] if inputs and inputs[0].dim() else 1
        try:
            export = json.loads(extra[EXPORT_INFO_FILE]) if extra[EXPORT_INFO_FILE] else None
        except ValueError:
            export = None
        self._description = {"path": path, "format": "torchscript", "runner": RUNNER, "export": export,
                             "inputs": [{"name": f"input{i}", "shape": list(t.shape),
                                         "dtype": str(t.dtype).removeprefix("torch.")}
                                        for i, t in enumerate(inputs)]} | (facts or {})

    def describe(self) -> dict:
        return self._description

    def replica(self, worker: int) -> _Replica:
        stack = contextlib.ExitStack()
        stack.enter_context(self._context())
        stack.enter_context(torch.no_grad())
        module, inputs = self._module, self._inputs
        return _Replica(lambda: module(*inputs), stack)
