"""Image-to-image models: UNet segmentation and EDSR super-resolution."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from infermeter.input_spec import InputSpec
from infermeter.zoo.registry import RANDOM, BuiltModel, ModelEntry, example_inputs, register


def load_local(module: nn.Module, weights: str | None) -> str:
    if not weights or weights == RANDOM:
        return "random"
    path = Path(weights)
    if not path.exists():
        raise ValueError(f"weights file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    return "pretrained"


def image_specs(resolution: int) -> list[InputSpec]:
    return [InputSpec("image", (-1, 3, resolution, resolution), "float32", 0.0, 1.0)]


def unet(batch_size=1, resolution=512, weights=None, encoder="resnet34", classes=1) -> BuiltModel:
    import segmentation_models_pytorch as smp

    if resolution % 32:
        raise ValueError(f"UNet needs a resolution divisible by 32, got {resolution}")
    module = smp.Unet(encoder_name=encoder, encoder_weights=None, classes=classes)
    kind = load_local(module, weights)
    specs = image_specs(resolution)
    return BuiltModel("unet", module.eval(), example_inputs(specs, batch_size), specs, kind,
                      {"resolution": resolution, "encoder": encoder})


class MeanShift(nn.Conv2d):
    """Subtracts (or adds back) the DIV2K RGB mean, as a fixed 1x1 convolution."""

    def __init__(self, sign: int, rgb_range: float = 255.0, rgb_mean=(0.4488, 0.4371, 0.4040)):
        super().__init__(3, 3, kernel_size=1)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1)
        self.bias.data = sign * rgb_range * torch.tensor(rgb_mean)
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    def __init__(self, feats: int, res_scale: float):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(feats, feats, 3, padding=1), nn.ReLU(True),
                                  nn.Conv2d(feats, feats, 3, padding=1))
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.body(x) * self.res_scale


class EDSR(nn.Module):
    """EDSR (Lim et al., 2017). Parameter names follow the authors' EDSR-PyTorch
    code, so its released checkpoints load; no maintained package ships EDSR
    without an image-processing stack, hence it lives here."""

    def __init__(self, scale: int = 2, blocks: int = 16, feats: int = 64, res_scale: float = 1.0,
                 rgb_range: float = 255.0):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"EDSR scale must be 2, 3 or 4, got {scale}")
        self.sub_mean = MeanShift(-1, rgb_range)
        self.add_mean = MeanShift(1, rgb_range)
        self.head = nn.Sequential(nn.Conv2d(3, feats, 3, padding=1))
        self.body = nn.Sequential(*[ResBlock(feats, res_scale) for _ in range(blocks)],
                                  nn.Conv2d(feats, feats, 3, padding=1))
        if scale == 3:
            upsample = [nn.Conv2d(feats, 9 * feats, 3, padding=1), nn.PixelShuffle(3)]
        else:
            upsample = [layer for _ in range(scale // 2)
                        for layer in (nn.Conv2d(feats, 4 * feats, 3, padding=1), nn.PixelShuffle(2))]
        self.tail = nn.Sequential(nn.Sequential(*upsample), nn.Conv2d(feats, 3, 3, padding=1))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        x = x + self.body(x)
        return self.add_mean(self.tail(x))


def edsr(batch_size=1, resolution=256, weights=None, scale=2, variant="baseline") -> BuiltModel:
    """`variant`: "baseline" (16 blocks, 64 features) or "full" (32 blocks, 256
    features, residual scaling 0.1), as in the paper."""
    shapes = {"baseline": dict(blocks=16, feats=64, res_scale=1.0), "full": dict(blocks=32, feats=256, res_scale=0.1)}
    if variant not in shapes:
        raise ValueError(f"EDSR variant must be one of {sorted(shapes)}, got {variant!r}")
    module = EDSR(scale=scale, **shapes[variant])
    kind = load_local(module, weights)
    specs = [InputSpec("image", (-1, 3, resolution, resolution), "float32", 0.0, 255.0)]
    return BuiltModel("edsr", module.eval(), example_inputs(specs, batch_size), specs, kind,
                      {"resolution": resolution, "scale": scale, "variant": variant})


register(ModelEntry("unet", "UNet (resnet34 encoder) segmentation, segmentation-models-pytorch",
                    "image 3x512x512", unet))
register(ModelEntry("edsr", "EDSR super-resolution x2 (baseline)", "image 3x256x256, 0-255", edsr))
