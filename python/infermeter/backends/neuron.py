"""AWS Inferentia (inf1) through torch-neuron. Models are compiled with
torch.neuron.trace into TorchScript holding Neuron operators; the engine
measures them like any TorchScript file once torch-neuron's operator library
is in the process. NEURONCORE_GROUP_SIZES decides how the instance's
NeuronCores are grouped and is read when the runtime starts, so it is set
before torch_neuron is imported and must not change within a process.
Each torch.jit.load of a compiled model places that copy on the next free
NeuronCore group, as AWS documents for data parallelism; a deep copy of a
loaded model is not documented to move, so the engine loads every client
thread's copy from the file (replicas "per-thread-load").
Verified against AWS's documented API with test doubles, not on hardware."""

from __future__ import annotations

import os
import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from infermeter.backends.base import NEURON_INDEX, Sdk

SDK = Sdk("torch_neuron", "torch-neuron", "inf1 instances (AWS Inferentia)",
          f"pip install torch-neuron neuron-cc[tensorflow] {NEURON_INDEX}")
GROUP_SIZES_ENV = "NEURONCORE_GROUP_SIZES"
# The engine's replica mode that loads each worker's copy with its own
# torch::jit::load (worker 0 keeps the first load) instead of deep-copying it.
LOAD_PER_COPY = "per-thread-load"


class NeuronOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # data-parallel: the model compiled for one NeuronCore, one copy per core
    # group, one client thread each; pipeline: compiled across several cores.
    mode: Literal["data-parallel", "pipeline"] = "data-parallel"
    pipeline_cores: int | None = Field(None, gt=0)
    group_sizes: str | None = Field(None, pattern=r"^\d+(,\d+)*$")


def pipeline_cores_rule(parameters: int) -> int:
    """AWS's rule of thumb for --neuroncore-pipeline-cores: 4 x round(parameters / 2e7),
    and at least the four cores of one Inferentia chip (the rule gives 0 below 10M)."""
    return max(4, 4 * round(parameters / 2e7))


def pipeline_cores(options: NeuronOptions, parameters: int) -> int:
    return options.pipeline_cores or pipeline_cores_rule(parameters)


def group_sizes(options: NeuronOptions, parameters: int) -> str:
    """Data parallel: four single-core groups (the four NeuronCores of one
    Inferentia chip); pipeline: one group as large as the pipeline."""
    if options.group_sizes:
        return options.group_sizes
    return "1,1,1,1" if options.mode == "data-parallel" else str(pipeline_cores(options, parameters))


def compiler_args(options: NeuronOptions, parameters: int) -> list[str]:
    if options.mode == "pipeline":
        return ["--neuroncore-pipeline-cores", str(pipeline_cores(options, parameters))]
    return []


def start_runtime(sizes: str) -> None:
    """Sets the core grouping and loads the Neuron operators into the process."""
    current = os.environ.get(GROUP_SIZES_ENV)
    if SDK.module in sys.modules and current not in (None, sizes):
        raise ValueError(f"the Neuron runtime of this process started with {GROUP_SIZES_ENV}={current}; "
                         f"{sizes} needs a new process")
    os.environ[GROUP_SIZES_ENV] = sizes
    SDK.load("neuron")


def compile_module(module, example_inputs, options: NeuronOptions, parameters: int):
    torch_neuron = SDK.load("neuron")
    del torch_neuron  # importing it registers torch.neuron
    import torch

    return torch.neuron.trace(module, example_inputs=list(example_inputs),
                              compiler_args=compiler_args(options, parameters))


def engine_replicas(options: NeuronOptions, replicas: str, threads: int, parameters: int) -> str:
    """The replica mode the engine must use for `threads` client threads.
    per-thread: every thread's copy is its own load, so it lands on its own
    group, which needs a group per thread; shared: one load on the first
    group, which every thread calls."""
    if replicas == "shared":
        return "shared"
    if replicas != "per-thread":
        raise ValueError(f"replicas must be per-thread or shared, got {replicas!r}")
    sizes = group_sizes(options, parameters)
    groups = len(sizes.split(","))
    if threads > groups:
        raise ValueError(f"{threads} client threads each load their own copy of the model onto a NeuronCore group, "
                         f"but {GROUP_SIZES_ENV}={sizes} makes {groups}: use at most {groups} threads, more groups "
                         "(--neuron-group-sizes), or shared replicas")
    return LOAD_PER_COPY
