"""YOLOv5 (ultralytics/yolov5, v6.0 and later): the anchor-based detector the
studies measured. Built from the public model YAMLs (yolov5s.yaml ...) with the
reference code's module layout, so its parameter names (model.0.conv.weight,
..., model.24.anchors, model.24.m.0.weight) and counts match the released
models and their state dicts load. No maintained package ships this network
without its training and image stack (ultralytics now builds the anchor-free
"YOLOv5u" instead), hence it lives here."""

from __future__ import annotations

import math

import torch
from torch import nn

# depth and width multiples of models/yolov5{s,m,l,x}.yaml
SIZES = {"s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}
# COCO anchors in pixels, (w, h) pairs for P3/8, P4/16, P5/32
ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
STRIDES = (8, 16, 32)

# The layer table of the YAMLs: (inputs, repeats, module, args), channels
# before the width multiple. Layer i is `model.i` in the state dict.
LAYERS = (
    (-1, 1, "Conv", (64, 6, 2, 2)),  # 0-P1/2
    (-1, 1, "Conv", (128, 3, 2)),  # 1-P2/4
    (-1, 3, "C3", (128,)),
    (-1, 1, "Conv", (256, 3, 2)),  # 3-P3/8
    (-1, 6, "C3", (256,)),
    (-1, 1, "Conv", (512, 3, 2)),  # 5-P4/16
    (-1, 9, "C3", (512,)),
    (-1, 1, "Conv", (1024, 3, 2)),  # 7-P5/32
    (-1, 3, "C3", (1024,)),
    (-1, 1, "SPPF", (1024, 5)),  # 9
    (-1, 1, "Conv", (512, 1, 1)),
    (-1, 1, "Upsample", ()),
    ((-1, 6), 1, "Concat", ()),  # cat backbone P4
    (-1, 3, "C3", (512, False)),  # 13
    (-1, 1, "Conv", (256, 1, 1)),
    (-1, 1, "Upsample", ()),
    ((-1, 4), 1, "Concat", ()),  # cat backbone P3
    (-1, 3, "C3", (256, False)),  # 17 (P3/8 out)
    (-1, 1, "Conv", (256, 3, 2)),
    ((-1, 14), 1, "Concat", ()),  # cat head P4
    (-1, 3, "C3", (512, False)),  # 20 (P4/16 out)
    (-1, 1, "Conv", (512, 3, 2)),
    ((-1, 10), 1, "Concat", ()),  # cat head P5
    (-1, 3, "C3", (1024, False)),  # 23 (P5/32 out)
    ((17, 20, 23), 1, "Detect", ()),
)


class Conv(nn.Module):
    """Convolution, batch norm, SiLU. eps and momentum are the reference's
    (initialize_weights): eps is not in state dicts, and real weights were
    trained with 1e-3."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convolutions."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True):
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: one k x k max pool applied three times."""

    def __init__(self, c1: int, c2: int, k: int = 5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Concat(nn.Module):
    def forward(self, xs: list[torch.Tensor]):
        return torch.cat(xs, 1)


class Detect(nn.Module):
    """The anchor-based head: a 1x1 convolution per level predicting, for each
    of 3 anchors, box (4), objectness (1) and class scores; decoded to pixel
    boxes and probabilities, all levels concatenated. `anchors` is stored in
    grid units (pixels / stride), as in the reference state dicts."""

    def __init__(self, classes: int, channels: tuple[int, ...]):
        super().__init__()
        self.nc = classes
        self.no = classes + 5
        self.nl = len(ANCHORS)
        self.na = len(ANCHORS[0]) // 2
        strides = torch.tensor(STRIDES, dtype=torch.float32).view(-1, 1, 1)
        self.register_buffer("anchors", torch.tensor(ANCHORS, dtype=torch.float32).view(self.nl, -1, 2) / strides)
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in channels)
        # Grids depend only on the feature map size: computed once per size, as
        # the reference caches them, so a traced graph holds them as constants.
        self._grids: dict = {}

    def _grid(self, i: int, ny: int, nx: int):
        key = (i, ny, nx, self.anchors.dtype, self.anchors.device)
        if key not in self._grids:
            d, t = self.anchors.device, self.anchors.dtype
            yv, xv = torch.meshgrid(torch.arange(ny, device=d, dtype=t), torch.arange(nx, device=d, dtype=t),
                                    indexing="ij")
            shape = (1, self.na, ny, nx, 2)
            grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
            anchor_grid = (self.anchors[i] * STRIDES[i]).view(1, self.na, 1, 1, 2).expand(shape)
            self._grids[key] = grid, anchor_grid
        return self._grids[key]

    def forward(self, xs: list[torch.Tensor]):
        z = []
        for i in range(self.nl):
            x = self.m[i](xs[i])
            bs, _, ny, nx = x.shape
            x = x.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            grid, anchor_grid = self._grid(i, ny, nx)
            xy, wh, conf = x.sigmoid().split((2, 2, self.nc + 1), 4)
            xy = (xy * 2 + grid) * STRIDES[i]
            wh = (wh * 2) ** 2 * anchor_grid
            z.append(torch.cat((xy, wh, conf), 4).view(bs, self.na * nx * ny, self.no))
        return torch.cat(z, 1)


class YOLOv5(nn.Module):
    """YOLOv5-{s,m,l,x} in inference form: the forward returns the decoded
    predictions, batch x anchors*cells x (classes + 5) (25200 x 85 at 640x640
    for COCO); non-maximum suppression is not part of it."""

    def __init__(self, size: str = "s", classes: int = 80):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"YOLOv5 size must be one of {', '.join(SIZES)}, got {size!r}")
        if classes < 1:
            raise ValueError(f"YOLOv5 needs at least one class, got {classes}")
        depth, width = SIZES[size]
        channels = [3]
        layers = []
        for source, repeats, kind, args in LAYERS:
            n = max(round(repeats * depth), 1) if repeats > 1 else repeats
            if kind in ("Conv", "C3", "SPPF"):
                c1, c2 = channels[source], math.ceil(args[0] * width / 8) * 8
                if kind == "Conv":
                    layer = Conv(c1, c2, *args[1:])
                elif kind == "C3":
                    layer = C3(c1, c2, n, *args[1:])
                else:
                    layer = SPPF(c1, c2, *args[1:])
            elif kind == "Upsample":
                layer, c2 = nn.Upsample(scale_factor=2, mode="nearest"), channels[-1]
            elif kind == "Concat":
                layer, c2 = Concat(), sum(channels[j] if j == -1 else channels[j + 1] for j in source)
            else:
                layer, c2 = Detect(classes, tuple(channels[j + 1] for j in source)), 0
            layers.append(layer)
            channels.append(c2)
        self.model = nn.ModuleList(layers)
        self.sources = [source for source, *_ in LAYERS]
        # Outputs later layers read again; the others are dropped as soon as used.
        self.kept = {j for s in self.sources if s != -1 for j in s if j != -1}
        self._initialize_biases()

    def _initialize_biases(self):
        """The reference's prior for the head: about 8 objects per 640x640
        image and a 0.6 probability spread over the classes."""
        detect = self.model[-1]
        for conv, s in zip(detect.m, STRIDES, strict=True):
            b = conv.bias.data.view(detect.na, -1)
            b[:, 4] += math.log(8 / (640 / s) ** 2)
            b[:, 5:] += math.log(0.6 / (detect.nc - 0.99999))

    def forward(self, x):
        saved = []
        for i, (layer, source) in enumerate(zip(self.model, self.sources, strict=True)):
            if source != -1:
                x = [x if j == -1 else saved[j] for j in source]
            x = layer(x)
            saved.append(x if i in self.kept else None)
        return x


