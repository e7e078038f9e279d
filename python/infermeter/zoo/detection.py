"""YOLOv5 detection networks from ultralytics, an optional extra (it brings
OpenCV, polars and more). The `yolov5` package itself no longer imports on
current setuptools, so the maintained ultralytics package supplies them: its
YOLOv5 configs keep YOLOv5's backbone and neck with ultralytics' anchor-free
head ("YOLOv5u"), so parameter counts differ from the 2020 originals (yolov5s:
9.2M here, 7.2M there). The network forward is measured; non-maximum
suppression runs on the host afterwards and is not part of it."""

from __future__ import annotations

from infermeter.input_spec import InputSpec
from infermeter.zoo.imaging import load_local
from infermeter.zoo.registry import BuiltModel, ModelEntry, example_inputs, register

INSTALL_HINT = "YOLOv5 needs the optional extra: pip install 'infermeter[yolo]'"


def yolov5(size: str):
    def build(batch_size=1, resolution=640, weights=None, classes=80) -> BuiltModel:
        try:
            from ultralytics.nn.tasks import DetectionModel
        except ImportError as e:
            raise ValueError(f"{INSTALL_HINT} ({e})") from None
        if resolution % 32:
            raise ValueError(f"YOLOv5 needs a resolution divisible by 32, got {resolution}")
        module = DetectionModel(f"yolov5{size}u.yaml", nc=classes, verbose=False)
        module.model[-1].export = True  # one tensor of raw predictions, as exported detectors return
        kind = load_local(module, weights)
        specs = [InputSpec("image", (-1, 3, resolution, resolution), "float32", 0.0, 1.0)]
        return BuiltModel(f"yolov5{size}", module.eval(), example_inputs(specs, batch_size), specs, kind,
                          {"resolution": resolution, "head": "anchor-free (YOLOv5u)"},
                          (r"Converting a tensor to a Python boolean", r"Iterating over a tensor"))
    return build


for _size in "smlx":
    register(ModelEntry(f"yolov5{_size}", f"YOLOv5-{_size} (ultralytics YOLOv5u) detection network, NMS excluded",
                        "image 3x640x640", yolov5(_size), extra="yolo"))
