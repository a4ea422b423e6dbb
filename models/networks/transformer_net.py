"""Johnson et al.'s feed-forward style network, layer for layer as in pytorch/examples.

The module and parameter names match ``fast_neural_style/neural_style/transformer_net.py`` so
their ``.pth`` checkpoints load unchanged (after :func:`drop_legacy_keys`). ``width`` scales
every channel count (32 → 64 → 128 at the default) and ``outer_kernel`` the first and last
convolutions' 9×9 kernels (the two full-resolution layers that dominate the cost of a thin
network) for lighter CPU students.

Input: RGB float in 0–255, NCHW, sides a multiple of 4. Output: unbounded RGB (clamp 0–255).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from models.networks.registry import register

LEGACY_KEY = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")


@dataclass
class TransformerNetConfig:
    width: int = 32
    res_blocks: int = 5
    outer_kernel: int = 9  # conv1 and deconv3 (pytorch/examples: 9)


class ConvLayer(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_ch, out_ch, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour upsampling then a convolution (avoids transposed-conv checkerboards)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, upsample: int) -> None:
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_ch, out_ch, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


@register("transformer_net", TransformerNetConfig)
class TransformerNet(nn.Module):
    size_multiple = 4
    input_range = "0-255"

    def __init__(self, config: TransformerNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or TransformerNetConfig()
        w = self.config.width
        k = self.config.outer_kernel
        self.conv1 = ConvLayer(3, w, kernel_size=k, stride=1)
        self.in1 = nn.InstanceNorm2d(w, affine=True)
        self.conv2 = ConvLayer(w, 2 * w, kernel_size=3, stride=2)
        self.in2 = nn.InstanceNorm2d(2 * w, affine=True)
        self.conv3 = ConvLayer(2 * w, 4 * w, kernel_size=3, stride=2)
        self.in3 = nn.InstanceNorm2d(4 * w, affine=True)
        for i in range(1, self.config.res_blocks + 1):
            setattr(self, f"res{i}", ResidualBlock(4 * w))
        self.deconv1 = UpsampleConvLayer(4 * w, 2 * w, kernel_size=3, stride=1, upsample=2)
        self.in4 = nn.InstanceNorm2d(2 * w, affine=True)
        self.deconv2 = UpsampleConvLayer(2 * w, w, kernel_size=3, stride=1, upsample=2)
        self.in5 = nn.InstanceNorm2d(w, affine=True)
        self.deconv3 = ConvLayer(w, 3, kernel_size=k, stride=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.draw(x, self.features(x))

    @property
    def feature_channels(self) -> int:
        return self.config.width

    def draw(self, x: torch.Tensor, features: torch.Tensor, grey: torch.Tensor | None = None) -> torch.Tensor:
        """The picture (unbounded RGB, 0–255 scale) from :meth:`features` of ``x`` (``grey``: unused,
        the same signature as the UNet's)."""
        return self.deconv3(features)

    def features(self, x: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """The last hidden layer (``width`` channels at the input's size), before ``deconv3``
        draws the picture from it: what a sub-pixel head (models.networks.guided.FineHead) reads
        (``code``: unused, the same signature as the UNet's)."""
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, self.config.res_blocks + 1):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        return self.relu(self.in5(self.deconv2(y)))


def drop_legacy_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove InstanceNorm running statistics that old PyTorch versions saved."""
    return {k: v for k, v in state_dict.items() if not LEGACY_KEY.search(k)}


def infer_config(state_dict: dict[str, torch.Tensor]) -> TransformerNetConfig:
    """Read width, residual-block count and outer kernel size off a TransformerNet state dict."""
    weight = state_dict.get("conv1.conv2d.weight")
    if weight is None or weight.ndim != 4:
        from realtime.errors import UserError

        raise UserError("not a TransformerNet state dict: it has no 'conv1.conv2d.weight' tensor")
    blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r"res(\d+)\.", k))}
    return TransformerNetConfig(width=int(weight.shape[0]), res_blocks=max(blocks, default=0), outer_kernel=int(weight.shape[-1]))
