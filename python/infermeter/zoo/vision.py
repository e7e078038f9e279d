"""torchvision classifiers, by name, with real weights from the local torch hub
cache when they are there."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from infermeter.input_spec import InputSpec
from infermeter.zoo.registry import RANDOM, BuiltModel, ModelEntry, example_inputs, register


def local_weights(name: str) -> Path | None:
    """The default weights file for `name` in the torch hub cache, if present;
    nothing is downloaded."""
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        return None
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    return path if path.exists() else None


def build_torchvision(name: str, batch_size: int = 1, resolution: int = 224, weights: str | None = None) -> BuiltModel:
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"torchvision has no classification model {name!r}")
    module = torchvision.models.get_model(name, weights=None)
    path = None if weights == RANDOM else Path(weights) if weights else local_weights(name)
    if path and not path.exists():
        raise ValueError(f"weights file not found: {path}")
    if path:
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    specs = [InputSpec("image", (-1, 3, resolution, resolution), "float32", 0.0, 1.0)]
    return BuiltModel(name, module.eval(), example_inputs(specs, batch_size), specs,
                      "pretrained" if path else "random", {"resolution": resolution})


for _name in ("resnet18", "resnet50", "vgg19"):
    register(ModelEntry(_name, f"torchvision {_name}", "image 3x224x224",
                        lambda batch_size=1, resolution=224, weights=None, _n=_name:
                        build_torchvision(_n, batch_size, resolution, weights)))
