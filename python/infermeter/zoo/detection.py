"""YOLOv5 detection networks from the `yolov5` package (an optional extra:
it brings ultralytics, OpenCV and more). The network forward is measured;
non-maximum suppression runs on the host in Python and is not part of it."""

from __future__ import annotations

from importlib import resources

from infermeter.input_spec import InputSpec
from infermeter.zoo.imaging import load_local
from infermeter.zoo.registry import BuiltModel, ModelEntry, example_inputs, register

INSTALL_HINT = "YOLOv5 needs the optional extra: pip install 'infermeter[yolo]'"


def yolov5(size: str):
    def build(batch_size=1, resolution=640, weights=None, classes=80) -> BuiltModel:
        try:
            from yolov5.models.yolo import DetectionModel
        except ImportError as e:
            raise ValueError(f"{INSTALL_HINT} ({e})") from None
        cfg = resources.files("yolov5.models") / f"yolov5{size}.yaml"
        module = DetectionModel(str(cfg), ch=3, nc=classes)
        kind = load_local(module, weights)
        specs = [InputSpec("image", (-1, 3, resolution, resolution), "float32", 0.0, 1.0)]
        return BuiltModel(f"yolov5{size}", module.eval(), example_inputs(specs, batch_size), specs, kind,
                          {"resolution": resolution}, (r"Converting a tensor to a Python boolean",))
    return build


for _size in "smlx":
    register(ModelEntry(f"yolov5{_size}", f"YOLOv5-{_size} detection network (NMS not included)",
                        "image 3x640x640", yolov5(_size), extra="yolo"))
