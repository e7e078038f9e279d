"""YOLOv5 detection networks. `yolov5s/m/l/x` are the anchor-based originals
the studies measured, infermeter's own code (zoo/yolov5.py). `yolov5su/mu/lu/xu`
are ultralytics' later "YOLOv5u" (YOLOv5's backbone and neck with the
anchor-free YOLOv8 head; yolov5su has about 9M parameters, yolov5s 7.2M),
built by the `ultralytics` package, an optional extra (it brings OpenCV,
polars and more). The network forward is measured; non-maximum suppression
runs on the host afterwards and is not part of it."""

from __future__ import annotations

import pickle

from infermeter.input_spec import InputSpec
from infermeter.zoo.imaging import load_local
from infermeter.zoo.registry import BuiltModel, ModelEntry, example_inputs, register
from infermeter.zoo.yolov5 import SIZES, YOLOv5, normalise_random_weights

INSTALL_HINT = "YOLOv5u needs the optional extra: pip install 'infermeter[yolo]'"


def _specs(resolution: int) -> list[InputSpec]:
    if resolution % 32:
        raise ValueError(f"YOLOv5 needs a resolution divisible by 32, got {resolution}")
    return [InputSpec("image", (-1, 3, resolution, resolution), "float32", 0.0, 1.0)]


def _load(module, weights) -> str:
    try:
        return load_local(module, weights)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{weights} is not a state dict: YOLOv5's released .pt files pickle the whole model, which needs the "
            "yolov5 code to read. Extract the weights once, in a checkout of ultralytics/yolov5: python -c \"import "
            f"torch; torch.save(torch.load('{weights}', weights_only=False)['model'].float().state_dict(), "
            "'state_dict.pt')\"") from None


def yolov5(size: str):
    def build(batch_size=1, resolution=640, weights=None, classes=80) -> BuiltModel:
        specs = _specs(resolution)
        module = YOLOv5(size, classes)
        kind = _load(module, weights)
        if kind == "random":
            normalise_random_weights(module, resolution)
        return BuiltModel(f"yolov5{size}", module.eval(), example_inputs(specs, batch_size), specs, kind,
                          {"resolution": resolution, "classes": classes, "head": "anchor-based (YOLOv5 v6.0+)"})
    return build


def yolov5u(size: str):
    def build(batch_size=1, resolution=640, weights=None, classes=80) -> BuiltModel:
        try:
            from ultralytics.nn.tasks import DetectionModel
        except ImportError as e:
            raise ValueError(f"{INSTALL_HINT} ({e})") from None
        specs = _specs(resolution)
        module = DetectionModel(f"yolov5{size}u.yaml", nc=classes, verbose=False)
        module.model[-1].export = True  # one tensor of raw predictions, as exported detectors return
        kind = load_local(module, weights)
        return BuiltModel(f"yolov5{size}u", module.eval(), example_inputs(specs, batch_size), specs, kind,
                          {"resolution": resolution, "classes": classes, "head": "anchor-free (YOLOv5u)"},
                          (r"Converting a tensor to a Python boolean", r"Iterating over a tensor"))
    return build


for _size in SIZES:
    register(ModelEntry(f"yolov5{_size}", f"YOLOv5-{_size} (v6.0+, anchor-based) detection network, NMS excluded",
                        "image 3x640x640", yolov5(_size)))
for _size in SIZES:
    register(ModelEntry(f"yolov5{_size}u", f"YOLOv5-{_size}u (ultralytics, anchor-free head), NMS excluded",
                        "image 3x640x640", yolov5u(_size), extra="yolo"))
