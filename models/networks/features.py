"""Fixed (not learned) channels the networks compute from their input: the lightness, its
difference-of-Gaussians edges and its sin/cos tone features (why each helps: :mod:`models.networks.unet`)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LUMA = (0.299, 0.587, 0.114)


def luminance(rgb01: torch.Tensor) -> torch.Tensor:
    w = rgb01.new_tensor(LUMA).view(1, 3, 1, 1)
    return (rgb01 * w).sum(dim=1, keepdim=True)


def to_grey(rgb: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """``rgb`` (N×3×H×W) blended towards its own luminance, repeated over the three channels, by
    ``weight`` (one per image, or one for the batch: 1 = grey, 0 = unchanged; None = unchanged).
    Written as ``rgb·(1−w) + Y·w`` so that w = 1 gives three exactly equal channels. The same
    Rec. 601 weights as OpenCV's RGB2GRAY, so a grey output keeps the luma the benchmarks measure."""
    if weight is None:
        return rgb
    w = weight.to(rgb.dtype).reshape(-1, 1, 1, 1)
    return rgb * (1.0 - w) + luminance(rgb) * w


def gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def separable_blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``x`` (N×1×H×W) blurred by the 1-D ``kernel`` along rows, then columns; replicate border."""
    k = kernel.reshape(1, 1, 1, -1)
    r = k.shape[-1] // 2
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.transpose(2, 3))


class EdgeFeatures(nn.Module):
    """Fixed (not learned) difference-of-Gaussians channels of the lightness: surround − centre,
    positive where a pixel is darker than its neighbourhood. Separable convs, replicate border."""

    def __init__(self, sigmas: tuple[tuple[float, float], ...]) -> None:
        super().__init__()
        self.sigmas = sigmas
        radius = max(len(gaussian_kernel(s)) // 2 for pair in sigmas for s in pair)
        kernels = []
        for pair in sigmas:
            for s in pair:
                k = gaussian_kernel(s)
                pad = radius - len(k) // 2
                kernels.append(F.pad(k, (pad, pad)))
        self.radius = radius
        self.register_buffer("kernels", torch.stack(kernels)[:, None, None, :], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.radius
        h = F.conv2d(F.pad(luminance(x), (r, r, 0, 0), mode="replicate"), self.kernels)  # N×2P×H×W, rows
        h = F.conv2d(F.pad(h, (0, 0, r, r), mode="replicate"), self.kernels.transpose(2, 3), groups=len(self.kernels))
        centre, surround = h[:, 0::2], h[:, 1::2]
        return (surround - centre) * 10.0  # ~unit scale for a 0–1 image


class ToneFeatures(nn.Module):
    """Fixed sin(2πkL), cos(2πkL) channels of the lightness L, k = 1..frequencies (all sines, then
    all cosines).

    Only k = 1 is a sin and a cos; the rest come from the angle-addition rule, doubling the
    block each step (k = 1 → 1..2 → 1..4 → 1..8 → 1..16: sin((k+n)θ) = sin kθ cos nθ + cos kθ
    sin nθ). ONNX Runtime's Sin and Cos are not vectorised (about 2 ns a value): 16 frequencies
    at the cartoon student's 160×288 took 3.1 of its 27 ms at 1280×720, the products take 1.2;
    the values agree with sin and cos to 1e-5."""

    def __init__(self, frequencies: int) -> None:
        super().__init__()
        self.frequencies = frequencies

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = luminance(x) * (2 * math.pi)
        sin, cos = torch.sin(theta), torch.cos(theta)
        n = 1
        while n < self.frequencies:
            m = min(n, self.frequencies - n)
            sin_n, cos_n = sin[:, n - 1 : n], cos[:, n - 1 : n]
            sin, cos = (torch.cat([sin, sin[:, :m] * cos_n + cos[:, :m] * sin_n], dim=1),
                        torch.cat([cos, cos[:, :m] * cos_n - sin[:, :m] * sin_n], dim=1))
            n += m
        return torch.cat([sin, cos], dim=1)
