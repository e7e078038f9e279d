"""Backends: cpu and cuda run in the native engine as they are; neuron (inf1),
neuronx (inf2/trn1) and eia (Elastic Inference) compile with their SDK and
set up its runtime first. A backend whose SDK is missing fails at once."""

from __future__ import annotations

import contextlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from infermeter.backends import eia, neuron, neuronx
from infermeter.backends.base import BackendUnavailable
from infermeter.backends.neuron import NeuronOptions
from infermeter.backends.neuronx import NeuronxOptions
from infermeter.torchscript_export import quiet_torchscript

BACKENDS = ("cpu", "cuda", "neuron", "neuronx", "eia")
COMPILING = ("neuron", "neuronx", "eia")  # backends that compile with their own SDK, from CPU tensors


class EiaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ordinal: int | None = Field(None, ge=0)  # None: ask `ei describe-accelerators --json`


class BackendConfig(BaseModel):
    """A backend and its own options (sweep config keys `backend:`, `neuron:`,
    `neuronx:`, `eia:`; command-line flags beside --backend)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Literal[BACKENDS] = "cpu"
    neuron: NeuronOptions = NeuronOptions()
    neuronx: NeuronxOptions = NeuronxOptions()
    eia: EiaOptions = EiaOptions()

    def check(self) -> None:
        """Raises BackendUnavailable when the SDK is not here."""
        if self.name == "neuron":
            neuron.SDK.check("neuron")
        elif self.name == "neuronx":
            neuronx.SDK.check("neuronx")
        elif self.name == "eia":
            eia.require()

    def check_device(self, device: str) -> None:
        if self.name in COMPILING and device != "cpu":
            raise ValueError(f"backend {self.name!r} takes its inputs from the host: leave the device as cpu, "
                             f"not {device!r}")
        if self.name == "cuda" and not device.startswith("cuda"):
            raise ValueError(f"backend 'cuda' needs a cuda device (cuda or cuda:N), not {device!r}")

    def ordinal(self) -> int:
        return self.eia.ordinal if self.eia.ordinal is not None else eia.ordinal_from_tool()

    def compile(self, module, example_inputs, parameters: int):
        """(compiled module, facts to store with it) for a compiling backend.
        The runtime is set up first: the export's own check runs the model."""
        self.start_runtime(parameters)
        with quiet_torchscript():
            return self._compile(module, example_inputs, parameters)

    def _compile(self, module, example_inputs, parameters: int):
        if self.name == "neuron":
            args = neuron.compiler_args(self.neuron, parameters)
            return neuron.compile_module(module, example_inputs, self.neuron, parameters), {
                "compiler_args": args, "mode": self.neuron.mode,
                "group_sizes": neuron.group_sizes(self.neuron, parameters)}
        if self.name == "neuronx":
            return neuronx.compile_module(module, example_inputs, self.neuronx, parameters), {
                "compiler_args": list(self.neuronx.compiler_args)}
        if self.name == "eia":
            ordinal = self.ordinal()
            return eia.compile_module(module, example_inputs, ordinal), {"target_device": f"eia:{ordinal}"}
        raise ValueError(f"backend {self.name!r} does not compile models")

    def engine_replicas(self, replicas: str, threads: int, parameters: int) -> str:
        """The engine's replica mode for this backend (neuron loads each copy
        from the file, so that each lands on its own NeuronCore group)."""
        if self.name == "neuron":
            return neuron.engine_replicas(self.neuron, replicas, threads, parameters)
        return replicas

    def start_runtime(self, parameters: int) -> None:
        """Environment and operator libraries, before the first model loads."""
        if self.name == "neuron":
            neuron.start_runtime(neuron.group_sizes(self.neuron, parameters))
        elif self.name == "neuronx":
            neuronx.start_runtime(self.neuronx)
        elif self.name == "eia":
            eia.require()


def as_backend(backend: BackendConfig | str | None, device: str) -> BackendConfig:
    """The backend a call names, or the one its device implies."""
    if backend is None:
        backend = BackendConfig(name="cuda" if device.startswith("cuda") else "cpu")
    elif isinstance(backend, str):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        backend = BackendConfig(name=backend)
    backend.check_device(device)
    return backend


def backend_context(backend: BackendConfig, facts: dict | None):
    """Where the exported model must run: inside the EI context for eia."""
    if backend.name == "eia":
        return eia.on_accelerator(int(facts["target_device"].split(":")[1]))
    return contextlib.nullcontext()


def add_arguments(parser) -> None:
    """--backend and each backend's own flags, for `export` and `run`."""
    parser = parser.add_argument_group("backend", "see docs/backends.md; neuron, neuronx and eia need their SDK")
    parser.add_argument("--backend", choices=BACKENDS, help="default: cpu, or cuda for a cuda device")
    parser.add_argument("--neuron-mode", choices=["data-parallel", "pipeline"], default="data-parallel")
    parser.add_argument("--neuroncore-pipeline-cores", type=int,
                        help="pipeline mode: cores to compile across (default 4 x round(parameters / 2e7))")
    parser.add_argument("--neuron-group-sizes", help="NEURONCORE_GROUP_SIZES (default 1,1,1,1 data parallel, "
                        "the pipeline's cores in pipeline mode)")
    parser.add_argument("--neuronx-visible-cores", help="NEURON_RT_VISIBLE_CORES for neuronx, e.g. 0-3")
    parser.add_argument("--neuronx-num-cores", type=int, help="NEURON_RT_NUM_CORES for neuronx")
    parser.add_argument("--eia-ordinal", type=int, help="Elastic Inference accelerator (default: the first "
                        "healthy one `ei describe-accelerators --json` lists)")


def from_arguments(args) -> BackendConfig | None:
    if args.backend is None:
        return None
    return BackendConfig(name=args.backend,
                         neuron=NeuronOptions(mode=args.neuron_mode, pipeline_cores=args.neuroncore_pipeline_cores,
                                              group_sizes=args.neuron_group_sizes),
                         neuronx=NeuronxOptions(visible_cores=args.neuronx_visible_cores,
                                                num_cores=args.neuronx_num_cores),
                         eia=EiaOptions(ordinal=args.eia_ordinal))


__all__ = ["BACKENDS", "COMPILING", "BackendConfig", "BackendUnavailable", "EiaOptions", "add_arguments",
           "as_backend", "backend_context", "from_arguments"]
