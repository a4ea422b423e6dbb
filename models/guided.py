"""Run a filter network at a fraction of the frame size and bring it back with a guided filter.

Fast CPU filters (Wu et al. 2018, "Fast End-to-End Trainable Guided Filter"; He & Sun 2015):
the network sees the frame shrunk by ``factor``; a guided filter fitted at that low size
expresses the network's output, in every small window, as ``A · luminance + b``; ``A`` and
``b`` are smooth, so they are upsampled and applied to the full-size luminance. The output
keeps the network's colours and textures and the input's sharp edges, at about 1/factor² of
the network's cost. Everything is ordinary tensor ops, so it exports into the same ONNX graph
(the ONNX file stays the whole interface) and it can be trained end to end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

LUMA = (0.299, 0.587, 0.114)


@dataclass
class GuidedConfig:
    arch: str = "transformer_net"  # the inner network's architecture (see models.checkpoint.ARCHS)
    inner: dict[str, Any] = field(default_factory=dict)  # its config fields
    factor: int = 2  # the network runs at 1/factor of the frame's height and width
    radius: int = 2  # guided-filter window radius, in low-resolution pixels
    eps: float = 1e-3  # regularisation: larger = smoother, closer to plain upsampling


def box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)² window, windows cut at the borders (no zero padding counted)."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def luminance(rgb01: torch.Tensor) -> torch.Tensor:
    w = rgb01.new_tensor(LUMA).view(1, 3, 1, 1)
    return (rgb01 * w).sum(dim=1, keepdim=True)


def guided_upsample(low_in: torch.Tensor, low_out: torch.Tensor, full_in: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Fit ``low_out ≈ A·lum(low_in) + b`` locally, apply A and b to lum(full_in). 0–1 inputs."""
    guide = luminance(low_in)
    mean_i, mean_p = box(guide, radius), box(low_out, radius)
    cov = box(guide * low_out, radius) - mean_i * mean_p
    var = box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    a, b = box(a, radius), box(b, radius)
    size = full_in.shape[-2:]
    a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
    return a * luminance(full_in) + b


class GuidedUpsample(nn.Module):
    """``net`` at 1/factor size + guided upsampling; same input/output contract as ``net``."""

    def __init__(self, config: GuidedConfig | None = None, net: nn.Module | None = None) -> None:
        super().__init__()
        from models.checkpoint import build_model  # checkpoint imports this module

        self.config = cfg = config or GuidedConfig()
        if cfg.factor < 1 or cfg.radius < 1 or cfg.eps <= 0:
            raise ValueError("factor and radius must be ≥ 1 and eps > 0")
        self.net = net if net is not None else build_model(cfg.arch, dict(cfg.inner))
        self.input_range = self.net.input_range
        self.size_multiple = self.net.size_multiple * cfg.factor
        self.scale = 255.0 if self.input_range == "0-255" else 1.0

    @classmethod
    def around(cls, net: nn.Module, factor: int = 2, radius: int = 2, eps: float = 1e-3) -> "GuidedUpsample":
        """Wrap an existing network (its weights are kept and shared)."""
        import dataclasses

        from models.checkpoint import arch_name

        return cls(GuidedConfig(arch_name(net), dataclasses.asdict(net.config), factor, radius, eps), net=net)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        f = self.config.factor
        low = F.avg_pool2d(x, f) if f > 1 else x
        y = self.net.decode(low, code) if hasattr(self.net, "decode") else self.net(low)  # UNet: decode
        s = 1.0 / self.scale
        return guided_upsample(low * s, y * s, x * s, self.config.radius, self.config.eps) * self.scale