def normalise_random_weights(model: YOLOv5, resolution: int) -> None:
    """Gives a randomly initialised YOLOv5 outputs that depend on the image.

    With the reference's init alone (PyTorch's default conv init, batch norms
    at identity) the signal shrinks at each of the ~60 layers on the way to the
    head, so the outputs are the head's biases and barely change with the input
    (relative change ~1e-8): checks of outputs would compare constants. Scaling
    the conv weights up instead tips the network into growth (the stable gain
    is a knife edge), and per-channel batch-norm statistics from one random
    image amplify every other image's differences. What holds: each batch norm
    divides by one scalar, the RMS of its input over a random image at the
    resolution the model will run at (LSUV, Mishkin and Matas 2016, written
    into the running variance; running means stay 0). Each layer then keeps
    unit scale; statistics from another resolution do not carry over, as zero
    padding weighs differently on smaller maps. Costs one forward pass. The
    timing is unaffected: batch norm's arithmetic does not depend on its
    statistics."""

    def set_scale(bn: nn.BatchNorm2d, args):
        bn.running_mean.zero_()
        bn.running_var.copy_(args[0].detach().pow(2).mean().expand_as(bn.running_var))

    hooks = [m.register_forward_pre_hook(set_scale) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.rand(1, 3, resolution, resolution, device=model.model[-1].anchors.device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
