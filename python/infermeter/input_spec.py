"""The inputs a model takes, stored in its TorchScript file so that the native
engine (and `infermeter-bench`) can build them without Python."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import torch

INPUT_SPEC_FILE = "infermeter/inputs.json"
EXPORT_INFO_FILE = "infermeter/export.json"

BATCH = -1
"""Marks the batch dimension in a shape; only the leading dimension may be it."""


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self):
        if any(d == BATCH for d in self.shape[1:]):
            raise ValueError(f"input {self.name!r}: only the leading dimension can be the batch (-1)")
        if not self.high > self.low:
            raise ValueError(f"input {self.name!r}: high ({self.high}) must exceed low ({self.low})")

    @classmethod
    def from_tensor(cls, name: str, tensor: torch.Tensor) -> "InputSpec":
        """A spec that reproduces `tensor`'s shape (batch leading), dtype and value range."""
        shape = (BATCH, *tensor.shape[1:]) if tensor.dim() > 0 else ()
        if tensor.dtype.is_floating_point:
            low = float(tensor.min()) if tensor.numel() else 0.0
            high = float(tensor.max()) if tensor.numel() else 1.0
            high = high if high > low else low + 1.0
        else:
            low = int(tensor.min()) if tensor.numel() else 0
            high = (int(tensor.max()) if tensor.numel() else 0) + 1
        return cls(name, shape, dtype_name(tensor.dtype), low, high)


@dataclass(frozen=True)
class ModelInputs:
    specs: list[InputSpec] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"inputs": [asdict(s) | {"shape": list(s.shape)} for s in self.specs]})

    @classmethod
    def from_json(cls, text: str) -> "ModelInputs":
        doc = json.loads(text)
        return cls([InputSpec(i["name"], tuple(i["shape"]), i["dtype"], i.get("low", 0.0), i.get("high", 1.0))
                    for i in doc["inputs"]])
