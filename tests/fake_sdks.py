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
from contextlib import contextmanager

import torch

WATCHED_ENV = ("NEURONCORE_GROUP_SIZES", "NEURON_RT_VISIBLE_CORES", "NEURON_RT_NUM_CORES")


class SdkCalls:
    def __init__(self):
        self.imports: list[dict] = []  # environment when the SDK (and its runtime) was loaded
        self.traces: list[dict] = []

    def env(self) -> dict:
        return {k: os.environ[k] for k in WATCHED_ENV if k in os.environ}


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


def _trace(calls: SdkCalls, sdk: str):
    def trace(module, example_inputs, compiler_args=None, **kwargs):
        calls.traces.append({"sdk": sdk, "inputs": [tuple(t.shape) for t in example_inputs],
                             "input_container": type(example_inputs).__name__, "compiler_args": compiler_args,
                             "kwargs": kwargs, "env": calls.env()})
        return torch.jit.trace(module, tuple(example_inputs))
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
    """`import torch_neuron` registers torch.neuron.trace, as the real package does."""
    calls = SdkCalls()

    def setup(module):
        calls.imports.append(calls.env())
        monkeypatch.setattr(torch, "neuron", types.SimpleNamespace(trace=_trace(calls, "torch-neuron")), raising=False)
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
