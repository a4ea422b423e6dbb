"""Fixed (not learned) channels the networks compute from their input: the lightness, its
difference-of-Gaussians edges and its sin/cos tone features (why each helps: :mod:`models.networks.unet`)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LUMA = (0.299, 0.587, 0.114)


def luminance(rgb01: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma of N×3×H×W RGB, N×1×H×W. An einsum, exported as one ONNX Einsum: ONNX
    Runtime ran the product and channel sum (Mul + ReduceSum) at 0.82 ms for a 512×384 frame,
    the Einsum at 0.40, the same values (2-core CPU)."""
    return torch.einsum("c,nchw->nhw", rgb01.new_tensor(LUMA), rgb01).unsqueeze(1)


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
        # padded once on all four sides: a replicated row's row-blur is the edge row's, so the
        # column pass reads what a second pad would have made, bit for bit, without it (ONNX
        # Runtime reordered the blocked layout out and back in around that pad: 0.6 ms of the
        # cartoon student's 35 at 512×384)
        h = F.conv2d(F.pad(luminance(x), (r, r, r, r), mode="replicate"), self.kernels)  # N×2P×(H+2r)×W, rows
        h = F.conv2d(h, self.kernels.transpose(2, 3), groups=len(self.kernels))
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
        return torch.cat(self.planes(x), dim=1)

    def planes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The channels of :meth:`forward` as the blocks the last step leaves (sines, then
        cosines), for a caller that concatenates them with its other inputs in one pass: the
        last step's two 16-channel concats and the 32-channel one cost 1.0 ms of the cartoon
        student's 35 at 512×384 (ONNX Runtime profile, 2-core CPU)."""
        theta = luminance(x) * (2 * math.pi)
        sin, cos = [torch.sin(theta)], [torch.cos(theta)]
        n = 1
        while n < self.frequencies:
            m = min(n, self.frequencies - n)
            s, c = (sin[0], cos[0]) if n == 1 else (torch.cat(sin, dim=1), torch.cat(cos, dim=1))
            sin_n, cos_n = s[:, n - 1 : n], c[:, n - 1 : n]
            sin, cos = [s, s[:, :m] * cos_n + c[:, :m] * sin_n], [c, c[:, :m] * cos_n - s[:, :m] * sin_n]
            n += m
        return [*sin, *cos]
