"""The model zoo: `build(name, ...)` for named models, `tv:<name>` for any
torchvision classifier and `hf:<id>` for any locally available Hugging Face
model. Everything builds offline; real weights are used when found locally."""

from __future__ import annotations

import inspect

# Imported for their registrations, in the order `infermeter models` lists them.
from infermeter.zoo import vision, language, imaging, detection  # noqa: F401, I001
from infermeter.zoo.registry import REGISTRY, BuiltModel, ModelEntry, example_inputs


def build(name: str, *, batch_size: int = 1, **options) -> BuiltModel:
    """Builds `name` at `batch_size`; options are the model's own (seq_len,
    resolution, weights=<local file or id>, and architecture overrides)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if name.startswith("tv:"):
        builder, options = vision.build_torchvision, {"name": name[3:], **options}
    elif name.startswith("hf:"):
        builder, options = language.hugging_face, {"model_id": name[3:], **options}
    elif name in REGISTRY:
        builder = REGISTRY[name].build
    else:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}, tv:<torchvision name>, "
                         "hf:<Hugging Face id or local folder>")
    try:
        inspect.signature(builder).bind(batch_size=batch_size, **options)
    except TypeError as e:
        raise ValueError(f"bad option for model {name!r}: {e}") from None
    return builder(batch_size=batch_size, **options)


__all__ = ["REGISTRY", "BuiltModel", "ModelEntry", "build", "example_inputs"]
