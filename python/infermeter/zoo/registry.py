"""Named models: how each is built offline, what it takes as input, and where
its real weights are looked for locally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from infermeter.input_spec import InputSpec


@dataclass
class BuiltModel:
    """A model ready to export: eager module, one batch of example inputs, and
    the spec that regenerates such inputs at any batch size."""

    name: str
    module: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    specs: list[InputSpec]
    weights: str  # "random" or "pretrained"
    options: dict = field(default_factory=dict)
    # Tracer warnings this architecture is known to raise harmlessly.
    expected_warnings: tuple[str, ...] = ()

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    default_input: str
    build: Callable[..., BuiltModel]
    extra: str | None = None  # the pip extra that provides it, when not installed by default


REGISTRY: dict[str, ModelEntry] = {}

RANDOM = "random"
"""As `weights`: build with random weights even when real ones are cached.
Otherwise `weights` is a local file, folder or id, or None to use real weights
when they are cached and random ones when not."""


def register(entry: ModelEntry) -> None:
    REGISTRY[entry.name] = entry


def example_inputs(specs: list[InputSpec], batch_size: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Inputs drawn as the engine draws them: uniform in [low, high)."""
    g = torch.Generator().manual_seed(seed)
    tensors = []
    for s in specs:
        shape = [batch_size if d == -1 else d for d in s.shape]
        dtype = getattr(torch, s.dtype)
        if dtype.is_floating_point:
            t = torch.rand(shape, generator=g) * (s.high - s.low) + s.low
        else:
            t = torch.randint(int(s.low), int(s.high), shape, generator=g)
        tensors.append(t.to(dtype))
    return tuple(tensors)


def parameter_count(entry: ModelEntry) -> int:
    """Counted on the meta device (no memory, no weights read) where the
    model's initialisation allows it, else on the CPU."""
    try:
        with torch.device("meta"):
            return entry.build(weights=RANDOM).parameters
    except (RuntimeError, NotImplementedError):
        return entry.build(weights=RANDOM).parameters
