"""FilterClone's UNet: clones an image filter from (input, output) pairs by L1 regression.

Levels of residual blocks (GroupNorm + SiLU + 3×3 conv), 2× downsamplings between the first
``num_downsamples`` levels, skip concatenation on the way up, no output activation.

The optional VQ latent picks between output variants of the same input (e.g. thick or thin
edges). During training :class:`LatentEncoder` looks at input *and* target and outputs a
``code_dim``-vector that :class:`VectorQuantizer` snaps to the nearest of ``latent_codes``
codebook entries; the decoder sees the chosen entry as ``code_dim`` extra constant input
channels. At inference the user picks a code index.

``edge_sigmas`` (optional, our addition) gives the network fixed difference-of-Gaussians
channels of the input's lightness as extra inputs, one per (centre σ, surround σ) pair. Thin
dark outlines are sparse and the small CPU-sized UNet learns them slowly by L1 alone (a 5,000
step run drew them faintly); with the DoG channel an outline is one learned threshold away.

``tone_frequencies`` (optional, our addition) gives it sin(2πkL) and cos(2πkL) of the
lightness L for k = 1..F: Fourier features of the *value* (Tancik et al. 2020, "Fourier
features let networks learn high frequency functions"). A staircase of lightness bands (the
cartoon's) is L minus a sawtooth, and a sawtooth is a weighted sum of these sines, so the bands
become a linear read-out instead of a function a small network fits slowly: without them the
bundled cartoon net drew the outlines and the smoothing but not the bands (its error to the
band-free teacher was 3–5 levels, to the real one 5–9).

``monochrome_codes`` (optional, our addition) names latent codes whose teacher style is grey
(the sketch's graphite and charcoal: :func:`models.teachers.classical.monochrome_codes`). For
those codes the output is replaced by its own luminance on all three channels, in the network
itself: a gather of a fixed 0/1 mask by the code index and a blend, so the exported ONNX graph
(latent as an input) carries it too. Trained without it, the sketch network drew its grey
variants with a faint tint (mean Lab chroma 4 where the teacher has 0.01).

Input and output: RGB float in 0–1, NCHW, sides a multiple of ``2 ** num_downsamples``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from models.networks.features import EdgeFeatures, ToneFeatures, to_grey
from models.networks.registry import register


@dataclass
class UNetConfig:
    channels: tuple[int, ...] = (32, 64, 64, 128)
    blocks_per_level: int = 2
    num_downsamples: int = 2
    latent_codes: int = 0  # K codebook entries; 0 = no latent
    code_dim: int = 3
    residual_output: bool = False  # predict output − input instead of output
    norm_groups: int = 32  # GroupNorm groups (FilterClone: 32); fewer learn faster in thin nets
    edge_sigmas: tuple[tuple[float, float], ...] = ()  # fixed DoG input channels (centre σ, surround σ)
    tone_frequencies: int = 0  # fixed sin/cos channels of the lightness at 1..F cycles over 0–1 (0 = none)
    monochrome_codes: tuple[int, ...] = ()  # latent codes whose output is made grey (their teacher style is)

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.edge_sigmas = tuple((float(a), float(b)) for a, b in self.edge_sigmas)
        self.monochrome_codes = tuple(sorted({int(k) for k in self.monochrome_codes}))
        if any(not 0 <= k < self.latent_codes for k in self.monochrome_codes):
            raise ValueError(f"monochrome_codes {self.monochrome_codes} must be latent codes (0 to {self.latent_codes - 1})")
        if not 0 <= self.num_downsamples < len(self.channels):
            raise ValueError("num_downsamples must be smaller than the number of levels")
        if not 0 <= self.tone_frequencies <= 32:
            raise ValueError("tone_frequencies must be 0 (none) to 32")

    @property
    def size_multiple(self) -> int:
        return 2**self.num_downsamples


def group_norm(channels: int, groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with ``groups`` groups where the channel count allows it (FilterClone: 32)."""
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, groups: int = 32) -> None:
        super().__init__()
        self.norm1 = group_norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2 = group_norm(out_ch, groups)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


def _blocks(in_ch: int, out_ch: int, count: int, groups: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(in_ch if i == 0 else out_ch, out_ch, groups) for i in range(count)])


