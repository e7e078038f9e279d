"""AWS Inferentia2 and Trainium (inf2, trn1) through torch-neuronx: models are
compiled with torch_neuronx.trace; the NeuronCores the process may use come
from the runtime's NEURON_RT_VISIBLE_CORES (or NEURON_RT_NUM_CORES), read
when the runtime starts. Data parallelism is one model copy per client
thread, which the runtime places on successive cores. Verified against AWS's
documented API with test doubles, not on hardware."""

from __future__ import annotations

import os
import sys

from pydantic import BaseModel, ConfigDict, Field

from infermeter.backends.base import NEURON_INDEX, Sdk

SDK = Sdk("torch_neuronx", "torch-neuronx", "inf2 and trn1 instances (AWS Inferentia2, Trainium)",
          f"pip install torch-neuronx neuronx-cc {NEURON_INDEX}")


class NeuronxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    visible_cores: str | None = Field(None, pattern=r"^\d+(-\d+)?(,\d+(-\d+)?)*$")  # e.g. "0-3"
    num_cores: int | None = Field(None, gt=0)
    compiler_args: list[str] = []


def runtime_env(options: NeuronxOptions) -> dict[str, str]:
    env = {}
    if options.visible_cores:
        env["NEURON_RT_VISIBLE_CORES"] = options.visible_cores
    if options.num_cores:
        env["NEURON_RT_NUM_CORES"] = str(options.num_cores)
    return env


def start_runtime(options: NeuronxOptions) -> None:
    env = runtime_env(options)
    changed = {k: v for k, v in env.items() if os.environ.get(k, v) != v}
    if SDK.module in sys.modules and changed:
        raise ValueError(f"the Neuron runtime of this process already started; {changed} needs a new process")
    os.environ.update(env)
    SDK.load("neuronx")


def compile_module(module, example_inputs, options: NeuronxOptions, parameters: int):
    torch_neuronx = SDK.load("neuronx")
    return torch_neuronx.trace(module, tuple(example_inputs), compiler_args=list(options.compiler_args) or None)
