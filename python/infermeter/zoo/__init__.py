"""The model zoo: `build(name, ...)` for named models, `tv:<name>` for any
torchvision classifier and `hf:<id>` for any locally available Hugging Face
model. Everything builds offline; real weights are used when found locally."""

from __future__ import annotations

from infermeter.zoo import detection, imaging, language, vision  # noqa: F401  (they register their models)
from infermeter.zoo.registry import REGISTRY, BuiltModel, ModelEntry, example_inputs


def build(name: str, *, batch_size: int = 1, **options) -> BuiltModel:
    """Builds `name` at `batch_size`; options are the model's own (seq_len,
    resolution, weights=<local file or id>, and architecture overrides)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    try:
        if name.startswith("tv:"):
            return vision.build_torchvision(name[3:], batch_size, **options)
        if name.startswith("hf:"):
            return language.hugging_face(name[3:], batch_size, **options)
        if name not in REGISTRY:
            raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}, tv:<torchvision name>, "
                             "hf:<Hugging Face id or local folder>")
        return REGISTRY[name].build(batch_size=batch_size, **options)
    except TypeError as e:
        raise ValueError(f"bad option for model {name!r}: {e}") from None


__all__ = ["REGISTRY", "BuiltModel", "ModelEntry", "build", "example_inputs"]
