"""Test doubles for the SDKs that cannot be installed here: torch-neuron,
torch-neuronx and the Elastic Inference build of PyTorch. Each records the
calls, arguments and environment the backend used, and compiles with plain
torch.jit.trace so that what follows (saving, checking, measuring in the
engine) runs for real."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
import types
from collections import Counter
from contextlib import contextmanager
from typing import Tuple

import torch

WATCHED_ENV = ("NEURONCORE_GROUP_SIZES", "NEURON_RT_VISIBLE_CORES", "NEURON_RT_NUM_CORES")


class SdkCalls:
    def __init__(self):
        self.imports: list[dict] = []  # environment when the SDK (and its runtime) was loaded
        self.traces: list[dict] = []
        self.placed: list[int] = []  # neuron: the core group of each copy loaded from a file, in order
        self.served: Counter = Counter()  # neuron: requests run on each core group

    def env(self) -> dict:
        return {k: os.environ[k] for k in WATCHED_ENV if k in os.environ}


# The Neuron runtime as the double models it: each torch.jit.load of a
# compiled model places that copy on the next core group (AWS's documented way
# to run data parallel); a deep copy of a loaded model stays on its original's
# group (AWS documents nothing else). The compiled model carries a submodule
# whose __setstate__ (run by torch.jit.load and by deep copies) asks where it
# goes, and whose forward counts the requests each group serves. The ops are
# Python functions that the engine's own threads call through the dispatcher.
_NEURON = {"calls": None}
_NEURON_OPS = torch.library.Library("fake_neuron", "DEF")
_NEURON_OPS.define("place(int saved_group) -> int")
_NEURON_OPS.define("serve(Tensor x, int group) -> Tensor")


def _place(saved_group: int) -> int:
    calls = _NEURON["calls"]
    if saved_group >= 0:  # a copy of a placed model
        return saved_group
    calls.placed.append(len(calls.placed))
    return calls.placed[-1]


def _serve(x: torch.Tensor, group: int) -> torch.Tensor:
    _NEURON["calls"].served[group] += 1
    return x.clone()


_NEURON_OPS.impl("place", _place, "CompositeExplicitAutograd")
_NEURON_OPS.impl("serve", _serve, "CompositeExplicitAutograd")


class NeuronCoreGroup(torch.nn.Module):
    """Where a compiled model copy runs: -1 until it is loaded from a file."""

    def __init__(self):
        super().__init__()
        self.group = -1

    def forward(self, x):
        return torch.ops.fake_neuron.serve(x, self.group)

    @torch.jit.export
    def __getstate__(self) -> Tuple[int, bool]:
        return (self.group, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[int, bool]) -> None:
        self.group = torch.ops.fake_neuron.place(state[0])
        self.training = state[1]


class OnNeuronCores(torch.nn.Module):
    """A model compiled by the torch-neuron double: its first input passes
    through the core group, then the model runs."""

    def __init__(self, module):
        super().__init__()
        self.core = torch.jit.script(NeuronCoreGroup())
        self.module = module

    def forward(self, first, *rest):
        return self.module(self.core(first), *rest)


class _Loader(importlib.abc.Loader):
    def __init__(self, setup):
        self.setup = setup

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self.setup(module)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, name, setup):
        self.name, self.setup = name, setup

    def find_spec(self, fullname, path, target=None):
        if fullname == self.name:
            return importlib.machinery.ModuleSpec(fullname, _Loader(self.setup))
        return None


def _trace(calls: SdkCalls, sdk: str, wrap=lambda module: module):
    def trace(module, example_inputs, compiler_args=None, **kwargs):
        calls.traces.append({"sdk": sdk, "inputs": [tuple(t.shape) for t in example_inputs],
                             "input_container": type(example_inputs).__name__, "compiler_args": compiler_args,
                             "kwargs": kwargs, "env": calls.env()})
        return torch.jit.trace(wrap(module), tuple(example_inputs))
    return trace


@contextmanager
def installed(monkeypatch, name: str, setup):
    monkeypatch.delitem(sys.modules, name, raising=False)
    finder = _Finder(name, setup)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop(name, None)


def fake_torch_neuron(monkeypatch) -> tuple[SdkCalls, object]:
    """`import torch_neuron` registers torch.neuron.trace, as the real package
    does; its models run on the core groups the double's runtime places them on."""
    calls = SdkCalls()
    monkeypatch.setitem(_NEURON, "calls", calls)

    def setup(module):
        calls.imports.append(calls.env())
        monkeypatch.setattr(torch, "neuron", types.SimpleNamespace(trace=_trace(calls, "torch-neuron", OnNeuronCores)),
                            raising=False)
    return calls, installed(monkeypatch, "torch_neuron", setup)


def fake_torch_neuronx(monkeypatch) -> tuple[SdkCalls, object]:
    calls = SdkCalls()

    def setup(module):
        calls.imports.append(calls.env())
        module.trace = _trace(calls, "torch-neuronx")
    return calls, installed(monkeypatch, "torch_neuronx", setup)


class ElasticInferenceBuild:
    """torch.jit.optimized_execution as the EI build of PyTorch 1.3.1 has it:
    a second argument naming the target device. Records every entry with
    its thread, and how many model calls each thread made inside it."""

    def __init__(self, monkeypatch):
        self.entries: list[tuple[str, int]] = []
        self.local = threading.local()
        self.lock = threading.Lock()
        monkeypatch.setattr(torch.jit, "optimized_execution", self.optimized_execution)

    @contextmanager
    def optimized_execution(self, should_optimize, options=None):
        assert should_optimize is True and set(options) == {"target_device"}
        with self.lock:
            self.entries.append((options["target_device"], threading.get_ident()))
        self.local.device = options["target_device"]
        try:
            yield
        finally:
            self.local.device = None

    def current_device(self):
        return getattr(self.local, "device", None)


def fake_ei_tool(tmp_path, devices: list[dict]) -> str:
    """An `ei` executable that answers `describe-accelerators --json` as AWS documents it."""
    tool = tmp_path / "ei"
    doc = {"ei_client_version": "1.5.3", "time": "Mon Nov 23 10:00:00 2026", "attached_accelerators": len(devices),
           "devices": devices}
    tool.write_text(f"#!/bin/sh\n[ \"$1\" = describe-accelerators ] && [ \"$2\" = --json ] || exit 3\n"
                    f"cat <<'EOF'\n{json.dumps(doc)}\nEOF\n")
    tool.chmod(0o755)
    return str(tool)