class LatentEncoder(nn.Module):
    """Training-time encoder: (input, target) → one ``code_dim`` vector per image."""

    def __init__(self, code_dim: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(6, width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), group_norm(2 * width), nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), group_norm(2 * width), nn.SiLU(),
        )
        self.head = nn.Linear(2 * width, code_dim)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        h = self.net(torch.cat([x, target], dim=1)).mean(dim=(2, 3))
        return self.head(h)


class VectorQuantizer(nn.Module):
    """Nearest-codebook-entry quantisation with a straight-through gradient."""

    def __init__(self, codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(codes, dim) * 0.5)
        self.beta = beta

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (quantised vectors with straight-through gradient, indices, codebook loss)."""
        indices = torch.cdist(z, self.codebook).argmin(dim=1)
        chosen = self.codebook[indices]
        loss = F.mse_loss(chosen, z.detach()) + self.beta * F.mse_loss(z, chosen.detach())
        return z + (chosen - z).detach(), indices, loss

    @torch.no_grad()
    def reset_codes(self, dead: torch.Tensor, candidates: torch.Tensor) -> int:
        """Move every dead code onto a random recent encoder output; return how many moved."""
        idx = dead.nonzero().flatten()
        if len(idx) == 0 or len(candidates) == 0:
            return 0
        pick = torch.randint(len(candidates), (len(idx),), device=candidates.device)
        self.codebook[idx] = candidates[pick] + 0.01 * torch.randn_like(candidates[pick])
        return len(idx)


@dataclass
class UNetOutput:
    image: torch.Tensor
    vq_loss: torch.Tensor
    indices: torch.Tensor | None = None  # chosen code per image
    encodings: torch.Tensor | None = None  # encoder outputs before quantisation (training)


@register("unet", UNetConfig)
class UNet(nn.Module):
    input_range = "0-1"

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or UNetConfig()
        ch = cfg.channels
        extra = (cfg.code_dim if cfg.latent_codes else 0) + len(cfg.edge_sigmas) + 2 * cfg.tone_frequencies
        self.size_multiple = cfg.size_multiple
        self.edges = EdgeFeatures(cfg.edge_sigmas) if cfg.edge_sigmas else None
        self.tones = ToneFeatures(cfg.tone_frequencies) if cfg.tone_frequencies else None
        self.input_conv = nn.Conv2d(3 + extra, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, c in enumerate(ch):
            self.down_blocks.append(_blocks(ch[max(i - 1, 0)], c, cfg.blocks_per_level, cfg.norm_groups))
            if i < cfg.num_downsamples:
                self.downsamples.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for i in reversed(range(len(ch))):
            # channels arriving from below: the upsample conv already maps to ch[i]
            below = ch[i + 1] if cfg.num_downsamples < i + 1 < len(ch) else ch[i]
            self.up_blocks.append(_blocks(below + ch[i], ch[i], cfg.blocks_per_level, cfg.norm_groups))
            if 0 < i <= cfg.num_downsamples:
                self.upsamples.append(nn.Conv2d(ch[i], ch[i - 1], 3, padding=1))
        self.out_norm = group_norm(ch[0], cfg.norm_groups)
        self.out_conv = nn.Conv2d(ch[0], 3, 3, padding=1)
        if cfg.latent_codes:
            self.encoder = LatentEncoder(cfg.code_dim)
            self.quantizer = VectorQuantizer(cfg.latent_codes, cfg.code_dim)
        self.set_monochrome_codes(cfg.monochrome_codes)

    def set_monochrome_codes(self, codes: tuple[int, ...]) -> None:
        """Make the output of ``codes`` grey (a config fact, kept in checkpoints; not a weight)."""
        self.config.monochrome_codes = tuple(codes)
        self.config.__post_init__()
        mask = torch.zeros(self.config.latent_codes, device=self.input_conv.weight.device)
        for k in self.config.monochrome_codes:
            mask[k] = 1.0
        # not in the state dict: checkpoints from before the flag load unchanged; the config says it
        self.register_buffer("grey_mask", mask, persistent=False)

    def grey_weights(self, indices: torch.Tensor | None) -> torch.Tensor | None:
        """1 for each code index in ``indices`` that is monochrome, else 0; None when no code is
        (then the graph has no grey stage at all)."""
        if indices is None or not self.config.monochrome_codes:
            return None
        return self.grey_mask[indices]

    def decode(self, x: torch.Tensor, code: torch.Tensor | None = None, grey: torch.Tensor | None = None) -> torch.Tensor:
        """Run the filter on ``x`` with ``code`` (N × code_dim vectors) when the net has a latent;
        ``grey`` (from :meth:`grey_weights` of the code indices) blends the output to its luminance."""
        return self.draw(x, self.features(x, code), grey)

    @property
    def feature_channels(self) -> int:
        return self.config.channels[0]

    def features(self, x: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """The last hidden layer (``channels[0]`` at the input's size), normalised and activated:
        what :meth:`draw` and a sub-pixel head (models.networks.guided.FineHead) read."""
        inputs = [x]  # concatenated once: each concat is a full copy of everything before it
        if self.edges is not None:
            inputs.append(self.edges(x))
        if self.tones is not None:
            inputs.extend(self.tones.planes(x))
        if self.config.latent_codes:
            if code is None:
                raise ValueError("this UNet has a latent code: pass one (see code_vectors)")
            inputs.append(code[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3]).to(x.dtype))
        h = self.input_conv(torch.cat(inputs, dim=1))
        skips = []
        for i, blocks in enumerate(self.down_blocks):
            h = blocks(h)
            skips.append(h)
            if i < self.config.num_downsamples:
                h = self.downsamples[i](h)
        up = iter(self.upsamples)
        for j, blocks in enumerate(self.up_blocks):
            i = len(self.down_blocks) - 1 - j
            h = blocks(torch.cat([h, skips[i]], dim=1))
            if 0 < i <= self.config.num_downsamples:
                h = next(up)(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return F.silu(self.out_norm(h))

    def draw(self, x: torch.Tensor, features: torch.Tensor, grey: torch.Tensor | None = None) -> torch.Tensor:
        """The picture from :meth:`features` of ``x``."""
        out = self.out_conv(features)
        return to_grey(x + out if self.config.residual_output else out, grey)

    def code_vectors(self, indices: torch.Tensor) -> torch.Tensor:
        return self.quantizer.codebook[indices]

    def forward(
        self, x: torch.Tensor, target: torch.Tensor | None = None, latent: torch.Tensor | None = None,
        quantize: bool = True,
    ) -> UNetOutput:
        """Training/eval forward. The code comes from ``target`` (training, through the encoder
        and quantizer) or from the ``latent`` indices (inference). ``quantize=False`` feeds the
        encoder's continuous vector to the decoder (the VQ warm-up, see :func:`kmeans`)."""
        if not self.config.latent_codes:
            return UNetOutput(self.decode(x), x.new_zeros(()))
        if target is not None and not quantize:
            z = self.encoder(x, target)
            return UNetOutput(self.decode(x, z), x.new_zeros(()), None, z.detach())
        if target is not None:
            z = self.encoder(x, target)
            code, indices, vq_loss = self.quantizer(z)
            return UNetOutput(self.decode(x, code, self.grey_weights(indices)), vq_loss, indices, z.detach())
        if latent is None:
            raise ValueError("pass target (training) or latent indices (inference)")
        return UNetOutput(self.decode(x, self.code_vectors(latent), self.grey_weights(latent)), x.new_zeros(()), latent)


@torch.no_grad()
def kmeans(points: torch.Tensor, k: int, iters: int = 25, seed: int = 0) -> torch.Tensor:
    """k centroids of ``points`` (N × D) by k-means++ seeding and Lloyd steps.

    Used once after the VQ warm-up: the codebook starts on the clusters the encoder formed
    while it was trained without quantisation, so no code starts dead.
    """
    g = torch.Generator(device="cpu").manual_seed(seed)
    pts = points.detach().float().cpu()
    centroids = pts[torch.randint(len(pts), (1,), generator=g)]
    while len(centroids) < k:
        d2 = torch.cdist(pts, centroids).min(dim=1).values ** 2
        probs = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1 / len(d2))
        centroids = torch.cat([centroids, pts[torch.multinomial(probs, 1, generator=g)]])
    for _ in range(iters):
        assign = torch.cdist(pts, centroids).argmin(dim=1)
        for j in range(k):
            members = pts[assign == j]
            if len(members):
                centroids[j] = members.mean(dim=0)
    return centroids.to(points.device)
