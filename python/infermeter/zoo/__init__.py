"""The model zoo: `build(name, ...)` for named models, `tv:<name>` for any
torchvision classifier and `hf:<id>` for any locally available Hugging Face
model. Everything builds offline; real weights are used when found locally."""

from __future__ import annotations

import inspect

import torch

# Imported for their registrations, in the order `infermeter models` lists them.
from infermeter.zoo import vision, language, imaging, detection  # noqa: F401, I001
from infermeter.zoo.registry import REGISTRY, BuiltModel, ModelEntry, example_inputs


# The seed random weights are drawn from (a result's `weights` says "random").
WEIGHTS_SEED = 0


def _builder(name: str, options: dict):
    if name.startswith("tv:"):
        return vision.build_torchvision, {"name": name[3:], **options}
    if name.startswith("hf:"):
        return language.hugging_face, {"model_id": name[3:], **options}
    if name in REGISTRY:
        return REGISTRY[name].build, options
    raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}, tv:<torchvision name>, "
                     "hf:<Hugging Face id or local folder>")


def check_options(name: str, **options) -> None:
    """Raises ValueError when `name` is unknown or does not take `options`,
    without building anything."""
    builder, options = _builder(name, options)
    try:
        inspect.signature(builder).bind(batch_size=1, **options)
    except TypeError as e:
        accepted = [p for p in inspect.signature(builder).parameters if p not in ("batch_size", "name", "model_id")]
        raise ValueError(f"bad option for model {name!r}: {e} (it takes: {', '.join(accepted)})") from None


def build(name: str, *, batch_size: int = 1, **options) -> BuiltModel:
    """Builds `name` at `batch_size`; options are the model's own (seq_len,
    resolution, weights=<local file or id>, and architecture overrides)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    check_options(name, **options)
    builder, options = _builder(name, options)
    # Random weights are drawn from a fixed seed, so that a model built twice
    # (and its export check) is the same whatever ran before in the process.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(WEIGHTS_SEED)
        return builder(batch_size=batch_size, **options)


__all__ = ["REGISTRY", "BuiltModel", "ModelEntry", "build", "check_options", "example_inputs"]
